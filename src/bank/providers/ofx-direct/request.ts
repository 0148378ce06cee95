import { addDays, type CalendarDate } from '../../../shared/dates';
import type { OfxDirectSettings } from './settings';

/**
 * Builds the statement download request: signon (SONRQ) plus one STMTTRNRQ or CCSTMTTRNRQ.
 *
 * @link OFX 1.6 spec §2.2.1 (v1 header), §2.5.1 (SONRQ), §11.4.2.1 (STMTRQ), §11.4.3.1 (CCSTMTRQ);
 *       OFX 2.1.1 spec §2.2 (XML header and processing instruction)
 */

export interface StatementRequest {
  settings: OfxDirectSettings;
  username: string;
  password: string;
  window: { from: CalendarDate; to: CalendarDate };
  now: Date;
  /** Transaction UID of the STMTTRNRQ (a fresh UUID per request; OFX §2.4.6). */
  trnUid: string;
  /** NEWFILEUID of the header. */
  fileUid: string;
}

/** An aggregate or a leaf of the request; leaves hold text. */
type Node = [name: string, content: string | Node[]];

/** `YYYYMMDDHHMMSS.XXX[+0:UTC]` (OFX §3.2.8.2). */
export function ofxDateTime(at: Date): string {
  const iso = at.toISOString(); // 2024-01-31T12:34:56.789Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}.${iso.slice(20, 23)}[+0:UTC]`;
}

/** `YYYYMMDD` of a calendar date. */
export function ofxDate(date: CalendarDate): string {
  return date.replace(/-/g, '');
}

/** SGML/XML text escaping; both formats accept the XML entities (OFX §2.3.2.1). */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function render(node: Node, closeLeaves: boolean, out: string[]): void {
  const [name, content] = node;
  if (typeof content === 'string') {
    out.push(`<${name}>${escape(content)}${closeLeaves ? `</${name}>` : ''}`);
    return;
  }
  out.push(`<${name}>`);
  for (const c of content) render(c, closeLeaves, out);
  out.push(`</${name}>`);
}

export function buildStatementRequest(req: StatementRequest): string {
  const s = req.settings;
  const signon: Node[] = [
    ['DTCLIENT', ofxDateTime(req.now)],
    ['USERID', req.username],
    ['USERPASS', req.password],
    ['LANGUAGE', s.language],
    [
      'FI',
      [
        ['ORG', s.org],
        ['FID', s.fid],
      ],
    ],
    ['APPID', s.appId],
    ['APPVER', s.appVer],
  ];
  // CLIENTUID (OFX 1.0.3+, §2.5.1); settings refuse it with version 102.
  if (s.clientUid) signon.push(['CLIENTUID', s.clientUid]);
  // DTEND: the day after the window, at midnight, so the window's last day is wholly inside
  // whether a server reads DTEND as inclusive or exclusive; overlap is deduplicated downstream.
  const inctran: Node = [
    'INCTRAN',
    [
      ['DTSTART', ofxDate(req.window.from)],
      ['DTEND', ofxDate(addDays(req.window.to, 1))],
      ['INCLUDE', 'Y'],
    ],
  ];
  const statement: Node =
    s.accountType === 'CREDITCARD'
      ? [
          'CREDITCARDMSGSRQV1',
          [
            [
              'CCSTMTTRNRQ',
              [
                ['TRNUID', req.trnUid],
                ['CCSTMTRQ', [['CCACCTFROM', [['ACCTID', s.accountId]]], inctran]],
              ],
            ],
          ],
        ]
      : [
          'BANKMSGSRQV1',
          [
            [
              'STMTTRNRQ',
              [
                ['TRNUID', req.trnUid],
                [
                  'STMTRQ',
                  [
                    [
                      'BANKACCTFROM',
                      [
                        ['BANKID', s.bankId ?? ''],
                        ['ACCTID', s.accountId],
                        ['ACCTTYPE', s.accountType],
                      ],
                    ],
                    inctran,
                  ],
                ],
              ],
            ],
          ],
        ];
  const ofx: Node = ['OFX', [['SIGNONMSGSRQV1', [['SONRQ', signon]]], statement]];
  const parts: string[] = [];
  if (s.version >= 200) {
    render(ofx, true, parts);
    return [
      '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
      `<?OFX OFXHEADER="200" VERSION="${s.version}" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="${req.fileUid}"?>`,
      // One element per line: some v2 servers (Vanguard) need the newlines.
      ...parts,
      '',
    ].join('\r\n');
  }
  render(ofx, s.closeElements, parts);
  return [
    'OFXHEADER:100',
    'DATA:OFXSGML',
    `VERSION:${s.version}`,
    'SECURITY:NONE',
    'ENCODING:USASCII',
    'CHARSET:1252',
    'COMPRESSION:NONE',
    'OLDFILEUID:NONE',
    `NEWFILEUID:${req.fileUid}`,
    '',
    ...parts,
    '',
  ].join('\r\n');
}

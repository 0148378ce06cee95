import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An OFX Direct Connect server simulator, written from the OFX 1.6 / 2.1.1 specs (signon §2.5,
 * bank statement §11.4, credit card statement §11.4.3, status codes §3.1.5) and the request bytes
 * ofxtools sends (docs/PROTOCOLS.md, "OFX Direct Connect"). It checks what a real FI checks (content type,
 * header, credentials, FI ORG/FID, CLIENTUID, dates, account, duplicate TRNUID), answers SGML to
 * a v1 request and XML to a v2 one, and can be told to fail in every way a real server does.
 *
 * It reads requests with its own regular expressions, independent of the client's parser.
 */

export interface OfxSimTransaction {
  fitid?: string;
  /** YYYY-MM-DD, written as DTPOSTED in the FI's zone. */
  posted: string;
  /** Exactly as the bank writes TRNAMT ("-12.34", "100,00", "+5"). */
  amount: string;
  type?: string;
  name?: string;
  memo?: string;
  checkNum?: string;
  refNum?: string;
  /** Written as DTAVAIL. */
  available?: string;
  correctFitid?: string;
  correctAction?: 'REPLACE' | 'DELETE';
  /** CURRENCY/CURSYM (the line is in a foreign currency). */
  currency?: string;
}

export interface OfxSimPending {
  date: string;
  amount: string;
  name?: string;
  memo?: string;
}

export interface OfxSimAccount {
  bankId?: string;
  acctId: string;
  type: 'CHECKING' | 'SAVINGS' | 'MONEYMRKT' | 'CREDITLINE' | 'CD' | 'CREDITCARD';
  currency: string;
  ledgerBalance: string;
  availableBalance?: string;
  transactions: OfxSimTransaction[];
  /** Sent as BANKTRANLISTP to v2.1.1+ requests only. */
  pending?: OfxSimPending[];
}

export type OfxFault =
  /** Signon STATUS with this code (15500, 15502, 15510...). */
  | { kind: 'signon'; code: number; severity?: string; message?: string }
  /** STMTTRNRS STATUS with this code (2000, 2003, 2019...), no STMTRS. */
  | { kind: 'statement'; code: number; severity?: string; message?: string }
  /** Signon and statement OK but no STMTRS (some FIs do this for an empty range). */
  | { kind: 'no-statement-body' }
  | {
      kind: 'http';
      status: number;
      body?: string;
      contentType?: string;
      headers?: Record<string, string>;
    }
  /** HTTP 200 with this exact body (HTML page, truncated OFX, garbage). */
  | { kind: 'raw'; body: string; contentType?: string }
  /** Accepts the request and never answers. */
  | { kind: 'hang' }
  /** Answers normally after `ms` (a server-side timer; the test does not sleep). */
  | { kind: 'slow'; ms: number };

export interface OfxSimOptions {
  username: string;
  password: string;
  org: string;
  fid: string;
  accounts: OfxSimAccount[];
  /** When set, CLIENTUID is required and must be one of these (authorised out of band). */
  authorisedClientUids?: string[];
  /** Server clock for DTSERVER. */
  now?: () => Date;
}

export interface ReceivedOfxRequest {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** First value of a leaf element, SGML or XML, entities decoded. */
function leafValue(body: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<\\r\\n]*)`).exec(body);
  if (!m) return undefined;
  return m[1].trim().replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function ofxNow(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}.${iso.slice(20, 23)}[0:GMT]`;
}

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

type N = [string, string | N[]];

function render(n: N, xml: boolean, out: string[]): void {
  if (typeof n[1] === 'string') {
    out.push(`<${n[0]}>${esc(n[1])}${xml ? `</${n[0]}>` : ''}`);
    return;
  }
  out.push(`<${n[0]}>`);
  for (const c of n[1]) render(c, xml, out);
  out.push(`</${n[0]}>`);
}

function status(code: number, severity?: string, message?: string): N {
  const parts: N[] = [
    ['CODE', String(code)],
    ['SEVERITY', severity ?? (code === 0 ? 'INFO' : 'ERROR')],
  ];
  if (message) parts.push(['MESSAGE', message]);
  return ['STATUS', parts];
}

const SIGNON_MESSAGES: Record<number, string> = {
  15500: 'Invalid user ID or password',
  15502: 'Your account has been locked. Please call customer service.',
  15510: 'Please verify this new client by following the instructions sent to you',
};

export class OfxServer {
  readonly requests: ReceivedOfxRequest[] = [];
  /** Faults consumed one per request, in order. */
  readonly faults: OfxFault[] = [];
  private server?: http.Server;
  private readonly seenTrnUids = new Set<string>();
  url = '';

  constructor(readonly options: OfxSimOptions) {}

  fail(...faults: OfxFault[]): this {
    this.faults.push(...faults);
    return this;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/ofx`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      this.requests.push({ headers: req.headers, body });
      const fault = this.faults.shift();
      if (fault?.kind === 'hang') return;
      const answer = () => this.answer(req, body, fault, res);
      if (fault?.kind === 'slow') setTimeout(answer, fault.ms);
      else answer();
    });
  }

  private answer(
    req: http.IncomingMessage,
    body: string,
    fault: OfxFault | undefined,
    res: http.ServerResponse,
  ): void {
    if (fault?.kind === 'http') {
      res.writeHead(fault.status, {
        'Content-Type': fault.contentType ?? 'text/html',
        ...(fault.headers ?? {}),
      });
      res.end(
        fault.body ??
          `<html><head><title>${fault.status} Error</title></head><body>Server error</body></html>`,
      );
      return;
    }
    if (fault?.kind === 'raw') {
      res.writeHead(200, { 'Content-Type': fault.contentType ?? 'application/x-ofx' });
      res.end(fault.body);
      return;
    }
    if (
      req.method !== 'POST' ||
      !/^application\/x-ofx/i.test(String(req.headers['content-type'] ?? ''))
    ) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('Server error occured.  Received HttpStatusCode of 400');
      return;
    }
    const v1 = /^\s*OFXHEADER:\s*100/.test(body);
    const v2 = /<\?OFX[^>]*OFXHEADER="200"/.test(body);
    if (!v1 && !v2) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('Server error occured.  Received HttpStatusCode of 400');
      return;
    }
    const version =
      (v1 ? /VERSION:\s*(\d+)/.exec(body) : /<\?OFX[^>]*VERSION="(\d+)"/.exec(body))?.[1] ?? '102';
    const xml = v2;
    const now = (this.options.now ?? (() => new Date()))();
    const signon = (code: number, message?: string, severity?: string): N => [
      'SIGNONMSGSRSV1',
      [
        [
          'SONRS',
          [
            status(code, severity, message),
            ['DTSERVER', ofxNow(now)],
            ['LANGUAGE', 'ENG'],
            [
              'FI',
              [
                ['ORG', this.options.org],
                ['FID', this.options.fid],
              ],
            ],
          ],
        ],
      ],
    ];
    const cc = /<CCSTMTTRNRQ>/.test(body);
    const trnUid = leafValue(body, 'TRNUID') ?? '0';
    const wrap = (inner: N[]): N =>
      cc
        ? ['CREDITCARDMSGSRSV1', [['CCSTMTTRNRS', [['TRNUID', trnUid], ...inner]]]]
        : ['BANKMSGSRSV1', [['STMTTRNRS', [['TRNUID', trnUid], ...inner]]]];
    const send = (nodes: N[]) => {
      const out: string[] = [];
      render(['OFX', nodes], xml, out);
      const head = xml
        ? `<?xml version="1.0" encoding="UTF-8" standalone="no"?>\r\n<?OFX OFXHEADER="200" VERSION="${version}" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\r\n`
        : `OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:${version}\r\nSECURITY:NONE\r\nENCODING:USASCII\r\nCHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n`;
      res.writeHead(200, { 'Content-Type': 'application/x-ofx' });
      res.end(Buffer.from(head + out.join(xml ? '\r\n' : '\r\n'), xml ? 'utf8' : 'latin1'));
    };

    // Signon (§2.5.1): fault, credentials, FI, CLIENTUID.
    if (fault?.kind === 'signon') {
      send([signon(fault.code, fault.message ?? SIGNON_MESSAGES[fault.code], fault.severity)]);
      return;
    }
    if (!/^\d{8}/.test(leafValue(body, 'DTCLIENT') ?? '')) {
      send([signon(2000, 'DTCLIENT missing or invalid')]);
      return;
    }
    if (
      leafValue(body, 'USERID') !== this.options.username ||
      leafValue(body, 'USERPASS') !== this.options.password
    ) {
      send([signon(15500, SIGNON_MESSAGES[15500])]);
      return;
    }
    if (
      leafValue(body, 'ORG') !== this.options.org ||
      leafValue(body, 'FID') !== this.options.fid
    ) {
      send([signon(13504, 'FI missing or invalid')]);
      return;
    }
    if (this.options.authorisedClientUids) {
      const uid = leafValue(body, 'CLIENTUID');
      if (!uid || !this.options.authorisedClientUids.includes(uid)) {
        send([signon(15510, SIGNON_MESSAGES[15510])]);
        return;
      }
    }
    if (fault?.kind === 'statement') {
      send([signon(0), wrap([status(fault.code, fault.severity, fault.message)])]);
      return;
    }
    if (this.seenTrnUids.has(trnUid)) {
      send([signon(0), wrap([status(2019, undefined, 'Duplicate request')])]);
      return;
    }
    this.seenTrnUids.add(trnUid);
    if (fault?.kind === 'no-statement-body') {
      send([signon(0), wrap([status(0)])]);
      return;
    }

    // Statement (§11.4.2.1 / §11.4.3.1).
    const acctId = leafValue(body, 'ACCTID');
    const account = this.options.accounts.find(
      (a) =>
        a.acctId === acctId &&
        (cc
          ? a.type === 'CREDITCARD'
          : a.type !== 'CREDITCARD' &&
            a.bankId === leafValue(body, 'BANKID') &&
            a.type === leafValue(body, 'ACCTTYPE')),
    );
    if (!account) {
      send([signon(0), wrap([status(2003, undefined, 'Account not found')])]);
      return;
    }
    const start = (leafValue(body, 'DTSTART') ?? '').slice(0, 8);
    const end = (leafValue(body, 'DTEND') ?? '').slice(0, 8);
    if (
      !/^\d{8}$/.test(start) ||
      !/^\d{8}$/.test(end) ||
      Number.isNaN(Date.parse(`${start.slice(0, 4)}-${start.slice(4, 6)}-${start.slice(6)}`))
    ) {
      send([signon(0), wrap([status(2020, undefined, 'Invalid date')])]);
      return;
    }
    if (start > end) {
      send([signon(0), wrap([status(2027, undefined, 'Invalid date range')])]);
      return;
    }
    const d = (iso: string) => iso.replace(/-/g, '');
    const lines: N[] = account.transactions
      // DTSTART inclusive, DTEND exclusive.
      .filter((t) => d(t.posted) >= start && d(t.posted) < end)
      .map((t) => {
        const f: N[] = [
          ['TRNTYPE', t.type ?? (t.amount.trim().startsWith('-') ? 'DEBIT' : 'CREDIT')],
          ['DTPOSTED', `${d(t.posted)}120000.000[-5:EST]`],
        ];
        if (t.available) f.push(['DTAVAIL', d(t.available)]);
        f.push(['TRNAMT', t.amount]);
        if (t.fitid !== undefined) f.push(['FITID', t.fitid]);
        if (t.correctFitid)
          f.push(['CORRECTFITID', t.correctFitid], ['CORRECTACTION', t.correctAction ?? 'REPLACE']);
        if (t.checkNum) f.push(['CHECKNUM', t.checkNum]);
        if (t.refNum) f.push(['REFNUM', t.refNum]);
        if (t.name) f.push(['NAME', t.name]);
        if (t.memo) f.push(['MEMO', t.memo]);
        if (t.currency)
          f.push([
            'CURRENCY',
            [
              ['CURRATE', '1.0'],
              ['CURSYM', t.currency],
            ],
          ]);
        return ['STMTTRN', f] as N;
      });
    const stmt: N[] = [
      ['CURDEF', account.currency],
      cc
        ? ['CCACCTFROM', [['ACCTID', account.acctId]]]
        : [
            'BANKACCTFROM',
            [
              ['BANKID', account.bankId ?? ''],
              ['ACCTID', account.acctId],
              ['ACCTTYPE', account.type],
            ],
          ],
      ['BANKTRANLIST', [['DTSTART', start], ['DTEND', end], ...lines]],
      [
        'LEDGERBAL',
        [
          ['BALAMT', account.ledgerBalance],
          ['DTASOF', ofxNow(now)],
        ],
      ],
    ];
    if (account.availableBalance !== undefined)
      stmt.push([
        'AVAILBAL',
        [
          ['BALAMT', account.availableBalance],
          ['DTASOF', ofxNow(now)],
        ],
      ]);
    if (Number(version) >= 211 && account.pending?.length) {
      stmt.push([
        'BANKTRANLISTP',
        [
          ['DTASOF', ofxNow(now)],
          ...account.pending.map((p) => {
            const f: N[] = [
              ['TRNTYPE', 'POS'],
              ['DTTRAN', d(p.date)],
              ['TRNAMT', p.amount],
            ];
            if (p.name) f.push(['NAME', p.name]);
            if (p.memo) f.push(['MEMO', p.memo]);
            return ['STMTTRNP', f] as N;
          }),
        ],
      ]);
    }
    send([signon(0), wrap([status(0), [cc ? 'CCSTMTRS' : 'STMTRS', stmt]])]);
  }
}

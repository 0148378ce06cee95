/**
 * Deterministic generator of large OFX bank statements for the parse benchmark and for load
 * tests: the same `(transactions, seed, version)` always gives the same bytes.
 *
 *   node dist/scripts/gen-ofx.js --count 1000000 --out /tmp/big.ofx [--seed 7] [--version 1|2]
 *
 * Dates are written at noon in a -5 offset so readers that convert to UTC (ofxparse) and readers
 * that keep the bank's day (booksync) agree on the calendar day.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { seededRandom } from '../src/bank/scheduler';

export interface GenOfxOptions {
  transactions: number;
  seed?: number;
  /** 1 = OFX 1.02 SGML (leaf tags left open), 2 = OFX 2.2 XML. */
  version?: 1 | 2;
  /** Account number written in BANKACCTFROM. */
  accountId?: string;
}

const PAYEES = [
  'SAFEWAY #1234',
  'SHELL OIL 5521',
  'AMAZON MKTPLACE',
  'ACME PAYROLL',
  'CITY WATER DEPT',
  'BLUE BOTTLE COFFEE',
  'COSTCO WHSE 0418',
  'PG AND E WEB',
  'UBER TRIP',
  'TARGET T-2271',
];
const MEMOS = [
  'POS PURCHASE',
  'DIRECT DEPOSIT',
  'ONLINE PAYMENT',
  'ATM WITHDRAWAL',
  'RECURRING PAYMENT',
  'CHECK CARD',
];
const TYPES = ['POS', 'DIRECTDEP', 'PAYMENT', 'ATM', 'DEBIT', 'CREDIT'];

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** The calendar day `index` days after 2020-01-01, as YYYYMMDD. */
function dayString(index: number): string {
  const d = new Date(Date.UTC(2020, 0, 1) + index * 86_400_000);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}`;
}

/** Writes the file; returns the number of bytes written. */
export function generateOfx(path: string, options: GenOfxOptions): number {
  const count = options.transactions;
  const rand = seededRandom(options.seed ?? 1);
  const v2 = options.version === 2;
  const close = (tag: string): string => (v2 ? `</${tag}>` : '');
  const fd = openSync(path, 'w');
  let bytes = 0;
  let buf = '';
  const emit = (text: string): void => {
    buf += text;
    if (buf.length >= 1 << 20) {
      bytes += writeSync(fd, buf);
      buf = '';
    }
  };
  const days = Math.max(1, Math.ceil(count / 200));
  try {
    if (v2) {
      emit(
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n',
      );
    } else {
      emit(
        'OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\nCHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n',
      );
    }
    emit(
      `<OFX>\n<SIGNONMSGSRSV1>\n<SONRS>\n<STATUS>\n<CODE>0${close('CODE')}\n<SEVERITY>INFO${close('SEVERITY')}\n</STATUS>\n<DTSERVER>20240101120000[-5:EST]${close('DTSERVER')}\n<LANGUAGE>ENG${close('LANGUAGE')}\n</SONRS>\n</SIGNONMSGSRSV1>\n`,
    );
    emit(
      `<BANKMSGSRSV1>\n<STMTTRNRS>\n<TRNUID>1${close('TRNUID')}\n<STATUS>\n<CODE>0${close('CODE')}\n<SEVERITY>INFO${close('SEVERITY')}\n</STATUS>\n<STMTRS>\n<CURDEF>USD${close('CURDEF')}\n`,
    );
    emit(
      `<BANKACCTFROM>\n<BANKID>121000248${close('BANKID')}\n<ACCTID>${options.accountId ?? '9990001234'}${close('ACCTID')}\n<ACCTTYPE>CHECKING${close('ACCTTYPE')}\n</BANKACCTFROM>\n`,
    );
    emit(
      `<BANKTRANLIST>\n<DTSTART>${dayString(0)}120000[-5:EST]${close('DTSTART')}\n<DTEND>${dayString(days)}120000[-5:EST]${close('DTEND')}\n`,
    );
    let balance = 0;
    for (let i = 0; i < count; i++) {
      const cents = Math.floor(rand() * 200_000) + 1;
      const negative = rand() < 0.8;
      const amount = negative ? -cents : cents;
      balance += amount;
      const abs = Math.abs(amount);
      const amountText = `${amount < 0 ? '-' : ''}${Math.floor(abs / 100)}.${pad(abs % 100, 2)}`;
      const day = dayString(Math.floor((i * days) / count));
      const payee = PAYEES[Math.floor(rand() * PAYEES.length)];
      const memo = MEMOS[Math.floor(rand() * MEMOS.length)];
      const type = TYPES[Math.floor(rand() * TYPES.length)];
      emit(
        `<STMTTRN>\n<TRNTYPE>${type}${close('TRNTYPE')}\n<DTPOSTED>${day}120000[-5:EST]${close('DTPOSTED')}\n<TRNAMT>${amountText}${close('TRNAMT')}\n` +
          `<FITID>${day}${pad(i, 8)}${close('FITID')}\n<NAME>${payee}${close('NAME')}\n<MEMO>${memo} ${pad(i % 100000, 5)}${close('MEMO')}\n</STMTTRN>\n`,
      );
    }
    const absBal = Math.abs(balance);
    const balText = `${balance < 0 ? '-' : ''}${Math.floor(absBal / 100)}.${pad(absBal % 100, 2)}`;
    emit(
      `</BANKTRANLIST>\n<LEDGERBAL>\n<BALAMT>${balText}${close('BALAMT')}\n<DTASOF>${dayString(days)}120000[-5:EST]${close('DTASOF')}\n</LEDGERBAL>\n</STMTRS>\n</STMTTRNRS>\n</BANKMSGSRSV1>\n</OFX>\n`,
    );
    bytes += writeSync(fd, buf);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

function main(argv: string[]): void {
  const arg = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    return at === -1 ? undefined : argv[at + 1];
  };
  const out = arg('--out');
  const count = Number(arg('--count') ?? '10000');
  if (!out || !Number.isInteger(count) || count < 0) {
    process.stderr.write('usage: gen-ofx --count N --out FILE [--seed S] [--version 1|2]\n');
    process.exitCode = 2;
    return;
  }
  const bytes = generateOfx(out, {
    transactions: count,
    seed: Number(arg('--seed') ?? '1'),
    version: arg('--version') === '2' ? 2 : 1,
  });
  process.stdout.write(`${JSON.stringify({ out, transactions: count, bytes })}\n`);
}

if (require.main === module) main(process.argv.slice(2));

import { decimalAmount } from './common';

/**
 * Value readers of the OFX reader: which elements are leaves, dates and amounts as banks write
 * them (docs/FORMATS.md §OFX "Dates" and "Amounts").
 */

/** Elements that are leaves even when empty (`<FITID>` straight followed by `<NAME>` in 1.x). */
export const KNOWN_LEAVES = new Set([
  'TRNTYPE',
  'DTPOSTED',
  'DTUSER',
  'DTAVAIL',
  'DTTRAN',
  'DTEXPIRE',
  'TRNAMT',
  'FITID',
  'CORRECTFITID',
  'CORRECTACTION',
  'SRVRTID',
  'CHECKNUM',
  'REFNUM',
  'SIC',
  'PAYEEID',
  'NAME',
  'EXTDNAME',
  'MEMO',
  'CURSYM',
  'CURRATE',
  'INV401KSOURCE',
  'CURDEF',
  'BANKID',
  'BRANCHID',
  'ACCTID',
  'ACCTTYPE',
  'ACCTKEY',
  'DTSTART',
  'DTEND',
  'BALAMT',
  'DTASOF',
  'CODE',
  'SEVERITY',
  'MESSAGE',
  'DTSERVER',
  'LANGUAGE',
  'TRNUID',
  'ORG',
  'FID',
  'MKTGINFO',
  'DTPROFUP',
  'DTACCTUP',
  'CLTCOOKIE',
  'ADDR1',
  'ADDR2',
  'ADDR3',
  'CITY',
  'STATE',
  'POSTALCODE',
  'COUNTRY',
  'PHONE',
  'INTU.BID',
  'INTU.USERID',
]);

const OFX_DATE_TAIL =
  /^(?:\d{2,6})?(?:[.:]\d{1,9})?\s*(?:\[?\s*[+-]?\d*(?:[.:]\d+)?\s*(?::\s*[A-Za-z_/]+)?\s*\]?)?$/;
/** The common tail `HHMMSS[.XXX][[-5:EST]]` checked without a regular expression. */
const SIMPLE_TAIL = /^\d{6}(?:\.\d{3})?(?:\[[+-]?\d{1,2}(?:\.\d{1,2})?:[A-Z]{1,5}\])?$/;

/**
 * YYYYMMDD of an OFX date as the number YYYYMMDD; 0 for the all-zero "null" date; -1 when the
 * text is not an OFX date at all (`YYYYMMDD[HHMMSS[.XXX]][[±h[.mm]][:TZ]]` in any real spelling).
 */
export function ofxDateDigits(t: string): number {
  if (t.length < 8) return -1;
  let ymd = 0;
  for (let i = 0; i < 8; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    ymd = ymd * 10 + (c - 48);
  }
  if (t.length === 8) return ymd;
  const tail = t.slice(8);
  if (!SIMPLE_TAIL.test(tail) && !OFX_DATE_TAIL.test(tail)) return -1;
  return ymd;
}

/**
 * OFX amounts: signed, `.` or `,` decimal, tolerated `+`, spaces, currency symbols, `null` (read
 * as zero). Throws the underlying InvalidValueError for anything else.
 */
export function ofxAmount(text: string, currency: string): number {
  try {
    return decimalAmount(text, currency);
  } catch {
    // fall through to the tolerant reading below
  }
  const t = text.replace(/[$€£¥\s]/g, '');
  if (/^[+-]?null$/i.test(t)) return 0;
  return decimalAmount(t, currency);
}

export function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return false;
  }
  return true;
}

import type { BankAccountStatement, BankBalance, BankTransaction } from '../../provider';
import { calendarDate, type CalendarDate } from '../../../shared/dates';
import { currencyCode, parseAmount } from '../../../shared/money';
import { child, children, leaf, type OfxDocument, type OfxElement } from './sgml';
import type { OfxStatus } from './status';

/**
 * Reads the statement parts of a parsed OFX response into booksync's normalised shape.
 *
 * @link OFX 1.6 spec §11.4.2.2 (STMTRS), §11.4.3.2 (CCSTMTRS), §11.4.4.1 (STMTTRN), §3.2.8 (dates),
 *       §3.2.9 (amounts); OFX 2.1.1 spec §11.4.2.3.2 (BANKTRANLISTP / STMTTRNP, pending)
 */

/** A line or field the reader cannot use; the caller turns it into a MalformedStatementError. */
export class OfxContentError extends Error {}

/** One `*TRNRS` wrapper of the response. */
export interface OfxStatementPart {
  kind: 'bank' | 'creditcard';
  trnUid?: string;
  status?: OfxStatus;
  /** STMTRS or CCSTMTRS; absent when the status failed or the bank had nothing to say. */
  body?: OfxElement;
}

export function readStatus(wrapper: OfxElement | undefined): OfxStatus | undefined {
  const status = child(wrapper, 'STATUS');
  if (!status) return undefined;
  const code = leaf(status, 'CODE');
  if (code === undefined || !/^\d+$/.test(code)) throw new OfxContentError(`STATUS has no numeric CODE (${code ?? 'missing'})`);
  return { code: Number(code), severity: leaf(status, 'SEVERITY') ?? 'ERROR', message: leaf(status, 'MESSAGE') };
}

export function signonStatus(doc: OfxDocument): OfxStatus | undefined {
  return readStatus(child(doc.root, 'SIGNONMSGSRSV1/SONRS'));
}

export function statementParts(doc: OfxDocument): OfxStatementPart[] {
  const parts: OfxStatementPart[] = [];
  for (const set of children(doc.root, 'BANKMSGSRSV1')) {
    for (const trn of children(set, 'STMTTRNRS')) {
      parts.push({ kind: 'bank', trnUid: leaf(trn, 'TRNUID'), status: readStatus(trn), body: child(trn, 'STMTRS') });
    }
  }
  for (const set of children(doc.root, 'CREDITCARDMSGSRSV1')) {
    for (const trn of children(set, 'CCSTMTTRNRS')) {
      parts.push({ kind: 'creditcard', trnUid: leaf(trn, 'TRNUID'), status: readStatus(trn), body: child(trn, 'CCSTMTRS') });
    }
  }
  return parts;
}

/**
 * The calendar day of an OFX date-time `YYYYMMDD[HHMMSS[.XXX][[±h[.mm]:TZ]]]`: the digits as the
 * FI wrote them, in the FI's own zone, never shifted (protocols.md §1 "Dates"). All-zero dates
 * mean "no date".
 */
export function ofxCalendarDate(text: string | undefined, field: string): CalendarDate | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d{4})(\d{2})(\d{2})/.exec(text);
  if (!m) throw new OfxContentError(`${field} '${text}' is not an OFX date (YYYYMMDD...)`);
  if (m[1] === '0000') return undefined;
  try {
    return calendarDate(Number(m[1]), Number(m[2]), Number(m[3]));
  } catch {
    throw new OfxContentError(`${field} '${text}' is not a real date`);
  }
}

/** OFX amounts use `.` or `,` as the radix and no grouping (§3.2.9.1); `null` is seen for zero. */
function amount(text: string | undefined, currency: string, field: string, warn: (m: string) => void): number {
  if (text === undefined) throw new OfxContentError(`${field} is missing`);
  const t = text.trim();
  if (/^[-+]?null$/i.test(t)) {
    warn(`${field} '${t}' read as 0`);
    return 0;
  }
  try {
    return parseAmount(t, currency);
  } catch (err) {
    throw new OfxContentError(`${field} '${t}': ${(err as Error).message}`);
  }
}

function lineCurrency(trn: OfxElement, statementCurrency: string): string {
  // CURRENCY: TRNAMT is in CURSYM. ORIGCURRENCY: TRNAMT is already in CURDEF (§5.2).
  const sym = leaf(trn, 'CURRENCY/CURSYM');
  if (!sym) return statementCurrency;
  try {
    return currencyCode(sym);
  } catch {
    throw new OfxContentError(`CURRENCY/CURSYM '${sym}' is not an ISO 4217 code`);
  }
}

function readPosted(trn: OfxElement, currency: string, warn: (m: string) => void): BankTransaction {
  const fitid = leaf(trn, 'FITID')?.trim();
  const label = fitid ? `STMTTRN ${fitid}` : 'a STMTTRN without FITID';
  const bookingDate = ofxCalendarDate(leaf(trn, 'DTPOSTED'), `${label}: DTPOSTED`);
  if (!bookingDate) throw new OfxContentError(`${label}: DTPOSTED is missing`);
  const cur = lineCurrency(trn, currency);
  const name = leaf(trn, 'NAME') ?? leaf(trn, 'PAYEE/NAME');
  const out: BankTransaction = {
    bookingDate,
    amount: amount(leaf(trn, 'TRNAMT'), cur, `${label}: TRNAMT`, warn),
    currency: cur,
    pending: false,
  };
  if (fitid) out.providerId = fitid;
  const valueDate = ofxCalendarDate(leaf(trn, 'DTAVAIL'), `${label}: DTAVAIL`);
  if (valueDate) out.valueDate = valueDate;
  const payee = name ?? leaf(trn, 'EXTDNAME');
  if (payee) out.payee = payee;
  const memo = leaf(trn, 'MEMO');
  if (memo) out.memo = memo;
  const ref = leaf(trn, 'REFNUM') ?? leaf(trn, 'SRVRTID');
  if (ref) out.reference = ref;
  const check = leaf(trn, 'CHECKNUM');
  if (check) out.checkNumber = check;
  const correct = leaf(trn, 'CORRECTFITID');
  if (correct) {
    const action = (leaf(trn, 'CORRECTACTION') ?? '').toUpperCase();
    if (action !== 'REPLACE' && action !== 'DELETE') throw new OfxContentError(`${label}: CORRECTACTION '${action}' is not REPLACE or DELETE`);
    out.corrects = { providerId: correct, action };
  }
  return out;
}

/** STMTTRNP (OFX 2.1.1+): no FITID, DTTRAN instead of DTPOSTED. */
function readPending(trn: OfxElement, currency: string, warn: (m: string) => void): BankTransaction {
  const bookingDate = ofxCalendarDate(leaf(trn, 'DTTRAN'), 'STMTTRNP: DTTRAN');
  if (!bookingDate) throw new OfxContentError('STMTTRNP: DTTRAN is missing');
  const cur = lineCurrency(trn, currency);
  const out: BankTransaction = { bookingDate, amount: amount(leaf(trn, 'TRNAMT'), cur, 'STMTTRNP: TRNAMT', warn), currency: cur, pending: true };
  const payee = leaf(trn, 'NAME') ?? leaf(trn, 'EXTDNAME');
  if (payee) out.payee = payee;
  const memo = leaf(trn, 'MEMO');
  if (memo) out.memo = memo;
  return out;
}

function balance(el: OfxElement | undefined, kind: BankBalance['kind'], currency: string, warn: (m: string) => void): BankBalance | undefined {
  if (!el) return undefined;
  const text = leaf(el, 'BALAMT');
  const date = ofxCalendarDate(leaf(el, 'DTASOF'), `${el.name}/DTASOF`);
  if (text === undefined || !date) {
    warn(`${el.name} without BALAMT or DTASOF ignored`);
    return undefined;
  }
  return { amount: amount(text, currency, `${el.name}/BALAMT`, warn), currency, date, kind };
}

/** Reads STMTRS / CCSTMTRS into a statement. */
export function readStatement(body: OfxElement, includePending: boolean, warn: (m: string) => void): BankAccountStatement {
  const curdef = leaf(body, 'CURDEF');
  if (!curdef) throw new OfxContentError(`${body.name} has no CURDEF`);
  let currency: string;
  try {
    currency = currencyCode(curdef);
  } catch {
    throw new OfxContentError(`CURDEF '${curdef}' is not an ISO 4217 code`);
  }
  const from = child(body, 'BANKACCTFROM') ?? child(body, 'CCACCTFROM');
  const accountId = leaf(from, 'ACCTID');
  if (!accountId) throw new OfxContentError(`${body.name} has no ACCTID`);
  const list = child(body, 'BANKTRANLIST');
  const transactions = children(list, 'STMTTRN').map((t) => readPosted(t, currency, warn));
  if (includePending) {
    for (const p of children(child(body, 'BANKTRANLISTP'), 'STMTTRNP')) transactions.push(readPending(p, currency, warn));
  }
  const balances = [
    balance(child(body, 'LEDGERBAL'), 'ledger', currency, warn),
    balance(child(body, 'AVAILBAL'), 'available', currency, warn),
  ].filter((b): b is BankBalance => b !== undefined);
  const statement: BankAccountStatement = { accountId, currency, transactions, balances };
  const bankId = leaf(from, 'BANKID');
  if (bankId) statement.bankId = bankId;
  const start = ofxCalendarDate(leaf(list, 'DTSTART'), 'BANKTRANLIST/DTSTART');
  const end = ofxCalendarDate(leaf(list, 'DTEND'), 'BANKTRANLIST/DTEND');
  if (start) statement.from = start;
  if (end) statement.to = end;
  return statement;
}

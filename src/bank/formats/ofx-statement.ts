import type { BankBalance, BankTransaction } from '../provider';
import { isCurrency } from '../../shared/money';
import type { CalendarDate } from '../../shared/dates';
import { bankDate, cleanText, malformed, type StatementWarningCode } from './common';
import { ofxAmount, ofxDateDigits } from './ofx-values';

/**
 * The statement side of the OFX reader (ofx-parser.ts): the drafts its elements fill and the
 * transactions, balances and currencies built from them. docs/FORMATS.md §OFX
 *
 * @link https://www.financialdataexchange.org/ (OFX 2.2 specification, §11.4 STMTTRN)
 */

/** What the builders need of the parser: the file, the fallback currency, warnings and errors. */
export interface OfxBuildContext {
  file: string;
  defaultCurrency?: string;
  /** A warning at `line` (where known) of the statement being read. */
  warn: (code: StatementWarningCode, line: number | undefined, text: string) => void;
  fail: (line: number, field: string, why: string) => Error;
}

export interface TxDraft {
  line: number;
  pending: boolean;
  trnType?: string;
  dtPosted?: string;
  dtPostedLine: number;
  dtAvail?: string;
  dtTran?: string;
  trnAmt?: string;
  trnAmtLine: number;
  fitId?: string;
  correctFitId?: string;
  correctAction?: string;
  checkNum?: string;
  refNum?: string;
  name?: string;
  payeeName?: string;
  extdName?: string;
  memo?: string;
  curSym?: string;
  currencyKind?: 'CURRENCY' | 'ORIGCURRENCY';
}

export interface StatementDraft {
  line: number;
  kind: 'STMTRS' | 'CCSTMTRS';
  currency?: string;
  /** CURDEF was present but empty (read as missing). */
  emptyCurdef?: boolean;
  accountId?: string;
  bankId?: string;
  from?: CalendarDate;
  to?: CalendarDate;
  balances: BankBalance[];
  count: number;
}

export interface BalanceDraft {
  kind: 'ledger' | 'available';
  line: number;
  amount?: string;
  date?: string;
}

/** A leaf directly inside STMTTRN / STMTTRNP, kept raw until the transaction closes. */
export function setTransactionLeaf(tx: TxDraft, name: string, raw: string, line: number): void {
  const v = raw.trim();
  switch (name) {
    case 'TRNTYPE':
      tx.trnType = v;
      break;
    case 'DTPOSTED':
      tx.dtPosted = v;
      tx.dtPostedLine = line;
      break;
    case 'DTTRAN':
      tx.dtTran = v;
      tx.dtPostedLine = line;
      break;
    case 'DTAVAIL':
      tx.dtAvail = v;
      break;
    case 'TRNAMT':
      tx.trnAmt = v;
      tx.trnAmtLine = line;
      break;
    case 'FITID':
      tx.fitId = v;
      break;
    case 'CORRECTFITID':
      tx.correctFitId = v;
      break;
    case 'CORRECTACTION':
      tx.correctAction = v.toUpperCase();
      break;
    case 'CHECKNUM':
      tx.checkNum = v;
      break;
    case 'REFNUM':
      tx.refNum = v;
      break;
    case 'NAME':
      tx.name = v;
      break;
    case 'EXTDNAME':
      tx.extdName = v;
      break;
    case 'MEMO':
      tx.memo = v;
      break;
    default:
      break;
  }
}

/**
 * The statement's currency. Without a usable CURDEF (missing or empty) it is the currency the
 * first line names (its CURRENCY or ORIGCURRENCY CURSYM), else the connection's, with a warning.
 */
export function statementCurrency(
  ctx: OfxBuildContext,
  st: StatementDraft,
  lineCurrency?: { symbol: string; line: number },
): string {
  if (st.currency !== undefined) return st.currency;
  const missing = `${st.kind} has ${st.emptyCurdef ? 'an empty' : 'no'} CURDEF`;
  if (lineCurrency !== undefined) {
    if (!isCurrency(lineCurrency.symbol))
      throw ctx.fail(
        lineCurrency.line,
        'CURSYM',
        `'${lineCurrency.symbol}' is not an ISO 4217 currency`,
      );
    st.currency = lineCurrency.symbol;
    ctx.warn(
      'BANK_WARN_CURRENCY_ASSUMED',
      st.line,
      `${missing}; read as ${st.currency}, the currency its first line names (CURSYM)`,
    );
    return st.currency;
  }
  const fallback = ctx.defaultCurrency?.toUpperCase();
  if (fallback !== undefined && isCurrency(fallback)) {
    st.currency = fallback;
    ctx.warn(
      'BANK_WARN_CURRENCY_ASSUMED',
      st.line,
      `${missing}; assumed ${fallback} (the connection's currency)`,
    );
    return fallback;
  }
  throw ctx.fail(
    st.line,
    'CURDEF',
    `${missing}, its lines name no currency (CURSYM) and no default currency is configured`,
  );
}

export function buildTransaction(
  ctx: OfxBuildContext,
  st: StatementDraft,
  d: TxDraft,
): BankTransaction {
  const currencyOfStatement = statementCurrency(
    ctx,
    st,
    d.curSym ? { symbol: d.curSym, line: d.line } : undefined,
  );
  // CURRENCY means the amounts are in CURSYM; ORIGCURRENCY means they are in CURDEF already.
  let currency = currencyOfStatement;
  if (d.currencyKind === 'CURRENCY' && d.curSym) {
    if (!isCurrency(d.curSym))
      throw ctx.fail(d.line, 'CURSYM', `'${d.curSym}' is not an ISO 4217 currency`);
    currency = d.curSym;
  }
  const dateText = d.pending ? (d.dtTran ?? d.dtPosted) : d.dtPosted;
  const dateField = d.pending ? 'DTTRAN' : 'DTPOSTED';
  if (dateText === undefined || dateText === '')
    throw ctx.fail(d.line, dateField, 'transaction without a posting date');
  const bookingDate = ofxFieldDate(ctx, dateText, d.dtPostedLine, dateField, true)!;
  if (d.trnAmt === undefined) throw ctx.fail(d.line, 'TRNAMT', 'transaction without an amount');
  const amount = ofxFieldAmount(ctx, d.trnAmt, currency, d.trnAmtLine, 'TRNAMT');
  const tx: BankTransaction = { bookingDate, amount, currency, pending: d.pending };
  if (d.fitId) tx.providerId = d.fitId;
  if (d.dtAvail) {
    const v = ofxFieldDate(ctx, d.dtAvail, d.line, 'DTAVAIL', false);
    if (v !== undefined) tx.valueDate = v;
  }
  const payee = cleanText(d.name) ?? cleanText(d.payeeName) ?? cleanText(d.extdName);
  if (payee !== undefined) tx.payee = payee;
  const memo = cleanText(d.memo);
  if (memo !== undefined) tx.memo = memo;
  if (d.checkNum) tx.checkNumber = d.checkNum;
  if (d.refNum) tx.reference = d.refNum;
  if (d.correctFitId) {
    let action: 'REPLACE' | 'DELETE' = 'REPLACE';
    if (d.correctAction === 'DELETE') action = 'DELETE';
    else if (d.correctAction !== 'REPLACE') {
      ctx.warn(
        'BANK_WARN_CORRECTION',
        d.line,
        `CORRECTFITID ${d.correctFitId} without a valid CORRECTACTION ('${d.correctAction ?? ''}'); treated as REPLACE`,
      );
    }
    tx.corrects = { providerId: d.correctFitId, action };
  }
  return tx;
}

export function buildBalance(
  ctx: OfxBuildContext,
  b: BalanceDraft,
  st: StatementDraft,
): BankBalance | undefined {
  const what = b.kind === 'ledger' ? 'LEDGERBAL' : 'AVAILBAL';
  if (b.amount === undefined || b.amount === '') {
    ctx.warn('BANK_WARN_BALANCE_IGNORED', b.line, `${what} has an empty BALAMT; balance ignored`);
    return undefined;
  }
  const date =
    b.date !== undefined ? ofxFieldDate(ctx, b.date, b.line, 'DTASOF', false) : undefined;
  if (date === undefined) {
    ctx.warn('BANK_WARN_BALANCE_IGNORED', b.line, `${what} has no usable DTASOF; balance ignored`);
    return undefined;
  }
  const currency = statementCurrency(ctx, st);
  return {
    amount: ofxFieldAmount(ctx, b.amount, currency, b.line, 'BALAMT'),
    currency,
    date,
    kind: b.kind,
  };
}

export function ofxFieldAmount(
  ctx: OfxBuildContext,
  text: string,
  currency: string,
  line: number,
  field: string,
): number {
  try {
    return ofxAmount(text, currency);
  } catch (err) {
    throw malformed({ file: ctx.file, line, field }, `'${text}' is not an amount`, err);
  }
}

/**
 * `YYYYMMDD[HHMMSS[.XXX]][[±h[.mm]][:TZ]]` in any of its real-world spellings. The calendar
 * day is the first eight digits: the bank's own day. `00000000` is "no date" (undefined).
 */
export function ofxFieldDate(
  ctx: OfxBuildContext,
  text: string,
  line: number,
  field: string,
  required: boolean,
): CalendarDate | undefined {
  const t = text.trim();
  const ymd = ofxDateDigits(t);
  if (ymd === 0) {
    if (required) throw ctx.fail(line, field, `'${t}' is a null date`);
    return undefined;
  }
  const date =
    ymd > 0
      ? bankDate(Math.floor(ymd / 10000), Math.floor(ymd / 100) % 100, ymd % 100, (w) =>
          ctx.warn('BANK_WARN_DATE', line, `${field}: ${w}`),
        )
      : undefined;
  if (date === undefined) {
    if (required)
      throw ctx.fail(line, field, `'${t}' is not an OFX date (YYYYMMDD[HHMMSS[.XXX][TZ]])`);
    ctx.warn('BANK_WARN_DATE', line, `${field} '${t}' is not a date; ignored`);
  }
  return date;
}

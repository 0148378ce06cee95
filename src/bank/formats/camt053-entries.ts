import type { BankBalance, BankTransaction } from '../provider';
import { isCurrency } from '../../shared/money';
import type { CalendarDate } from '../../shared/dates';
import { bankDate, cleanText, decimalAmount, malformed, type StatementWarningCode } from './common';

/**
 * The statement side of the camt.053 reader (camt053-reader.ts): the drafts its elements fill,
 * the entries turned into lines and the ISO 20022 values they are read from.
 * docs/FORMATS.md §camt.053
 */

/** What the builders need of the reader: the file, warnings and where a finished line goes. */
export interface CamtBuildContext {
  file: string;
  /** A warning at `line` of the statement being read. */
  warn: (code: StatementWarningCode, line: number, text: string) => void;
  emit: (st: StatementDraft, tx: BankTransaction, line: number) => void;
}

export interface Party {
  name?: string;
  iban?: string;
}

export interface TxDetails {
  line: number;
  amount?: string;
  currency?: string;
  cdtDbt?: string;
  acctSvcrRef?: string;
  endToEndId?: string;
  creditorRef?: string;
  ustrd: string[];
  addtlTxInf?: string;
  /** RtrInf/Rsn/Cd (or Prtry): why the payment came back. */
  returnReason?: string;
  debtor: Party;
  creditor: Party;
}

export interface EntryDraft {
  line: number;
  amount?: string;
  amountLine: number;
  currency?: string;
  cdtDbt?: string;
  status?: string;
  bookingDate?: string;
  valueDate?: string;
  acctSvcrRef?: string;
  addtlNtryInf?: string;
  reversal?: boolean;
  details: TxDetails[];
}

export interface BalanceDraft {
  line: number;
  code?: string;
  amount?: string;
  currency?: string;
  cdtDbt?: string;
  date?: string;
}

export interface StatementDraft {
  line: number;
  id?: string;
  accountId?: string;
  bankId?: string;
  currency?: string;
  from?: string;
  to?: string;
  balances: BankBalance[];
  count: number;
  /** Currency of the first line: the statement's currency when neither Acct/Ccy nor a balance says. */
  firstCurrency?: string;
  /** Sum of the booked entries (minor units), for opening + entries = closing. */
  booked: number;
  opening?: number;
  openingCode?: 'OPBD' | 'PRCD';
  closing?: number;
  /** FrToDt as calendar days, once read (entries outside it are warned about). */
  period?: { from?: CalendarDate; to?: CalendarDate };
  outside: number;
}

/** A booked or pending Ntry as one line, or as its TxDtls lines when they add up to it. */
export function finishEntry(ctx: CamtBuildContext, st: StatementDraft, e: EntryDraft): void {
  const status = (e.status ?? 'BOOK').toUpperCase();
  if (status === 'INFO') {
    ctx.warn('BANK_WARN_IGNORED', e.line, 'Ntry with status INFO is not a booking; skipped');
    return;
  }
  const pending = status === 'PDNG';
  const currency = camtCurrency(ctx, e.currency ?? st.currency, e.amountLine, 'Ntry/Amt/@Ccy');
  const amount = camtSigned(ctx, e.amount, e.cdtDbt, currency, e.amountLine, 'Ntry');
  const bookingDate = camtDate(
    ctx,
    e.bookingDate ?? e.valueDate,
    e.line,
    e.bookingDate !== undefined ? 'Ntry/BookgDt' : 'Ntry/BookgDt or ValDt',
  );
  const valueDate =
    e.valueDate !== undefined ? camtDate(ctx, e.valueDate, e.line, 'Ntry/ValDt') : undefined;
  if (!pending) {
    st.booked += amount;
    checkPeriod(ctx, st, bookingDate);
  }
  // A literal object with every field, not a spread of a shared base plus the amount: V8 copies
  // a spread with added fields through its slow path, which was a tenth of the parse.
  const line = (amount: number, currency: string) => ({
    bookingDate,
    valueDate,
    pending,
    amount,
    currency,
  });
  const details = e.details;
  if (details.length > 1 && details.every((d) => d.amount !== undefined)) {
    const parts = details.map((d) => {
      const c = camtCurrency(ctx, d.currency ?? currency, d.line, 'TxDtls/Amt/@Ccy');
      return {
        d,
        currency: c,
        amount: camtSigned(ctx, d.amount, d.cdtDbt ?? e.cdtDbt, c, d.line, 'TxDtls'),
      };
    });
    const sameCurrency = parts.every((x) => x.currency === currency);
    const sum = parts.reduce((s, x) => s + x.amount, 0);
    if (sameCurrency && sum === amount) {
      parts.forEach((x, i) => {
        const id =
          x.d.acctSvcrRef ??
          (e.acctSvcrRef !== undefined ? `${e.acctSvcrRef}/${i + 1}` : undefined);
        ctx.emit(
          st,
          camtTransaction(line(x.amount, currency), id, x.d, e, x.amount >= 0),
          x.d.line,
        );
      });
      return;
    }
    ctx.warn(
      'BANK_WARN_TOTALS_MISMATCH',
      e.line,
      "batch entry's TxDtls amounts do not add up to the entry amount; booked as one line",
    );
  }
  const single = details.length === 1 ? details[0] : undefined;
  const tx = camtTransaction(
    line(amount, currency),
    e.acctSvcrRef ?? single?.acctSvcrRef,
    single,
    e,
    amount >= 0,
  );
  if (details.length > 1) {
    const memo = details
      .map((d) => cleanText(d.ustrd.join(' ')) ?? cleanText(d.addtlTxInf))
      .filter((m) => m !== undefined)
      .join('; ');
    if (memo !== '') tx.memo = memo;
    tx.memo = cleanText(`${e.addtlNtryInf ?? ''} ${tx.memo ?? ''}`) ?? `batch of ${details.length}`;
    delete tx.payee;
    delete tx.counterpartyName;
    delete tx.counterpartyIban;
    delete tx.reference;
  }
  ctx.emit(st, tx, e.line);
}

export function camtTransaction(
  base: {
    bookingDate: CalendarDate;
    valueDate?: CalendarDate;
    pending: boolean;
    amount: number;
    currency: string;
  },
  providerId: string | undefined,
  d: TxDetails | undefined,
  e: EntryDraft,
  credit: boolean,
): BankTransaction {
  const party = d ? (credit ? d.debtor : d.creditor) : undefined;
  const endToEnd =
    d?.endToEndId && d.endToEndId.toUpperCase() !== 'NOTPROVIDED' ? d.endToEndId : undefined;
  const memo = d ? (cleanText(d.ustrd.join(' ')) ?? cleanText(d.addtlTxInf)) : undefined;
  // Built field by field rather than through `compact()`: deleting keys turns an object into a
  // dictionary several times its size, and a large import holds a hundred thousand of these.
  const tx = {} as BankTransaction;
  const id = own(providerId || undefined);
  if (id !== undefined) tx.providerId = id;
  tx.bookingDate = base.bookingDate;
  if (base.valueDate !== undefined) tx.valueDate = base.valueDate;
  tx.amount = base.amount;
  tx.currency = base.currency;
  const payee = own(cleanText(party?.name));
  if (payee !== undefined) tx.payee = payee;
  const text = own(memo ?? cleanText(e.addtlNtryInf));
  if (text !== undefined) tx.memo = text;
  const reference = own(cleanText(d?.creditorRef) ?? endToEnd);
  if (reference !== undefined) tx.reference = reference;
  const iban = own(party?.iban);
  if (iban !== undefined) tx.counterpartyIban = iban;
  if (payee !== undefined) tx.counterpartyName = payee;
  tx.pending = base.pending;
  const info = own(cleanText(d?.addtlTxInf));
  if (info !== undefined && info !== text) tx.additionalInfo = info;
  if (e.reversal) tx.reversal = true;
  const returned = own(cleanText(d?.returnReason));
  if (returned !== undefined) tx.returnReason = returned;
  return tx;
}

/** camt.053 FrToDt bounds the statement: an entry booked outside it is kept, with a warning. */
export function checkPeriod(ctx: CamtBuildContext, st: StatementDraft, day: CalendarDate): void {
  st.period ??= {
    from: st.from !== undefined ? camtDate(ctx, st.from, st.line, 'FrToDt/FrDtTm') : undefined,
    to: st.to !== undefined ? camtDate(ctx, st.to, st.line, 'FrToDt/ToDtTm') : undefined,
  };
  const { from, to } = st.period;
  if ((from !== undefined && day < from) || (to !== undefined && day > to)) st.outside++;
}

export function camtCurrency(
  ctx: CamtBuildContext,
  code: string | undefined,
  line: number,
  field: string,
): string {
  const c = code?.trim().toUpperCase();
  if (c === undefined || !isCurrency(c))
    throw malformed(
      { file: ctx.file, line, field },
      c === undefined ? 'no currency' : `'${code}' is not an ISO 4217 currency`,
    );
  return c;
}

export function camtAmount(
  ctx: CamtBuildContext,
  text: string | undefined,
  currency: string,
  line: number,
  field: string,
): number {
  if (text === undefined || text === '')
    throw malformed({ file: ctx.file, line, field }, 'missing amount');
  if (!/^\d+(\.\d+)?$/.test(text))
    throw malformed(
      { file: ctx.file, line, field },
      `'${text}' is not an ISO 20022 amount (digits with a '.' decimal)`,
    );
  try {
    return decimalAmount(text, currency, '.');
  } catch (err) {
    throw malformed({ file: ctx.file, line, field }, `'${text}' is not a ${currency} amount`, err);
  }
}

export function camtSigned(
  ctx: CamtBuildContext,
  text: string | undefined,
  cdtDbt: string | undefined,
  currency: string,
  line: number,
  where: string,
): number {
  const amount = camtAmount(ctx, text, currency, line, `${where}/Amt`);
  if (cdtDbt === 'DBIT') return -amount;
  if (cdtDbt === 'CRDT') return amount;
  throw malformed(
    { file: ctx.file, line, field: `${where}/CdtDbtInd` },
    `'${cdtDbt ?? ''}' is not CRDT or DBIT`,
  );
}

/** `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss[.fff…][zone]`: the day as the bank wrote it. */
export function camtDate(
  ctx: CamtBuildContext,
  text: string | undefined,
  line: number,
  field: string,
): CalendarDate {
  const m = text !== undefined ? /^(\d{4})-(\d{2})-(\d{2})(?:$|T)/.exec(text) : null;
  const d = m
    ? bankDate(Number(m[1]), Number(m[2]), Number(m[3]), (w) =>
        ctx.warn('BANK_WARN_DATE', line, `${field}: ${w}`),
      )
    : undefined;
  if (d === undefined)
    throw malformed(
      { file: ctx.file, line, field },
      text === undefined ? 'missing date' : `'${text}' is not an ISO date`,
    );
  return d;
}

/**
 * A copy of `text` that does not keep the chunk it was cut from alive. V8 makes substrings of 13
 * or more characters views into their parent; a line's payee or reference would otherwise pin the
 * megabyte of XML text it came from, and a streamed file would end up in memory after all.
 */
function own(text: string | undefined): string | undefined {
  if (text === undefined || text.length < 13) return text;
  return ` ${text}`.slice(1);
}

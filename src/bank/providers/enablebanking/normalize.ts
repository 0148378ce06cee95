import { answerDay, answerMoney, answerText } from '../../answer-values';
import { AnswerShapeError } from '../../errors';
import { preferredBalances, type BankBalance, type BankTransaction } from '../../provider';
import type { CalendarDate } from '../../../shared/dates';
import { isPlainObject } from '../../../shared/objects';

/**
 * Enable Banking transactions and balances (ISO 20022 names in snake case) → booksync lines.
 * Amounts come unsigned with `credit_debit_indicator` (CRDT/DBIT); `entry_reference` is the
 * bank's immutable id of a transaction within an account, `transaction_id` is not stable and is
 * never used as an id.
 *
 * @link https://enablebanking.com/docs/api/reference/ ("Transaction", "BalanceResource")
 * Ids a bank gives are not always stable: docs/ARCHITECTURE.md, "Statement line identity".
 */

type Obj = Record<string, unknown>;

/** Transaction statuses: BOOK is booked; PDNG (instant) and HOLD (a card hold) are pending. */
const PENDING_STATUSES = new Set(['PDNG', 'HOLD']);
/** Cancelled, rejected, scheduled and other items never moved money: left out, counted. */
const SKIPPED_STATUSES = new Set(['CNCL', 'RJCT', 'SCHD', 'OTHR']);

/** One page's `{transactions: [...], continuation_key?}`. */
export function readTransactionPage(body: unknown): { items: Obj[]; continuationKey?: string } {
  if (!isPlainObject(body) || !Array.isArray(body.transactions))
    throw new AnswerShapeError("the answer has no 'transactions' array");
  const items = body.transactions.map((t, i) => {
    if (!isPlainObject(t)) throw new AnswerShapeError(`transactions[${i}] is not an object`);
    return t;
  });
  const key = body.continuation_key;
  if (key !== undefined && key !== null && typeof key !== 'string')
    throw new AnswerShapeError("'continuation_key' is not text");
  return { items, ...(answerText(key) ? { continuationKey: answerText(key) } : {}) };
}

function accountText(v: unknown): { iban?: string; other?: string } {
  if (!isPlainObject(v)) return {};
  const iban = answerText(v.iban);
  if (iban) return { iban: iban.replace(/\s+/g, '').toUpperCase() };
  const other = isPlainObject(v.other) ? answerText(v.other.identification) : undefined;
  return other ? { other } : {};
}

function signed(amount: number, indicator: unknown, where: string): number {
  if (indicator === 'DBIT') return -Math.abs(amount);
  if (indicator === 'CRDT') return Math.abs(amount);
  if (indicator === undefined || indicator === null) return amount;
  throw new AnswerShapeError(
    `${where}: credit_debit_indicator ${JSON.stringify(indicator)} is not CRDT or DBIT`,
  );
}

/** The counterparty: the creditor of an outgoing payment, the debtor of an incoming one. */
function counterparty(t: Obj, line: BankTransaction): void {
  const outgoing = line.amount < 0;
  const party = outgoing ? t.creditor : t.debtor;
  const name = isPlainObject(party) ? answerText(party.name) : undefined;
  if (name) {
    line.payee = name;
    line.counterpartyName = name;
  }
  const account = accountText(outgoing ? t.creditor_account : t.debtor_account);
  if (account.iban) line.counterpartyIban = account.iban;
  else if (account.other) line.counterpartyAccount = account.other;
}

function details(t: Obj, line: BankTransaction): void {
  const remittance = Array.isArray(t.remittance_information)
    ? answerText(t.remittance_information.filter((x) => typeof x === 'string').join(' '))
    : answerText(t.remittance_information);
  if (remittance) line.memo = remittance;
  const reference = answerText(t.reference_number);
  if (reference) line.reference = reference;
  const info: string[] = [];
  const code = isPlainObject(t.bank_transaction_code)
    ? answerText(t.bank_transaction_code.description)
    : undefined;
  if (code) info.push(code);
  const fx = isPlainObject(t.exchange_rate) ? t.exchange_rate : undefined;
  const instructed = fx && isPlainObject(fx.instructed_amount) ? fx.instructed_amount : undefined;
  if (instructed && answerText(instructed.amount) && answerText(instructed.currency)) {
    const rate = answerText(fx?.exchange_rate);
    info.push(
      `instructed ${answerText(instructed.amount)} ${answerText(instructed.currency)}${rate ? ` at ${rate}` : ''}`,
    );
  }
  if (info.length > 0) line.additionalInfo = info.join('; ');
}

/**
 * Provider ids: `entry_reference` when it is unique in the account's answer (a bank that repeats
 * one gives no id to the lines sharing it), else none.
 */
function providerIds(list: Obj[]): Array<string | undefined> {
  const counts = new Map<string, number>();
  for (const t of list) {
    const id = answerText(t.entry_reference);
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return list.map((t) => {
    const id = answerText(t.entry_reference);
    return id && counts.get(id) === 1 ? id : undefined;
  });
}

/** Every page's items of one account → booked lines, and pending ones when asked for. */
export function toTransactions(
  list: Obj[],
  account: string,
  includePending: boolean,
  warn: (m: string) => void,
): BankTransaction[] {
  const ids = providerIds(list);
  const out: BankTransaction[] = [];
  const skipped = new Map<string, number>();
  list.forEach((t, i) => {
    const status = answerText(t.status)?.toUpperCase() ?? 'BOOK';
    const id = ids[i];
    const where = `account ${account}, transaction ${id ?? `#${i}`}`;
    if (SKIPPED_STATUSES.has(status)) {
      skipped.set(status, (skipped.get(status) ?? 0) + 1);
      return;
    }
    const pending = PENDING_STATUSES.has(status);
    if (!pending && status !== 'BOOK')
      throw new AnswerShapeError(`${where}: status '${status}' is not a transaction status`);
    if (pending && !includePending) return;
    const { amount: unsigned, currency } = answerMoney(t.transaction_amount, where, {
      grouping: false,
    });
    const amount = signed(unsigned, t.credit_debit_indicator, where);
    const booking = pending
      ? (answerDay(t.transaction_date) ?? answerDay(t.value_date) ?? answerDay(t.booking_date))
      : (answerDay(t.booking_date) ?? answerDay(t.value_date) ?? answerDay(t.transaction_date));
    if (!booking) {
      if (pending) {
        warn(`${where} skipped: the pending item has no date`);
        return;
      }
      throw new AnswerShapeError(`${where}: no booking_date, value_date or transaction_date`);
    }
    const line: BankTransaction = { bookingDate: booking, amount, currency, pending };
    if (id) line.providerId = id;
    const value = answerDay(t.value_date);
    if (value && value !== booking) line.valueDate = value;
    counterparty(t, line);
    details(t, line);
    out.push(line);
  });
  for (const [status, n] of skipped)
    warn(`account ${account}: ${n} transaction(s) with status ${status} left out (no money moved)`);
  return out;
}

const LEDGER_TYPES = ['ITBD', 'CLBD', 'OPBD', 'PRCD'];
const AVAILABLE_TYPES = ['ITAV', 'XPCD', 'CLAV', 'FWAV', 'OPAV'];

/** `{balances: [...]}` → the best ledger (booked) balance and the best available one. */
export function toBalances(body: unknown, account: string, today: CalendarDate): BankBalance[] {
  if (!isPlainObject(body) || !Array.isArray(body.balances))
    throw new AnswerShapeError(`account ${account}: the balances answer has no 'balances' array`);
  return preferredBalances(
    body.balances.filter(isPlainObject),
    (b) => b.balance_type,
    { ledger: LEDGER_TYPES, available: AVAILABLE_TYPES },
    (b, type) => ({
      ...answerMoney(b.balance_amount, `account ${account}, ${type} balance`, { grouping: false }),
      date: answerDay(b.reference_date) ?? answerDay(b.last_change_date_time) ?? today,
    }),
  );
}

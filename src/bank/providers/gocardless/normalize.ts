import { AnswerShapeError } from '../../errors';
import { preferredBalances, type BankBalance, type BankTransaction } from '../../provider';
import { isCalendarDate, type CalendarDate } from '../../../shared/dates';
import { isCurrency, parseAmount } from '../../../shared/money';
import { isPlainObject } from '../../../shared/objects';

/**
 * Berlin Group transactions and balances as GoCardless returns them → booksync lines.
 *
 * @link https://bankaccountdata.gocardless.com/api/docs (accounts/{id}/transactions)
 * Ids a bank gives are not always stable: docs/ARCHITECTURE.md, "Statement line identity".
 */

type Obj = Record<string, unknown>;
const text = (v: unknown): string | undefined =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;

function day(v: unknown): CalendarDate | undefined {
  const s = text(v)?.slice(0, 10);
  return s && isCalendarDate(s) ? s : undefined;
}

function money(v: unknown, where: string): { amount: number; currency: string } {
  if (!isPlainObject(v)) throw new AnswerShapeError(`${where}: no amount object`);
  const currency = text(v.currency)?.toUpperCase();
  if (!currency || !isCurrency(currency))
    throw new AnswerShapeError(
      `${where}: currency '${String(v.currency)}' is not an ISO 4217 code`,
    );
  const raw = typeof v.amount === 'number' ? String(v.amount) : text(v.amount);
  if (raw === undefined) throw new AnswerShapeError(`${where}: amount is missing`);
  try {
    return { amount: parseAmount(raw, currency, { decimal: '.' }), currency };
  } catch (err) {
    throw new AnswerShapeError(`${where}: ${(err as Error).message}`);
  }
}

function joined(v: unknown): string | undefined {
  if (Array.isArray(v)) return text(v.filter((x) => typeof x === 'string').join(' '));
  return text(v);
}

/** Reads `{transactions: {booked: [], pending: []}}`. */
export function readTransactionLists(body: unknown): { booked: Obj[]; pending: Obj[] } {
  if (!isPlainObject(body) || !isPlainObject(body.transactions))
    throw new AnswerShapeError("the answer has no 'transactions' object");
  const { booked, pending } = body.transactions;
  if (!Array.isArray(booked)) throw new AnswerShapeError("'transactions.booked' is not an array");
  if (pending !== undefined && !Array.isArray(pending))
    throw new AnswerShapeError("'transactions.pending' is not an array");
  const objects = (list: unknown[], name: string) =>
    list.map((t, i) => {
      if (!isPlainObject(t))
        throw new AnswerShapeError(`transactions.${name}[${i}] is not an object`);
      return t;
    });
  return { booked: objects(booked, 'booked'), pending: objects(pending ?? [], 'pending') };
}

/**
 * Provider ids: a trimmed `transactionId` when it is unique in its list (banks reuse or blank
 * it), else `internalTransactionId` (GoCardless' own hash, booked items only), else none.
 */
function providerIds(list: Obj[]): Array<string | undefined> {
  const counts = new Map<string, number>();
  for (const t of list) {
    const id = text(t.transactionId);
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return list.map((t) => {
    const id = text(t.transactionId);
    if (id && counts.get(id) === 1) return id;
    return text(t.internalTransactionId);
  });
}

export function toTransactions(
  list: Obj[],
  pending: boolean,
  account: string,
  warn: (m: string) => void,
): BankTransaction[] {
  const ids = providerIds(list);
  const out: BankTransaction[] = [];
  list.forEach((t, i) => {
    const id = ids[i];
    const where = `account ${account}, ${pending ? 'pending' : 'booked'} transaction ${id ?? `#${i}`}`;
    const { amount, currency } = money(t.transactionAmount, where);
    // Pending items often carry only valueDate; some carry no date at all (skipped, as Actual does).
    const booking = pending
      ? (day(t.valueDate) ?? day(t.bookingDate) ?? day(t.valueDateTime) ?? day(t.bookingDateTime))
      : (day(t.bookingDate) ?? day(t.bookingDateTime) ?? day(t.valueDate) ?? day(t.valueDateTime));
    if (!booking) {
      if (pending) {
        warn(`${where} skipped: it has no date`);
        return;
      }
      throw new AnswerShapeError(`${where}: no bookingDate or valueDate`);
    }
    const line: BankTransaction = { bookingDate: booking, amount, currency, pending };
    if (id) line.providerId = id;
    const value = day(t.valueDate) ?? day(t.valueDateTime);
    if (value && value !== booking) line.valueDate = value;
    // The counterparty is the creditor of an outgoing payment and the debtor of an incoming one.
    const outgoing = amount < 0;
    const party = outgoing
      ? (text(t.creditorName) ?? text(t.ultimateCreditor))
      : (text(t.debtorName) ?? text(t.ultimateDebtor));
    const partyAccount = outgoing ? t.creditorAccount : t.debtorAccount;
    const iban = isPlainObject(partyAccount) ? text(partyAccount.iban) : undefined;
    if (party) {
      line.payee = party;
      line.counterpartyName = party;
    }
    if (iban) line.counterpartyIban = iban.replace(/\s+/g, '').toUpperCase();
    const memo =
      joined(t.remittanceInformationUnstructured) ??
      joined(t.remittanceInformationUnstructuredArray) ??
      text(t.additionalInformation);
    if (memo) line.memo = memo;
    const e2e = text(t.endToEndId);
    const reference =
      joined(t.remittanceInformationStructured) ??
      joined(t.remittanceInformationStructuredArray) ??
      (e2e && e2e.toUpperCase() !== 'NOTPROVIDED' ? e2e : undefined);
    if (reference) line.reference = reference;
    const check = text(t.checkId);
    if (check) line.checkNumber = check;
    out.push(line);
  });
  return out;
}

const LEDGER_TYPES = ['interimBooked', 'closingBooked', 'openingBooked'];
const AVAILABLE_TYPES = ['interimAvailable', 'expected', 'closingAvailable', 'forwardAvailable'];

/** `{balances: [...]}` → the best ledger balance (interimBooked, closingBooked...) and available one. */
export function toBalances(body: unknown, account: string, today: CalendarDate): BankBalance[] {
  if (!isPlainObject(body) || !Array.isArray(body.balances))
    throw new AnswerShapeError(`account ${account}: the balances answer has no 'balances' array`);
  return preferredBalances(
    body.balances.filter(isPlainObject),
    (b) => b.balanceType,
    { ledger: LEDGER_TYPES, available: AVAILABLE_TYPES },
    (b, type) => ({
      ...money(b.balanceAmount, `account ${account}, ${type} balance`),
      date: day(b.referenceDate) ?? day(b.lastChangeDateTime) ?? today,
    }),
  );
}

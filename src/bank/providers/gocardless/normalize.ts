import { answerDay, answerMoney, answerText } from '../../answer-values';
import { AnswerShapeError } from '../../errors';
import { preferredBalances, type BankBalance, type BankTransaction } from '../../provider';
import type { CalendarDate } from '../../../shared/dates';
import { isPlainObject } from '../../../shared/objects';

/**
 * Berlin Group transactions and balances as GoCardless returns them → booksync lines.
 *
 * @link https://bankaccountdata.gocardless.com/api/docs (accounts/{id}/transactions)
 * Ids a bank gives are not always stable: docs/ARCHITECTURE.md, "Statement line identity".
 */

type Obj = Record<string, unknown>;

function joined(v: unknown): string | undefined {
  if (Array.isArray(v)) return answerText(v.filter((x) => typeof x === 'string').join(' '));
  return answerText(v);
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
    const id = answerText(t.transactionId);
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return list.map((t) => {
    const id = answerText(t.transactionId);
    if (id && counts.get(id) === 1) return id;
    return answerText(t.internalTransactionId);
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
    const { amount, currency } = answerMoney(t.transactionAmount, where, { numbers: true });
    // Pending items often carry only valueDate; some carry no date at all (skipped, as Actual does).
    const booking = pending
      ? (answerDay(t.valueDate) ??
        answerDay(t.bookingDate) ??
        answerDay(t.valueDateTime) ??
        answerDay(t.bookingDateTime))
      : (answerDay(t.bookingDate) ??
        answerDay(t.bookingDateTime) ??
        answerDay(t.valueDate) ??
        answerDay(t.valueDateTime));
    if (!booking) {
      if (pending) {
        warn(`${where} skipped: it has no date`);
        return;
      }
      throw new AnswerShapeError(`${where}: no bookingDate or valueDate`);
    }
    const line: BankTransaction = { bookingDate: booking, amount, currency, pending };
    if (id) line.providerId = id;
    const value = answerDay(t.valueDate) ?? answerDay(t.valueDateTime);
    if (value && value !== booking) line.valueDate = value;
    // The counterparty is the creditor of an outgoing payment and the debtor of an incoming one.
    const outgoing = amount < 0;
    const party = outgoing
      ? (answerText(t.creditorName) ?? answerText(t.ultimateCreditor))
      : (answerText(t.debtorName) ?? answerText(t.ultimateDebtor));
    const partyAccount = outgoing ? t.creditorAccount : t.debtorAccount;
    const iban = isPlainObject(partyAccount) ? answerText(partyAccount.iban) : undefined;
    if (party) {
      line.payee = party;
      line.counterpartyName = party;
    }
    if (iban) line.counterpartyIban = iban.replace(/\s+/g, '').toUpperCase();
    const memo =
      joined(t.remittanceInformationUnstructured) ??
      joined(t.remittanceInformationUnstructuredArray) ??
      answerText(t.additionalInformation);
    if (memo) line.memo = memo;
    const e2e = answerText(t.endToEndId);
    const reference =
      joined(t.remittanceInformationStructured) ??
      joined(t.remittanceInformationStructuredArray) ??
      (e2e && e2e.toUpperCase() !== 'NOTPROVIDED' ? e2e : undefined);
    if (reference) line.reference = reference;
    const check = answerText(t.checkId);
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
      ...answerMoney(b.balanceAmount, `account ${account}, ${type} balance`, { numbers: true }),
      date: answerDay(b.referenceDate) ?? answerDay(b.lastChangeDateTime) ?? today,
    }),
  );
}

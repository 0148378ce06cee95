import type { StatementLineDoc } from '../ledger';
import { clean } from './line-identity';
import type { BankTransaction } from './provider';

/** What a new line is built from: the transaction and what the plan worked out for it. */
export interface NewLineSource {
  tx: BankTransaction;
  /** `tx.currency` trimmed and upper-cased. */
  currency: string;
  accountId: string;
  /** The cleaned provider id, when the line keeps one. */
  pid?: string;
}

/**
 * Builds the statement_line document of a new transaction; `id` is `statementLineId(connection, key)`.
 * A large import holds every new line until it is written, so the document is kept small: its
 * `dedup_key` shares the characters of its id (the key is the id's tail).
 */
export function newLine(
  connection: string,
  id: string,
  key: string,
  inc: NewLineSource,
  importedAt: string,
  importId?: string,
): StatementLineDoc {
  const t = inc.tx;
  const doc: StatementLineDoc = {
    _id: id,
    type: 'statement_line',
    connection,
    account_id: inc.accountId,
    date: t.bookingDate,
    amount: t.amount,
    currency: inc.currency,
    dedup_key: id.endsWith(key) ? id.slice(id.length - key.length) : key,
    pending: t.pending,
    state: 'new',
    imported_at: importedAt,
  };
  if (t.valueDate !== undefined) doc.value_date = t.valueDate;
  const payee = clean(t.payee);
  if (payee) doc.payee = payee;
  const memo = clean(t.memo);
  if (memo) doc.memo = memo;
  const reference = clean(t.reference);
  if (reference) doc.reference = reference;
  const iban = clean(t.counterpartyIban);
  if (iban) doc.counterparty_iban = iban;
  const name = clean(t.counterpartyName);
  if (name) doc.counterparty_name = name;
  if (inc.pid) doc.provider_id = inc.pid;
  if (importId !== undefined) doc.import_id = importId;
  bankDetails(doc, t);
  return doc;
}

/** A stored pending line updated in place to the content it now has (possibly booked). */
export function updatedInPlace(line: StatementLineDoc, t: BankTransaction): StatementLineDoc {
  const next: StatementLineDoc = {
    ...line,
    date: t.bookingDate,
    amount: t.amount,
    currency: t.currency.trim().toUpperCase(),
    pending: t.pending,
  };
  if (t.valueDate !== undefined) next.value_date = t.valueDate;
  if (clean(t.payee)) next.payee = clean(t.payee);
  if (clean(t.memo)) next.memo = clean(t.memo);
  if (clean(t.reference)) next.reference = clean(t.reference);
  if (clean(t.counterpartyIban)) next.counterparty_iban = clean(t.counterpartyIban);
  if (clean(t.counterpartyName)) next.counterparty_name = clean(t.counterpartyName);
  // Back in the feed after it vanished: the same line again, not a new one.
  delete next.vanished_at;
  bankDetails(next, t);
  return next;
}

/** What the bank said about a line beyond its content: reversal, return reason, more text (docs/FORMATS.md). */
function bankDetails(doc: StatementLineDoc, t: BankTransaction): void {
  if (clean(t.counterpartyAccount)) doc.counterparty_account = clean(t.counterpartyAccount);
  if (clean(t.additionalInfo)) doc.additional_info = clean(t.additionalInfo);
  if (t.reversal) doc.reversal = true;
  if (clean(t.returnReason)) doc.return_reason = clean(t.returnReason);
}

export function changed(a: StatementLineDoc, b: StatementLineDoc): boolean {
  const keys: Array<keyof StatementLineDoc> = [
    'date',
    'value_date',
    'amount',
    'currency',
    'pending',
    'payee',
    'memo',
    'reference',
    'counterparty_iban',
    'counterparty_name',
    'state',
    'replaced_by',
    'vanished_at',
  ];
  return keys.some((k) => a[k] !== b[k]);
}

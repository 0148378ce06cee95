import { daysBetween, type CalendarDate } from '../shared/dates';
import { sha256 } from '../shared/hash';
import { statementLineId, type StatementLineDoc } from '../ledger';
import type { BankTransaction } from './provider';

/**
 * How a statement line is known again (docs/ARCHITECTURE.md, "Statement line identity"): its keys,
 * its content hash, and the matching steps both planners share, the array planner (dedup.ts) and
 * the stream planner (stream-plan.ts).
 */

/** A stored line matched by provider id must book the same money within this many days. */
export const ID_DATE_SLACK_DAYS = 3;

/** Lines a fetch never changes. */
export function isProtected(line: Pick<StatementLineDoc, 'state'>): boolean {
  return line.state === 'reconciled' || line.state === 'deleted';
}

/** The account part of a key: the bank's account id without spaces (IBANs are often grouped). */
export function accountKey(accountId: string): string {
  return String(accountId).replace(/\s+/g, '');
}

/** Trimmed text ('' for none): how a line's text is compared and stored. */
export function clean(text: string | undefined): string {
  return (text ?? '').trim();
}

/**
 * SHA-256 (first 128 bits, hex) over the trimmed content of a transaction. 128 bits keep ids
 * short; a collision would need 2^64 lines of one account and day.
 */
export function contentHash(t: {
  date: CalendarDate;
  amount: number;
  currency: string;
  payee?: string;
  memo?: string;
}): string {
  const text = JSON.stringify([
    t.date,
    t.amount,
    t.currency.trim().toUpperCase(),
    clean(t.payee),
    clean(t.memo),
  ]);
  // Hex of the first 16 bytes directly, not a slice of the 64-character hex: a slice would keep
  // the whole digest text alive for as long as the key is (a streamed import keeps every key).
  return sha256(text).toString('hex', 0, 16);
}

export function providerKey(accountId: string, providerId: string): string {
  return `p:${accountKey(accountId)}:${providerId.trim()}`;
}

export function hashKey(accountId: string, hash: string, occurrence: number): string {
  return `h:${accountKey(accountId)}:${hash}:${occurrence}`;
}

/** A stored line matched by provider id books the same money as `tx` (within a few days). */
export function sameMoney(
  line: StatementLineDoc,
  tx: Pick<BankTransaction, 'amount' | 'currency' | 'bookingDate'>,
): boolean {
  return (
    line.amount === tx.amount &&
    line.currency === tx.currency.trim().toUpperCase() &&
    Math.abs(daysBetween(line.date, tx.bookingDate)) <= ID_DATE_SLACK_DAYS
  );
}

/** The content hash of an incoming transaction (its currency as the line stores it). */
export function transactionHash(tx: BankTransaction, currency: string): string {
  return contentHash({
    date: tx.bookingDate,
    amount: tx.amount,
    currency,
    payee: tx.payee,
    memo: tx.memo,
  });
}

/** The content hash of a stored line. */
export function lineContentHash(line: StatementLineDoc): string {
  return contentHash({
    date: line.date,
    amount: line.amount,
    currency: line.currency,
    payee: line.payee,
    memo: line.memo,
  });
}

/** `lines` grouped by `keyOf` (undefined: left out), each group in the order of `lines`. */
export function groupLines(
  lines: Iterable<StatementLineDoc>,
  keyOf: (line: StatementLineDoc) => string | undefined,
): Map<string, StatementLineDoc[]> {
  const groups = new Map<string, StatementLineDoc[]>();
  for (const line of lines) {
    const key = keyOf(line);
    if (key === undefined) continue;
    const list = groups.get(key);
    if (list) list.push(line);
    else groups.set(key, [line]);
  }
  return groups;
}

/** Stored lines in id order: the order matching claims them in. */
export function byId(a: StatementLineDoc, b: StatementLineDoc): number {
  return a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
}

/**
 * Matching by provider id: of the unclaimed stored lines with the transaction's provider id (in
 * id order), the first that books the same money, else the first pending one (a pending line may
 * change amount and date until it books).
 */
export function providerIdMatch(
  withId: readonly StatementLineDoc[] | undefined,
  tx: Pick<BankTransaction, 'amount' | 'currency' | 'bookingDate'>,
  claimed: ReadonlySet<string>,
): StatementLineDoc | undefined {
  const candidates = (withId ?? []).filter((l) => !claimed.has(l._id));
  return candidates.find((l) => sameMoney(l, tx)) ?? candidates.find((l) => l.pending);
}

/** The key and id of a new line, and the occurrence number its content hash got. */
export interface NewLineKey {
  key: string;
  id: string;
  /** Undefined when the key is the provider id's. */
  occurrence?: number;
}

/**
 * The key of a new line: the provider id's where the line has a usable one (`pid`, unique in the
 * feed) whose id is free, else its content hash with the first occurrence number from
 * `occurrence` on whose id is free.
 */
export function newLineKey(
  connection: string,
  accountId: string,
  pid: string | undefined,
  hash: string,
  occurrence: number,
  takenIds: ReadonlySet<string>,
): NewLineKey {
  if (pid !== undefined) {
    const key = providerKey(accountId, pid);
    const id = statementLineId(connection, key);
    if (!takenIds.has(id)) return { key, id };
  }
  let n = occurrence;
  while (takenIds.has(statementLineId(connection, hashKey(accountId, hash, n)))) n += 1;
  const key = hashKey(accountId, hash, n);
  return { key, id: statementLineId(connection, key), occurrence: n };
}

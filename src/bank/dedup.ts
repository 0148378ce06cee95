import { daysBetween, isCalendarDate, type CalendarDate } from '../shared/dates';
import { isCurrency } from '../shared/money';
import type { DeletionStub, StatementLineDoc } from '../ledger';
import { applyFeedCorrections } from './corrections';
import { MalformedStatementError } from './errors';
import { changed, newLine, updatedInPlace } from './line-docs';
import {
  accountKey,
  byId,
  clean,
  groupLines,
  isProtected,
  lineContentHash,
  newLineKey,
  providerIdMatch,
  transactionHash,
} from './line-identity';
import type { BankAccountStatement, BankTransaction } from './provider';

/**
 * Exactly-once statement lines (docs/ARCHITECTURE.md, "Statement line identity").
 *
 * Every fetched transaction gets a deterministic document id, so a re-run, a crash between writing
 * lines and saving the watermark, or two sites fetching the same connection all land on the same
 * `_id` (a race becomes a PouchDB conflict, never a duplicate):
 *
 * - `stl:<connection>:p:<account>:<providerId>` where the provider's id is present, unique in the
 *   fetch for that account, and not already taken by a different booking;
 * - otherwise `stl:<connection>:h:<account>:<content hash>:<n>`, the hash over (date, amount,
 *   currency, payee, memo) trimmed, `n` the occurrence of that same content within the account and
 *   date in this fetch — two identical coffees stay two lines, and a re-fetch of the day maps to
 *   the same two ids.
 *
 * Ids alone are not trusted (positional or reused ids: Actual #7799, Chase FITIDs). Incoming
 * transactions are matched against the stored lines of the account in two passes — by provider id
 * when the stored line books the same money (same amount, date within {@link ID_DATE_SLACK_DAYS}),
 * then by exact content — and each stored line is claimed at most once. Matching reads the
 * `provider_id` field and the content, not the id format, so a future key format does not
 * duplicate history (user edits win).
 *
 * Pending lines are replaced by their posted version (same provider id; else same amount, or same
 * payee, within {@link PENDING_MATCH_DAYS}), and a pending line that vanished from the feed is
 * marked `vanished_at` (kept, so that it is the same line, not a new one, if it comes back). Lines whose state is `reconciled` or `deleted` are never changed and never imported
 * again. OFX CORRECTFITID REPLACE / DELETE are applied.
 *
 * `planStatementLines` is pure: it returns the documents to write in one batch.
 */

export * from './line-identity';
export { newLine } from './line-docs';

/** A posted line replaces a pending one booked at most this many days apart (pending becomes posted). */
export const PENDING_MATCH_DAYS = 5;

export interface PlanInput {
  connection: string;
  statements: readonly BankAccountStatement[];
  includePending: boolean;
  /** The fetch window: pending lines dated inside it that the feed no longer has are removed. */
  window: { from: CalendarDate; to: CalendarDate };
  /** Stored lines of this connection (any state); at least those dated in the window minus a few days. */
  existing: readonly StatementLineDoc[];
  /** ISO instant stamped on new lines as `imported_at`. */
  importedAt: string;
  /** The staged import new lines belong to (`import_id`). */
  importId?: string;
}

export interface PlanCounts {
  /** Transactions considered (pending ones only with include_pending). */
  fetched: number;
  /** New statement lines. */
  new: number;
  /** Transactions that matched a stored line (skipped, or a pending line updated in place). */
  duplicates: number;
  /** Pending transactions in the fetch. */
  pending: number;
  /** Stored pending lines superseded by their posted version. */
  replaced: number;
  /** Stored pending lines marked vanished because the feed no longer has them. */
  removed: number;
  /** Stored lines changed by an OFX correction (REPLACE / DELETE). */
  corrected: number;
}

/** Counts of a plan that has done nothing yet. */
export function zeroCounts(): PlanCounts {
  return { fetched: 0, new: 0, duplicates: 0, pending: 0, replaced: 0, removed: 0, corrected: 0 };
}

export interface LinePlan {
  /** Everything to write, for one all-or-nothing batch: new lines, updated lines, deletion stubs. */
  writes: Array<StatementLineDoc | DeletionStub>;
  /** Ids of the new lines, in feed order. */
  newIds: string[];
  counts: PlanCounts;
  /** Things a person may want to know (a correction of a reconciled line ...). */
  warnings: string[];
}

/**
 * Why the books could not store `tx` (undefined when they can): everything the ledger's
 * statement_line check could reject in a line built from it, so a plan that passed this never
 * fails half-way through its writes.
 */
export function transactionProblem(tx: BankTransaction): string | undefined {
  if (!isCalendarDate(tx.bookingDate))
    return `booking date '${String(tx.bookingDate)}' is not a calendar date`;
  if (tx.valueDate !== undefined && !isCalendarDate(tx.valueDate))
    return `value date '${String(tx.valueDate)}' is not a calendar date`;
  if (!Number.isSafeInteger(tx.amount))
    return `amount ${String(tx.amount)} is not an integer number of minor units`;
  if (typeof tx.currency !== 'string' || !isCurrency(tx.currency.trim().toUpperCase()))
    return `currency '${String(tx.currency)}' is not an ISO 4217 code`;
  if (typeof tx.pending !== 'boolean') return 'pending must be true or false';
  for (const key of TEXT_FIELDS) {
    const value = tx[key];
    if (value !== undefined && value !== null && typeof value !== 'string')
      return `${key} must be text (got ${typeof value})`;
  }
  return undefined;
}

/** Optional text of a transaction that goes into its statement line. */
const TEXT_FIELDS = [
  'providerId',
  'payee',
  'memo',
  'reference',
  'counterpartyIban',
  'counterpartyName',
] as const;

/** Throws MalformedStatementError naming the first transaction the books could not store. */
export function assertTransactionsValid(
  connection: string,
  statements: readonly BankAccountStatement[],
): void {
  statements.forEach((s, si) => {
    const where = (i: number, tx: BankTransaction) =>
      `${connection}: statement ${si + 1} (account ${s.accountId || '?'}), transaction ${i + 1}${tx.providerId ? ` (id ${tx.providerId})` : ''}`;
    if (typeof s.accountId !== 'string' || accountKey(s.accountId) === '') {
      throw new MalformedStatementError(
        'BANK_MALFORMED',
        `${connection}: statement ${si + 1} has no account id`,
        { details: { connection } },
      );
    }
    s.transactions.forEach((tx, i) => {
      const why = transactionProblem(tx);
      if (why !== undefined) {
        throw new MalformedStatementError(
          'BANK_MALFORMED',
          `${where(i, tx)}: ${why}; nothing was imported`,
          { details: { connection, account: s.accountId, index: i } },
        );
      }
    });
  });
}

function normalisedPayee(text: string | undefined): string {
  return clean(text).toLowerCase().replace(/\s+/g, ' ');
}

/** One incoming transaction with everything the plan needs. */
interface Incoming {
  tx: BankTransaction;
  /** `tx.currency` trimmed and upper-cased. */
  currency: string;
  account: string;
  accountId: string;
  pid?: string;
  pidUnique: boolean;
  hash: string;
  occurrence: number;
  /** The stored line this transaction matched. */
  match?: StatementLineDoc;
  /** The new line's id when it is new. */
  newId?: string;
}

/** The transactions of one account in a fetch, over all its statements. */
interface AccountFeed {
  accountId: string;
  txs: BankTransaction[];
  from?: CalendarDate;
  to?: CalendarDate;
}

/** An OFX correction (CORRECTFITID / CORRECTACTION) of a stored line. */
interface Correction {
  target: string;
  action: 'REPLACE' | 'DELETE';
  replacement?: Incoming;
}

/** What the passes of one plan share. */
interface PlanState {
  connection: string;
  importedAt: string;
  importId?: string;
  counts: PlanCounts;
  warnings: string[];
  newDocs: StatementLineDoc[];
  /** Stored lines the plan changes, by id, as changed so far. */
  updates: Map<string, StatementLineDoc>;
  /** Ids of every stored line and every new one: a new id must avoid them. */
  takenIds: Set<string>;
  /** Stored lines a transaction matched or superseded: each is claimed at most once. */
  claimed: Set<string>;
}

/** `line` as the plan has changed it so far. */
function current(state: PlanState, line: StatementLineDoc): StatementLineDoc {
  return state.updates.get(line._id) ?? line;
}

/**
 * Plans the writes of one fetch: which transactions are new (and their ids), which stored lines
 * they duplicate, which pending lines are replaced or removed, which corrections apply.
 * Throws MalformedStatementError (nothing to write) when a transaction cannot be stored.
 */
export function planStatementLines(input: PlanInput): LinePlan {
  assertTransactionsValid(input.connection, input.statements);
  const state: PlanState = {
    connection: input.connection,
    importedAt: input.importedAt,
    importId: input.importId,
    counts: zeroCounts(),
    warnings: [],
    newDocs: [],
    updates: new Map(),
    takenIds: new Set(input.existing.map((l) => l._id)),
    claimed: new Set(),
  };
  const feeds = groupByAccount(input.statements);
  const existingByAccount = groupLines(input.existing, (l) => accountKey(l.account_id));
  // Re-consent can hand out new account ids for the same accounts: an account the
  // connection has never stored a line for is matched against the lines of stored accounts that
  // are absent from this fetch, so history is not imported a second time.
  const orphans = input.existing.filter((l) => !feeds.has(accountKey(l.account_id)));
  for (const [account, feed] of feeds) {
    const own = existingByAccount.get(account);
    const stored = (own && own.length > 0 ? own : orphans).slice().sort(byId);
    planAccount(state, input, account, feed, stored);
  }
  state.counts.new = state.newDocs.length;
  return {
    writes: [...state.newDocs, ...state.updates.values()],
    newIds: state.newDocs.map((d) => d._id),
    counts: state.counts,
    warnings: state.warnings,
  };
}

/**
 * Grouping: several statements of one account in one fetch (two files, or a file with two pages)
 * are one feed for that account, covering from the earliest start to the latest end.
 */
function groupByAccount(statements: readonly BankAccountStatement[]): Map<string, AccountFeed> {
  const byAccount = new Map<string, AccountFeed>();
  for (const s of statements) {
    const key = accountKey(s.accountId);
    const entry = byAccount.get(key) ?? { accountId: s.accountId.trim(), txs: [] };
    // One by one: spreading a million lines into push() would overflow the call stack.
    for (const tx of s.transactions) entry.txs.push(tx);
    if (s.from && (!entry.from || s.from < entry.from)) entry.from = s.from;
    if (s.to && (!entry.to || s.to > entry.to)) entry.to = s.to;
    byAccount.set(key, entry);
  }
  return byAccount;
}

/** The passes over one account's feed and its stored lines (sorted by id). */
function planAccount(
  state: PlanState,
  input: PlanInput,
  account: string,
  feed: AccountFeed,
  stored: StatementLineDoc[],
): void {
  // Corrections first, as the `parse` preview applies them (corrections.ts).
  const applied = applyFeedCorrections(feed.txs.filter((t) => input.includePending || !t.pending));
  const incoming = numberOccurrences(applied.lines, account, feed.accountId, state.counts);
  const corrections: Correction[] = applied.corrections.map((c) => ({
    target: c.target,
    action: c.action,
    replacement:
      c.action === 'REPLACE'
        ? incoming.find((i) => i.tx.corrects?.providerId.trim() === c.target)
        : undefined,
  }));
  matchStored(incoming, stored, state.claimed);
  updateMatched(state, incoming);
  assignNewIds(state, incoming, feed.accountId);
  const storedPending = stored.filter((l) => l.pending);
  supersedePending(state, incoming, storedPending);
  applyCorrections(state, corrections, stored);
  markVanished(state, storedPending, feed, input.window);
}

/**
 * Occurrence numbering, in feed order: the n-th transaction of the same content is occurrence n
 * (two identical coffees stay two lines); a provider id is usable only when it is unique in the
 * account's feed.
 */
function numberOccurrences(
  txs: readonly BankTransaction[],
  account: string,
  accountId: string,
  counts: PlanCounts,
): Incoming[] {
  const pidCount = new Map<string, number>();
  const seenContent = new Map<string, number>();
  let pendingCount = 0;
  const incoming: Incoming[] = txs.map((tx) => {
    const currency = tx.currency.trim().toUpperCase();
    const hash = transactionHash(tx, currency);
    const occurrence = seenContent.get(hash) ?? 0;
    seenContent.set(hash, occurrence + 1);
    const pid = clean(tx.providerId) || undefined;
    if (pid !== undefined) pidCount.set(pid, (pidCount.get(pid) ?? 0) + 1);
    if (tx.pending) pendingCount++;
    return { tx, currency, account, accountId, pid, pidUnique: false, hash, occurrence };
  });
  for (const inc of incoming) inc.pidUnique = inc.pid !== undefined && pidCount.get(inc.pid) === 1;
  counts.fetched += incoming.length;
  counts.pending += pendingCount;
  return incoming;
}

/**
 * Matching, each stored line claimed at most once. Pass 1: provider id, only when the stored line
 * books the same money (or is a pending line). Pass 2: exact content, for transactions whose id
 * is missing, new, or shifted.
 */
function matchStored(
  incoming: Incoming[],
  stored: readonly StatementLineDoc[],
  claimed: Set<string>,
): void {
  const byPid = groupLines(stored, (l) => l.provider_id || undefined);
  for (const inc of incoming) {
    if (!inc.pid) continue;
    const hit = providerIdMatch(byPid.get(inc.pid), inc.tx, claimed);
    if (hit) {
      inc.match = hit;
      claimed.add(hit._id);
    }
  }
  const byContent = groupLines(stored, lineContentHash);
  for (const inc of incoming) {
    if (inc.match) continue;
    const hit = (byContent.get(inc.hash) ?? []).find((l) => !claimed.has(l._id));
    if (hit) {
      inc.match = hit;
      claimed.add(hit._id);
    }
  }
}

/** Matched transactions: duplicates, or a pending line updated in place (booked, or its amount moved). */
function updateMatched(state: PlanState, incoming: readonly Incoming[]): void {
  for (const inc of incoming) {
    const line = inc.match;
    if (!line) continue;
    state.counts.duplicates += 1;
    if (isProtected(line) || !line.pending) continue;
    if (line.state === 'new') {
      const next = updatedInPlace(current(state, line), inc.tx);
      if (changed(current(state, line), next)) state.updates.set(line._id, next);
    }
  }
}

/** New transactions get their ids and lines. */
function assignNewIds(state: PlanState, incoming: readonly Incoming[], accountId: string): void {
  const { connection, takenIds } = state;
  for (const inc of incoming) {
    if (inc.match) continue;
    const pid = inc.pid && inc.pidUnique ? inc.pid : undefined;
    const { key, id } = newLineKey(connection, accountId, pid, inc.hash, inc.occurrence, takenIds);
    const doc = newLine(connection, id, key, inc, state.importedAt, state.importId);
    takenIds.add(doc._id);
    inc.newId = doc._id;
    state.newDocs.push(doc);
  }
}

/** Stored pending lines that no transaction claimed and nothing superseded yet. */
function unclaimedPending(
  state: PlanState,
  storedPending: readonly StatementLineDoc[],
): StatementLineDoc[] {
  return storedPending.filter(
    (l) => !state.claimed.has(l._id) && current(state, l).replaced_by === undefined,
  );
}

/**
 * Pending supersession: a new booked line supersedes a stored pending line that the feed no
 * longer carries (the nearest in date of the same amount, else of the same payee and sign).
 */
function supersedePending(
  state: PlanState,
  incoming: readonly Incoming[],
  storedPending: readonly StatementLineDoc[],
): void {
  for (const inc of incoming) {
    if (!inc.newId || inc.tx.pending || storedPending.length === 0) continue;
    const hit = pendingFor(inc.tx, unclaimedPending(state, storedPending));
    if (!hit) continue;
    state.claimed.add(hit._id);
    state.counts.replaced += 1;
    if (isProtected(hit)) {
      // The user reconciled or deleted the pending line: the booked version is the same money and
      // must not come in beside it.
      const at = state.newDocs.findIndex((d) => d._id === inc.newId);
      if (at >= 0) state.newDocs.splice(at, 1);
      state.takenIds.delete(inc.newId);
      inc.newId = undefined;
      state.counts.duplicates += 1;
      continue;
    }
    const next: StatementLineDoc = { ...current(state, hit), replaced_by: inc.newId };
    if (hit.state === 'new') next.state = 'deleted';
    state.updates.set(hit._id, next);
  }
}

/** The pending line `tx` is the booked version of, within {@link PENDING_MATCH_DAYS}. */
function pendingFor(
  tx: BankTransaction,
  pool: readonly StatementLineDoc[],
): StatementLineDoc | undefined {
  const near = pool.filter(
    (l) =>
      l.currency === tx.currency.trim().toUpperCase() &&
      Math.abs(daysBetween(l.date, tx.bookingDate)) <= PENDING_MATCH_DAYS,
  );
  const byDistance = (a: StatementLineDoc, b: StatementLineDoc) =>
    Math.abs(daysBetween(a.date, tx.bookingDate)) - Math.abs(daysBetween(b.date, tx.bookingDate)) ||
    (a._id < b._id ? -1 : 1);
  const payee = normalisedPayee(tx.payee);
  return (
    near.filter((l) => l.amount === tx.amount).sort(byDistance)[0] ??
    (payee
      ? near
          .filter(
            (l) =>
              normalisedPayee(l.payee) === payee && Math.sign(l.amount) === Math.sign(tx.amount),
          )
          .sort(byDistance)[0]
      : undefined)
  );
}

/** Corrections (OFX CORRECTFITID / CORRECTACTION) applied to the stored lines they name. */
function applyCorrections(
  state: PlanState,
  corrections: readonly Correction[],
  stored: readonly StatementLineDoc[],
): void {
  const { connection, warnings } = state;
  for (const c of corrections) {
    const target =
      stored.find((l) => l.provider_id === c.target && current(state, l).state !== 'deleted') ??
      stored.find((l) => l.provider_id === c.target);
    if (!target) {
      if (c.action === 'DELETE')
        warnings.push(
          `${connection}: correction deletes transaction ${c.target}, which was never imported`,
        );
      continue;
    }
    if (target.state === 'reconciled') {
      warnings.push(
        `${connection}: the bank corrected transaction ${c.target} (${c.action}) but its line ${target._id} is reconciled; it was left unchanged`,
      );
      if (c.replacement?.newId) {
        const at = state.newDocs.findIndex((d) => d._id === c.replacement?.newId);
        if (at >= 0) state.newDocs.splice(at, 1);
      }
      continue;
    }
    if (current(state, target).state === 'deleted') continue;
    const next: StatementLineDoc = { ...current(state, target), state: 'deleted' };
    const replacementId = c.replacement?.newId ?? c.replacement?.match?._id;
    if (c.action === 'REPLACE' && replacementId) next.replaced_by = replacementId;
    if (target.state === 'posted')
      warnings.push(
        `${connection}: the bank ${c.action === 'DELETE' ? 'deleted' : 'replaced'} transaction ${c.target}, already posted as ${target.move ?? 'a move'}; reverse that move`,
      );
    state.updates.set(target._id, next);
    state.counts.corrected += 1;
  }
}

/**
 * Pending lines dated inside what this fetch covered for the account that nobody claimed
 * vanished from the feed: they are marked `vanished_at` and kept, so that one the bank shows
 * again matches its stored line (updated in place) instead of coming in as new.
 */
function markVanished(
  state: PlanState,
  storedPending: readonly StatementLineDoc[],
  feed: AccountFeed,
  window: PlanInput['window'],
): void {
  const from = feed.from && feed.from > window.from ? feed.from : window.from;
  const to = feed.to && feed.to < window.to ? feed.to : window.to;
  for (const line of unclaimedPending(state, storedPending)) {
    if (
      line.state !== 'new' ||
      line.date < from ||
      line.date > to ||
      current(state, line).vanished_at !== undefined
    )
      continue;
    state.updates.set(line._id, { ...current(state, line), vanished_at: state.importedAt });
    state.counts.removed += 1;
  }
}

import { sha256 } from '../shared/hash';
import { daysBetween, isCalendarDate, type CalendarDate } from '../shared/dates';
import { isCurrency } from '../shared/money';
import { statementLineId, type DeletionStub, type StatementLineDoc } from '../ledger';
import { MalformedStatementError } from './errors';
import type { BankAccountStatement, BankTransaction } from './provider';
import { applyFeedCorrections } from './corrections';

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

/** A stored line matched by provider id must book the same money within this many days. */
export const ID_DATE_SLACK_DAYS = 3;
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

export interface LinePlan {
  /** Everything to write, for one all-or-nothing batch: new lines, updated lines, deletion stubs. */
  writes: Array<StatementLineDoc | DeletionStub>;
  /** Ids of the new lines, in feed order. */
  newIds: string[];
  counts: PlanCounts;
  /** Things a person may want to know (a correction of a reconciled line ...). */
  warnings: string[];
}

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

function normalisedPayee(text: string | undefined): string {
  return clean(text).toLowerCase().replace(/\s+/g, ' ');
}

function lineContentHash(line: StatementLineDoc): string {
  return contentHash({
    date: line.date,
    amount: line.amount,
    currency: line.currency,
    payee: line.payee,
    memo: line.memo,
  });
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
  inc: Pick<Incoming, 'tx' | 'currency' | 'accountId' | 'pid'>,
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
function updatedInPlace(line: StatementLineDoc, inc: Incoming): StatementLineDoc {
  const t = inc.tx;
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

function changed(a: StatementLineDoc, b: StatementLineDoc): boolean {
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

/**
 * Plans the writes of one fetch: which transactions are new (and their ids), which stored lines
 * they duplicate, which pending lines are replaced or removed, which corrections apply.
 * Throws MalformedStatementError (nothing to write) when a transaction cannot be stored.
 */
export function planStatementLines(input: PlanInput): LinePlan {
  const { connection, includePending, window, importedAt } = input;
  assertTransactionsValid(connection, input.statements);
  const counts: PlanCounts = {
    fetched: 0,
    new: 0,
    duplicates: 0,
    pending: 0,
    replaced: 0,
    removed: 0,
    corrected: 0,
  };
  const warnings: string[] = [];
  const newDocs: StatementLineDoc[] = [];
  const updates = new Map<string, StatementLineDoc>();
  const takenIds = new Set(input.existing.map((l) => l._id));
  const current = (line: StatementLineDoc): StatementLineDoc => updates.get(line._id) ?? line;

  // Group statements by account: several statements of one account in one fetch (two files, or a
  // file with two pages) are one feed for that account.
  const byAccount = new Map<
    string,
    { accountId: string; txs: BankTransaction[]; from?: CalendarDate; to?: CalendarDate }
  >();
  for (const s of input.statements) {
    const key = accountKey(s.accountId);
    const entry = byAccount.get(key) ?? {
      accountId: s.accountId.trim(),
      txs: [] as BankTransaction[],
    };
    // One by one: spreading a million lines into push() would overflow the call stack.
    for (const tx of s.transactions) entry.txs.push(tx);
    if (s.from && (!entry.from || s.from < entry.from)) entry.from = s.from;
    if (s.to && (!entry.to || s.to > entry.to)) entry.to = s.to;
    byAccount.set(key, entry);
  }
  const existingByAccount = new Map<string, StatementLineDoc[]>();
  for (const line of input.existing) {
    const key = accountKey(line.account_id);
    const list = existingByAccount.get(key);
    if (list) list.push(line);
    else existingByAccount.set(key, [line]);
  }

  // Re-consent can hand out new account ids for the same accounts: an account the
  // connection has never stored a line for is matched against the lines of stored accounts that
  // are absent from this fetch, so history is not imported a second time.
  const orphans = input.existing.filter((l) => !byAccount.has(accountKey(l.account_id)));
  const claimed = new Set<string>();

  for (const [account, feed] of byAccount) {
    const own = existingByAccount.get(account);
    const stored = (own && own.length > 0 ? own : orphans)
      .slice()
      .sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));

    // Corrections first, as the `parse` preview applies them (corrections.ts).
    const applied = applyFeedCorrections(feed.txs.filter((t) => includePending || !t.pending));
    const txs = applied.lines;
    const corrections: Array<{
      target: string;
      action: 'REPLACE' | 'DELETE';
      replacement?: Incoming;
    }> = applied.corrections.map((c) => ({ target: c.target, action: c.action }));

    // Occurrence numbers and provider-id uniqueness, in feed order.
    const pidCount = new Map<string, number>();
    const seenContent = new Map<string, number>();
    let pendingCount = 0;
    const incoming: Incoming[] = txs.map((tx) => {
      const currency = tx.currency.trim().toUpperCase();
      const hash = contentHash({
        date: tx.bookingDate,
        amount: tx.amount,
        currency,
        payee: tx.payee,
        memo: tx.memo,
      });
      const occurrence = seenContent.get(hash) ?? 0;
      seenContent.set(hash, occurrence + 1);
      const pid = clean(tx.providerId) || undefined;
      if (pid !== undefined) pidCount.set(pid, (pidCount.get(pid) ?? 0) + 1);
      if (tx.pending) pendingCount++;
      return {
        tx,
        currency,
        account,
        accountId: feed.accountId,
        pid,
        pidUnique: false,
        hash,
        occurrence,
      };
    });
    seenContent.clear();
    for (const inc of incoming)
      inc.pidUnique = inc.pid !== undefined && pidCount.get(inc.pid) === 1;
    pidCount.clear();
    for (const c of corrections) {
      if (c.action === 'REPLACE')
        c.replacement = incoming.find((i) => i.tx.corrects?.providerId.trim() === c.target);
    }
    counts.fetched += incoming.length;
    counts.pending += pendingCount;

    // Pass 1: provider id, only when the stored line books the same money (or is a pending line,
    // which may change amount and date until it books).
    const byPid = new Map<string, StatementLineDoc[]>();
    for (const line of stored) {
      if (line.provider_id) {
        const list = byPid.get(line.provider_id);
        if (list) list.push(line);
        else byPid.set(line.provider_id, [line]);
      }
    }
    for (const inc of incoming) {
      if (!inc.pid) continue;
      const candidates = (byPid.get(inc.pid) ?? []).filter((l) => !claimed.has(l._id));
      const hit = candidates.find((l) => sameMoney(l, inc.tx)) ?? candidates.find((l) => l.pending);
      if (hit) {
        inc.match = hit;
        claimed.add(hit._id);
      }
    }
    // Pass 2: exact content, for transactions whose id is missing, new, or shifted.
    const byContent = new Map<string, StatementLineDoc[]>();
    for (const line of stored) {
      const h = lineContentHash(line);
      const list = byContent.get(h);
      if (list) list.push(line);
      else byContent.set(h, [line]);
    }
    for (const inc of incoming) {
      if (inc.match) continue;
      const hit = (byContent.get(inc.hash) ?? []).find((l) => !claimed.has(l._id));
      if (hit) {
        inc.match = hit;
        claimed.add(hit._id);
      }
    }

    // Matched transactions: duplicates, or a pending line updated in place (booked, or its amount moved).
    for (const inc of incoming) {
      const line = inc.match;
      if (!line) continue;
      counts.duplicates += 1;
      if (isProtected(line) || !line.pending) continue;
      if (line.state === 'new') {
        const next = updatedInPlace(current(line), inc);
        if (changed(current(line), next)) updates.set(line._id, next);
      }
    }

    // New transactions get their ids.
    for (const inc of incoming) {
      if (inc.match) continue;
      let key: string | undefined;
      let id: string | undefined;
      if (inc.pid && inc.pidUnique) {
        const candidate = providerKey(feed.accountId, inc.pid);
        const candidateId = statementLineId(connection, candidate);
        if (!takenIds.has(candidateId)) {
          key = candidate;
          id = candidateId;
        }
      }
      if (key === undefined || id === undefined) {
        let n = inc.occurrence;
        while (takenIds.has(statementLineId(connection, hashKey(feed.accountId, inc.hash, n))))
          n += 1;
        key = hashKey(feed.accountId, inc.hash, n);
        id = statementLineId(connection, key);
      }
      const doc = newLine(connection, id, key, inc, importedAt, input.importId);
      takenIds.add(doc._id);
      inc.newId = doc._id;
      newDocs.push(doc);
    }

    // Pass 3: a new booked line supersedes a stored pending line that the feed no longer carries.
    const storedPending = stored.filter((l) => l.pending);
    const pendingPool = () =>
      storedPending.filter((l) => !claimed.has(l._id) && current(l).replaced_by === undefined);
    for (const inc of incoming) {
      if (!inc.newId || inc.tx.pending || storedPending.length === 0) continue;
      const near = pendingPool().filter(
        (l) =>
          l.currency === inc.tx.currency.trim().toUpperCase() &&
          Math.abs(daysBetween(l.date, inc.tx.bookingDate)) <= PENDING_MATCH_DAYS,
      );
      const byDistance = (a: StatementLineDoc, b: StatementLineDoc) =>
        Math.abs(daysBetween(a.date, inc.tx.bookingDate)) -
          Math.abs(daysBetween(b.date, inc.tx.bookingDate)) || (a._id < b._id ? -1 : 1);
      const payee = normalisedPayee(inc.tx.payee);
      const hit =
        near.filter((l) => l.amount === inc.tx.amount).sort(byDistance)[0] ??
        (payee
          ? near
              .filter(
                (l) =>
                  normalisedPayee(l.payee) === payee &&
                  Math.sign(l.amount) === Math.sign(inc.tx.amount),
              )
              .sort(byDistance)[0]
          : undefined);
      if (!hit) continue;
      claimed.add(hit._id);
      counts.replaced += 1;
      if (isProtected(hit)) {
        // The user reconciled or deleted the pending line: the booked version is the same money and
        // must not come in beside it.
        const at = newDocs.findIndex((d) => d._id === inc.newId);
        if (at >= 0) newDocs.splice(at, 1);
        takenIds.delete(inc.newId);
        inc.newId = undefined;
        counts.duplicates += 1;
        continue;
      }
      const next: StatementLineDoc = { ...current(hit), replaced_by: inc.newId };
      if (hit.state === 'new') next.state = 'deleted';
      updates.set(hit._id, next);
    }

    // Corrections (OFX CORRECTFITID / CORRECTACTION).
    for (const c of corrections) {
      const target =
        stored.find((l) => l.provider_id === c.target && current(l).state !== 'deleted') ??
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
          const at = newDocs.findIndex((d) => d._id === c.replacement?.newId);
          if (at >= 0) newDocs.splice(at, 1);
        }
        continue;
      }
      if (current(target).state === 'deleted') continue;
      const next: StatementLineDoc = { ...current(target), state: 'deleted' };
      const replacementId = c.replacement?.newId ?? c.replacement?.match?._id;
      if (c.action === 'REPLACE' && replacementId) next.replaced_by = replacementId;
      if (target.state === 'posted')
        warnings.push(
          `${connection}: the bank ${c.action === 'DELETE' ? 'deleted' : 'replaced'} transaction ${c.target}, already posted as ${target.move ?? 'a move'}; reverse that move`,
        );
      updates.set(target._id, next);
      counts.corrected += 1;
    }

    // Pending lines dated inside what this fetch covered for the account that nobody claimed
    // vanished from the feed: they are marked `vanished_at` and kept, so that one the bank shows
    // again matches its stored line (updated in place) instead of coming in as new.
    const from = feed.from && feed.from > window.from ? feed.from : window.from;
    const to = feed.to && feed.to < window.to ? feed.to : window.to;
    for (const line of pendingPool()) {
      if (
        line.state !== 'new' ||
        line.date < from ||
        line.date > to ||
        current(line).vanished_at !== undefined
      )
        continue;
      updates.set(line._id, { ...current(line), vanished_at: importedAt });
      counts.removed += 1;
    }
  }

  counts.new = newDocs.length;
  return {
    writes: [...newDocs, ...updates.values()],
    newIds: newDocs.map((d) => d._id),
    counts,
    warnings,
  };
}

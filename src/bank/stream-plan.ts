import type { StatementLineDoc } from '../ledger';
import { transactionProblem, zeroCounts, type PlanCounts } from './dedup';
import { newLine } from './line-docs';
import {
  accountKey,
  byId,
  clean,
  groupLines,
  lineContentHash,
  newLineKey,
  providerIdMatch,
  transactionHash,
} from './line-identity';
import { BankUnavailableError, MalformedStatementError } from './errors';
import type {
  BankAccountStatement,
  BankTransaction,
  StatementSink,
  StatementStream,
  StreamedStatement,
} from './provider';

/**
 * Planning and storing the lines of a {@link StatementStream} without holding them all
 * (a file of 100,000 lines in bounded memory; BENCHMARKS.md, Bank import).
 *
 * The checking pass ({@link checkStream}) reads the whole input, validates every line and keeps
 * only what the plan needs from all of it at once: each statement's summary, the provider ids
 * that are not unique, and which lines match a stored line by provider id. The storing pass
 * ({@link StreamPlanner}) then plans each line as it is read, in feed order, exactly as
 * `planStatementLines` would: provider-id matches first (known from the checking pass), then
 * content matches against the unclaimed stored lines, then new ids with occurrence numbers.
 *
 * That equivalence holds for feeds without the cases whose plan needs the whole feed at once:
 * OFX corrections, stored pending lines (replaced or removed by what the feed no longer has), an
 * account matched against another account's history (re-consent), and an account spread over
 * several inputs. {@link StreamCheck.needsArrays} says when one of them is present; the loop then
 * reads the streams into arrays and plans them the ordinary way.
 */

/** What the checking pass learned about one statement. */
interface StatementFacts {
  summary?: StreamedStatement;
  /** Lines received. */
  lines: number;
  /** Raw provider id → (lines with it × 2) + 1 if its single line is imported (see `countId`). */
  ids?: Map<string, number>;
  /** Raw provider ids several lines of this statement share: dropped, as the parsers drop them. */
  shared?: Set<string>;
}

/** A line whose provider id some stored line has: it may match that line (pass 1 of the plan). */
interface IdCandidate {
  ordinal: number;
  statement: number;
  raw: string;
  pid: string;
  tx: Pick<BankTransaction, 'amount' | 'currency' | 'bookingDate'>;
}

/** The result of a stream's checking pass. */
export interface StreamCheck {
  stream: StreamedInput;
  statements: StreamedStatement[];
  /** Lines of each statement, in order. */
  lineCounts: number[];
  warnings: string[];
  /** A line carries an OFX correction (CORRECTFITID): its plan needs the whole feed. */
  hasCorrections: boolean;
  /** Per statement: raw provider ids shared by several of its lines. */
  shared: Array<Set<string> | undefined>;
  /** Per account key: cleaned provider ids that more than one imported line of the account carries. */
  nonUnique: Map<string, Set<string>>;
  candidates: IdCandidate[];
}

/** A stream and what the loop needs to read it. */
export interface StreamedInput {
  stream: StatementStream;
  connection: string;
  includePending: boolean;
  /** Throws to stop a read (the run was aborted). */
  checkAborted: () => void;
}

/** Records one more line with raw provider id `raw`; `imported` says whether it passes the pending filter. */
function countId(ids: Map<string, number>, raw: string, imported: boolean): void {
  const seen = ids.get(raw);
  if (seen === undefined) ids.set(detached(raw), 2 + (imported ? 1 : 0));
  else ids.set(raw, seen + 2);
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * `text` as a string of its own. A reader's strings may be slices of the chunk of input they were
 * read from (V8 keeps a substring of 13 characters or more as a view of its parent), so keeping
 * one id for every line of a re-read file would keep the whole file.
 */
function detached(text: string): string {
  return text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string);
}

/**
 * Reads `input` once, validating every line. Keeps of the lines only their provider ids (for
 * uniqueness) and the few that may match a stored line by provider id (`storedIds`).
 * Throws MalformedStatementError for an input the books cannot take.
 */
export async function checkStream(
  input: StreamedInput,
  storedIds: ReadonlySet<string>,
): Promise<StreamCheck> {
  const { stream, connection, includePending } = input;
  const facts: StatementFacts[] = [];
  const candidates: IdCandidate[] = [];
  let hasCorrections = false;
  let ordinal = 0;
  let seenSinceYield = 0;
  const factsOf = (index: number): StatementFacts => {
    if (!Number.isInteger(index) || index < 0)
      throw badResult(stream, `statement index ${String(index)}`);
    while (facts.length <= index) facts.push({ lines: 0 });
    return facts[index];
  };
  const sink: StatementSink = {
    transaction(tx, index) {
      const f = factsOf(index);
      if (f.summary) throw badResult(stream, `a line of statement ${index + 1} after its end`);
      const why =
        tx === null || typeof tx !== 'object' ? 'not a transaction' : transactionProblem(tx);
      if (why !== undefined) {
        const id =
          typeof tx?.providerId === 'string' && tx.providerId ? ` (id ${tx.providerId})` : '';
        throw new MalformedStatementError(
          'BANK_MALFORMED',
          `${connection}: ${stream.name}: statement ${index + 1}, transaction ${f.lines + 1}${id}: ${why}; nothing was imported`,
          {
            details: { connection, input: stream.name, statement: index, index: f.lines },
          },
        );
      }
      f.lines += 1;
      const imported = includePending || !tx.pending;
      if (imported && tx.corrects && clean(tx.corrects.providerId)) hasCorrections = true;
      if (tx.providerId !== undefined && tx.providerId !== null) {
        countId((f.ids ??= new Map<string, number>()), tx.providerId, imported);
        const pid = clean(tx.providerId);
        if (imported && pid && storedIds.has(pid)) {
          const raw = detached(tx.providerId);
          candidates.push({
            ordinal,
            statement: index,
            raw,
            pid: raw === pid ? raw : detached(pid),
            tx: { amount: tx.amount, currency: tx.currency, bookingDate: tx.bookingDate },
          });
        }
      }
      ordinal += 1;
      seenSinceYield += 1;
    },
    statement(summary, index) {
      const f = factsOf(index);
      if (f.summary) throw badResult(stream, `statement ${index + 1} ended twice`);
      if (typeof summary?.accountId !== 'string' || accountKey(summary.accountId) === '') {
        throw new MalformedStatementError(
          'BANK_MALFORMED',
          `${connection}: ${stream.name}: statement ${index + 1} has no account id`,
          { details: { connection, input: stream.name } },
        );
      }
      if (summary.transactionCount !== f.lines)
        throw badResult(
          stream,
          `statement ${index + 1} says ${summary.transactionCount} lines but gave ${f.lines}`,
        );
      f.summary = summary;
    },
    async drain() {
      input.checkAborted();
      // A reader that hands over a whole file in one go must still let timers and I/O run.
      if (seenSinceYield >= 10_000) {
        seenSinceYield = 0;
        await yieldToLoop();
      }
    },
  };
  const { warnings } = await stream.read(sink);
  return checked(input, facts, candidates, hasCorrections, [...warnings]);
}

/**
 * The result of a checking pass from what it saw: the statements' summaries, the raw provider ids
 * shared within a statement (dropped, with a warning), and the cleaned ids several imported lines
 * of an account carry. Only those few ids outlive the pass, not a map of every line's id.
 */
function checked(
  input: StreamedInput,
  facts: StatementFacts[],
  candidates: IdCandidate[],
  hasCorrections: boolean,
  warnings: string[],
): StreamCheck {
  const { stream } = input;
  const statements: StreamedStatement[] = [];
  facts.forEach((f, i) => {
    if (!f.summary) throw badResult(stream, `statement ${i + 1} never ended`);
    statements.push(f.summary);
  });
  const shared = facts.map((f) => {
    if (!f.ids) return undefined;
    const ids = [...f.ids].filter(([, n]) => n >= 4).map(([raw]) => raw);
    return ids.length > 0 ? new Set(ids) : undefined;
  });
  for (const [i, set] of shared.entries()) {
    if (!set) continue;
    for (const raw of set) {
      // The parsers' wording (dropSharedProviderIds), so a file says the same streamed or not.
      warnings.push(
        `${stream.name}: account ${statements[i].accountId}: id '${raw}' is used by ${facts[i].ids!.get(raw)! >> 1} lines; they are matched by content instead`,
      );
    }
  }
  const counts = new Map<string, Map<string, number>>();
  facts.forEach((f, i) => {
    const key = accountKey(statements[i].accountId);
    const count = counts.get(key) ?? new Map<string, number>();
    counts.set(key, count);
    for (const [raw, n] of f.ids ?? []) {
      // A shared raw id was dropped; a lone one counts if its line is imported.
      if (n !== 3) continue;
      const pid = clean(raw);
      if (pid) count.set(pid, (count.get(pid) ?? 0) + 1);
    }
    f.ids = undefined;
  });
  const nonUnique = new Map<string, Set<string>>();
  for (const [key, count] of counts)
    nonUnique.set(key, new Set([...count].filter(([, n]) => n > 1).map(([pid]) => pid)));
  counts.clear();
  return {
    stream: input,
    statements,
    lineCounts: facts.map((f) => f.lines),
    warnings,
    hasCorrections,
    shared,
    nonUnique,
    candidates,
  };
}

function badResult(stream: StatementStream, what: string): BankUnavailableError {
  return new BankUnavailableError(
    'BANK_BAD_RESULT',
    `${stream.name}: the statement stream is inconsistent (${what}); nothing of it was imported`,
    { details: { input: stream.name } },
  );
}

/** Reads a checked stream into ordinary statements (the path for feeds a stream cannot plan). */
export async function collectStream(check: StreamCheck): Promise<BankAccountStatement[]> {
  const lines: BankTransaction[][] = check.statements.map(() => []);
  const { stream } = check.stream;
  await stream.read({
    transaction(tx, index) {
      if (tx.providerId !== undefined && check.shared[index]?.has(tx.providerId)) {
        const copy = { ...tx };
        delete copy.providerId;
        lines[index]?.push(copy);
      } else {
        lines[index]?.push(tx);
      }
    },
    statement() {},
    // eslint-disable-next-line @typescript-eslint/require-await -- async so that an abort reaches the parser as a rejection
    async drain() {
      check.stream.checkAborted();
    },
  });
  lines.forEach((l, i) => {
    if (l.length !== check.lineCounts[i])
      throw badResult(
        stream,
        `statement ${i + 1} gave ${check.lineCounts[i]} lines, then ${l.length}`,
      );
  });
  return check.statements.map((s, i) => {
    const { transactionCount: _count, ...rest } = s;
    return { ...rest, transactions: lines[i] };
  });
}

/** Per-account state of the storing pass. */
interface AccountState {
  accountId: string;
  /** The account's stored lines (none pending: see needsArrays), sorted by id, until indexed. */
  own: StatementLineDoc[];
  /**
   * The stored lines that no provider id claimed, by content hash: built at the first line that
   * needs it, after the claims (a re-run of a file whose lines all match by id never hashes).
   */
  byContent?: Map<string, StatementLineDoc[]>;
  /** Ids of every stored line of the connection (new ids must avoid them). */
  takenIds: ReadonlySet<string>;
  /** Occurrences of each content hash so far, in feed order. */
  seen: Map<string, number>;
  /** Content hash → the last occurrence number given out, where it was moved past a stored id. */
  bumped: Map<string, number>;
  /** Cleaned provider ids that more than one imported line of the account carries. */
  nonUnique: Set<string>;
}

/** Options of the storing pass. */
export interface StreamPlanOptions {
  connection: string;
  includePending: boolean;
  importedAt: string;
  /** The staged import new lines belong to (`import_id`). */
  importId?: string;
  /** Stored lines of the connection (any state). */
  existing: readonly StatementLineDoc[];
  /** Stores a batch of new lines (all absent from the books). */
  write: (docs: StatementLineDoc[]) => Promise<void>;
  batchSize: number;
}

/**
 * Why a set of checked streams cannot be planned line by line (undefined when it can):
 * see the module comment. `arrayAccounts` are the account keys of the fetch's ordinary statements.
 */
export function needsArrays(
  checks: readonly StreamCheck[],
  arrayAccounts: ReadonlySet<string>,
  existing: readonly StatementLineDoc[],
): string | undefined {
  const streamAccounts = new Set<string>();
  for (const check of checks) {
    if (check.hasCorrections) return `${check.stream.stream.name} carries corrections`;
    const own = new Set(check.statements.map((s) => accountKey(s.accountId)));
    for (const key of own) {
      if (streamAccounts.has(key) || arrayAccounts.has(key))
        return `account ${key} is in more than one input`;
      streamAccounts.add(key);
    }
  }
  const withLines = new Set<string>();
  let orphans = false;
  for (const line of existing) {
    const key = accountKey(line.account_id);
    if (streamAccounts.has(key)) {
      withLines.add(key);
      if (line.pending) return `account ${key} has pending lines stored`;
    } else if (!arrayAccounts.has(key)) {
      orphans = true;
    }
  }
  if (orphans) {
    for (const key of streamAccounts)
      if (!withLines.has(key))
        return `account ${key} is new while other accounts' lines are stored`;
  }
  return undefined;
}

/**
 * The storing pass over checked streams: plans each line as it is read and hands the new lines to
 * `write` in batches of `batchSize`, awaited between chunks of input. Counts, new ids and
 * warnings add up over the streams it stores.
 */
export class StreamPlanner {
  readonly counts: PlanCounts = zeroCounts();
  readonly newIds: string[] = [];
  private readonly accounts = new Map<string, AccountState>();
  private readonly takenIds: Set<string>;
  private readonly claimed = new Set<string>();
  private readonly stored: Map<string, StatementLineDoc[]>;

  private readonly options: Omit<StreamPlanOptions, 'existing'>;

  constructor(options: StreamPlanOptions) {
    // The stored lines live on in `stored` only, each account's list until it is indexed.
    const { existing, ...rest } = options;
    this.options = rest;
    this.takenIds = new Set(existing.map((l) => l._id));
    this.stored = groupLines(existing, (line) => accountKey(line.account_id));
  }

  /** Plans and stores the lines of one checked stream (reading it a second time). */
  async store(check: StreamCheck): Promise<void> {
    const { includePending, batchSize } = this.options;
    const { stream } = check.stream;
    const statementAccounts = check.statements.map((s) => this.account(s, check));
    const claims = this.claimById(check, statementAccounts);
    const received = check.statements.map(() => 0);
    let ordinal = 0;
    let batch: StatementLineDoc[] = [];
    // One batch is written while the next is read and planned (LevelDB writes on its own thread),
    // never more: memory holds at most the batch in flight and the one being filled.
    let writing: Promise<void> = Promise.resolve();
    const write = async (docs: StatementLineDoc[]): Promise<void> => {
      await writing;
      writing = this.options.write(docs);
      writing.catch(() => undefined); // awaited before the next write or at the end
    };
    const sink: StatementSink = {
      transaction: (tx, index) => {
        const state = statementAccounts[index];
        if (!state)
          throw badResult(
            stream,
            `a line of statement ${index + 1}, which the first read did not have`,
          );
        received[index] += 1;
        const at = ordinal;
        ordinal += 1;
        if (!includePending && tx.pending) return;
        const doc = this.planLine(tx, state, check.shared[index], claims.has(at));
        if (doc) batch.push(doc);
      },
      statement: (summary, index) => {
        const first = check.statements[index];
        if (!first || accountKey(summary.accountId) !== accountKey(first.accountId))
          throw badResult(stream, `statement ${index + 1} changed account between reads`);
      },
      drain: async () => {
        check.stream.checkAborted();
        while (batch.length >= batchSize) {
          const full = batch.slice(0, batchSize);
          batch = batch.slice(batchSize);
          await write(full);
        }
      },
    };
    try {
      await stream.read(sink);
    } catch (err) {
      await writing.catch(() => undefined); // no write left running behind a failed run
      throw err;
    }
    received.forEach((n, i) => {
      if (n !== check.lineCounts[i])
        throw badResult(stream, `statement ${i + 1} gave ${check.lineCounts[i]} lines, then ${n}`);
    });
    if (batch.length > 0) await write(batch.splice(0));
    await writing;
  }

  /**
   * Plans one line in feed order as planStatementLines does: a duplicate when it claimed a stored
   * line by provider id (`claimedById`, from the checking pass) or matches an unclaimed one by
   * content; else its new line, whose occurrence number also moves past what an earlier line of
   * the same content was moved to (planStatementLines' taken-id walk, without keeping every new id).
   */
  private planLine(
    tx: BankTransaction,
    state: AccountState,
    shared: ReadonlySet<string> | undefined,
    claimedById: boolean,
  ): StatementLineDoc | undefined {
    const { connection } = this.options;
    const raw = tx.providerId;
    const pid =
      raw === undefined || raw === null || shared?.has(raw) ? undefined : clean(raw) || undefined;
    const currency = tx.currency.trim().toUpperCase();
    const hash = transactionHash(tx, currency);
    const occurrence = state.seen.get(hash) ?? 0;
    state.seen.set(hash, occurrence + 1);
    this.counts.fetched += 1;
    if (tx.pending) this.counts.pending += 1;
    let match = claimedById;
    if (!match) {
      const hit = this.contentIndex(state)
        .get(hash)
        ?.find((l) => !this.claimed.has(l._id));
      if (hit) this.claimed.add(hit._id);
      match = hit !== undefined;
    }
    if (match) {
      // A stored line that is not pending (see needsArrays): a duplicate, nothing to write.
      this.counts.duplicates += 1;
      return undefined;
    }
    const usablePid = pid !== undefined && !state.nonUnique.has(pid) ? pid : undefined;
    const from = Math.max(occurrence, (state.bumped.get(hash) ?? -1) + 1);
    const {
      key,
      id,
      occurrence: n,
    } = newLineKey(connection, state.accountId, usablePid, hash, from, this.takenIds);
    if (n !== undefined && n > occurrence) state.bumped.set(hash, n);
    const source = { tx, currency, accountId: state.accountId, pid };
    const doc = newLine(
      connection,
      id,
      key,
      source,
      this.options.importedAt,
      this.options.importId,
    );
    this.newIds.push(doc._id);
    this.counts.new += 1;
    return doc;
  }

  /** The state of a statement's account, created with its stored lines on first use. */
  private account(statement: StreamedStatement, check: StreamCheck): AccountState {
    const key = accountKey(statement.accountId);
    let state = this.accounts.get(key);
    if (state) return state;
    const own = (this.stored.get(key) ?? []).sort(byId);
    this.stored.delete(key);
    state = {
      accountId: statement.accountId.trim(),
      own,
      takenIds: this.takenIds,
      seen: new Map(),
      bumped: new Map(),
      nonUnique: check.nonUnique.get(key) ?? new Set(),
    };
    this.accounts.set(key, state);
    return state;
  }

  /** The account's unclaimed stored lines by content hash (see {@link AccountState.byContent}). */
  private contentIndex(state: AccountState): Map<string, StatementLineDoc[]> {
    if (state.byContent) return state.byContent;
    const byContent = groupLines(state.own, (line) =>
      this.claimed.has(line._id) ? undefined : lineContentHash(line),
    );
    state.byContent = byContent;
    state.own = [];
    return byContent;
  }

  /**
   * Pass 1 of the plan for the whole stream, from the checking pass's candidates in feed order:
   * each line claims the first unclaimed stored line (sorted by id) with its provider id that
   * books the same money, or a pending one. Returns the ordinals of the lines that claimed one;
   * the accounts keep only their unclaimed stored lines (what content matching may still use).
   */
  private claimById(check: StreamCheck, accounts: AccountState[]): Set<number> {
    const claims = new Set<number>();
    if (check.candidates.length === 0) return claims;
    const byPid = new Map<AccountState, Map<string, StatementLineDoc[]>>();
    const index = (state: AccountState): Map<string, StatementLineDoc[]> => {
      let map = byPid.get(state);
      if (map) return map;
      // `own` is sorted by id, so each list is too.
      map = groupLines(state.own, (line) => line.provider_id || undefined);
      byPid.set(state, map);
      return map;
    };
    for (const c of check.candidates) {
      if (check.shared[c.statement]?.has(c.raw)) continue;
      const hit = providerIdMatch(index(accounts[c.statement]).get(c.pid), c.tx, this.claimed);
      if (hit) {
        claims.add(c.ordinal);
        this.claimed.add(hit._id);
      }
    }
    check.candidates.length = 0;
    for (const state of byPid.keys()) state.own = state.own.filter((l) => !this.claimed.has(l._id));
    return claims;
  }
}

import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isCalendarDate, type CalendarDate } from '../shared/dates';
import { Deadline } from '../shared/deadline';
import { PermanentError, describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { redactText, safeErrorSummary } from '../shared/redact';
import { type BankConnectionStatus, type BooksStore, type StatementLineDoc } from '../ledger';
import {
  DEFAULT_HISTORY_DAYS,
  DEFAULT_OVERLAP_DAYS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  fetchWindow,
  sinceWindow,
  todayIn,
  validateSpec,
  type ConnectionSpec,
} from './connection-spec';
import { accountKey, planStatementLines, type LinePlan, type PlanCounts } from './dedup';
import {
  BankAuthError,
  BankUnavailableError,
  ConsentExpiredError,
  MalformedStatementError,
  RateLimitedError,
} from './errors';
import type {
  BankAccountStatement,
  BankProvider,
  FetchContext,
  FetchResult,
  StreamedStatement,
} from './provider';
import {
  checkStream,
  collectStream,
  needsArrays,
  StreamPlanner,
  type StreamCheck,
} from './stream-plan';
import { newStagedImport, rollbackStaged, withoutStaged } from './staging';
import { DEFAULT_WRITE_BATCH, StatementLineStore } from './line-store';
import type { ProviderRegistry } from './registry';
import {
  clearBlock,
  consentDaysLeft,
  consentWarningDue,
  credentialsFingerprint,
  healthyStatus,
  initialStatus,
  readBlock,
  readStatus,
  writeBlock,
  type BankConnectionState,
} from './status';

export { DEFAULT_WRITE_BATCH } from './line-store';
export * from './connection-spec';

/** Why a run made no provider call. */
export type SkipReason =
  'rate_limited' | 'auth_required' | 'consent_expired' | 'permanent_error' | 'disabled';

/** What one run did: the `bank.run` log line, what `booksync fetch` prints. */
export interface RunOutcome {
  connection: string;
  provider: string;
  status: BankConnectionStatus;
  skipped?: SkipReason;
  window?: { from: CalendarDate; to: CalendarDate };
  counts: PlanCounts;
  ms: number;
  next_run_at?: string;
  error?: { code: string; message: string };
  warnings: string[];
  /** Ids of the statement lines this run created. */
  new_ids: string[];
}

export interface RunOptions {
  /** Aborts the run (daemon stopping). */
  signal?: AbortSignal;
  /** The next scheduled run after a run ending at `now` (the scheduler's plan); rate limits override it. */
  planNext?: (now: Date) => Date | undefined;
  /**
   * Retry an auth_required or permanently failed connection once although its credentials did not
   * change (an admin's `booksync fetch NAME`). Never overrides a rate limit or an expired consent.
   */
  force?: boolean;
  /**
   * Fetch from this day instead of the watermark (`booksync fetch NAME --since DATE`: a past
   * window fetched again for missing transactions). The watermark never moves back for it.
   */
  since?: CalendarDate;
}

/** What the fetch loop needs from the books (BooksStore, or a wrapper in tests). */
export type BankStore = Pick<BooksStore, 'get' | 'put' | 'putMany' | 'allOfType' | 'db'>;

export interface FetchLoopOptions {
  store: BankStore;
  registry: ProviderRegistry;
  logger: Logger;
  /** The clock; tests freeze it. */
  now?: () => Date;
  /** @default 1000 */
  writeBatchSize?: number;
  /** Connections with at most this many stored lines keep them cached between runs. @default 20000 */
  lineCacheMax?: number;
}

/** A fetch on its way to the planner (see `FetchLoop.planRun`). */
interface PlanHolder {
  fetched?: FetchResult;
  existing?: StatementLineDoc[];
}

/** The checked streams of a run, and how they are stored. */
interface StreamRun {
  /** Statements of the streams (all but their lines), for the balance. */
  statements: StreamedStatement[];
  warnings: string[];
  checks: StreamCheck[];
  /** Absent when the streams were read into `statements` arrays instead (see `needsArrays`). */
  planner?: StreamPlanner;
}

function addCounts(a: PlanCounts, b: PlanCounts): PlanCounts {
  const sum = { ...a };
  for (const key of Object.keys(sum) as Array<keyof PlanCounts>) sum[key] += b[key];
  return sum;
}

/** What the end of a run needs of the provider's result. */
interface RunLeftovers {
  commit?: () => Promise<void>;
  consentExpiresAt?: string;
  warnings: string[];
  balance: BankConnectionState['balance'];
}

const ZERO_COUNTS: Readonly<PlanCounts> = Object.freeze({
  fetched: 0,
  new: 0,
  duplicates: 0,
  pending: 0,
  replaced: 0,
  removed: 0,
  corrected: 0,
});

/** The balance for the status document: the latest-dated ledger balance (else available) reported. */
function balanceOf(
  statements: ReadonlyArray<Pick<BankAccountStatement, 'balances'>>,
): BankConnectionState['balance'] {
  let best: { amount: number; currency: string; date: CalendarDate; kind: string } | undefined;
  for (const s of statements) {
    for (const b of s.balances ?? []) {
      if (!Number.isSafeInteger(b.amount) || !isCalendarDate(b.date)) continue;
      const better =
        !best ||
        (b.kind === 'ledger' && best.kind !== 'ledger') ||
        (b.kind === best.kind && b.date >= best.date);
      if (better) best = b;
    }
  }
  return best ? { amount: best.amount, currency: best.currency, date: best.date } : undefined;
}

/**
 * Runs fetches for bank connections, one at a time per connection (a second call while one runs
 * gets the running one's outcome). A run: gates (rate limit, auth/consent blocks) → window →
 * status `fetching` → provider.fetch under a deadline → dedup plan → lines written → the
 * provider's `commit` → status, counts and watermark in one write. Any failure before that last
 * write leaves the watermark where it was; the lines already written are found again by id on
 * the next run.
 */
export class FetchLoop {
  private readonly store: BankStore;
  private readonly registry: ProviderRegistry;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly lines: StatementLineStore;
  private readonly inflight = new Map<
    string,
    { promise: Promise<RunOutcome>; controller: AbortController }
  >();

  constructor(options: FetchLoopOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.logger = options.logger.child({ component: 'bank' });
    this.now = options.now ?? (() => new Date());
    this.lines = new StatementLineStore(
      this.store,
      Math.max(1, options.writeBatchSize ?? DEFAULT_WRITE_BATCH),
      options.lineCacheMax ?? 20_000,
    );
  }

  /** Runs `spec` now, or joins its run in progress. Never rejects: failures are in the outcome. */
  run(spec: ConnectionSpec, options: RunOptions = {}): Promise<RunOutcome> {
    const running = this.inflight.get(spec.name);
    if (running) return running.promise;
    const controller = new AbortController();
    const onStop = () =>
      controller.abort(
        new BankUnavailableError(
          'BANK_ABORTED',
          `${spec.name}: the fetch was stopped (booksync is shutting down); it runs again on the next schedule`,
        ),
      );
    if (options.signal?.aborted) onStop();
    else options.signal?.addEventListener('abort', onStop, { once: true });
    const promise = this.execute(spec, options, controller).finally(() => {
      options.signal?.removeEventListener('abort', onStop);
      this.inflight.delete(spec.name);
    });
    this.inflight.set(spec.name, { promise, controller });
    return promise;
  }

  isRunning(name: string): boolean {
    return this.inflight.has(name);
  }

  /** Names of connections with a run in progress. */
  running(): string[] {
    return [...this.inflight.keys()];
  }

  /** Aborts every run in progress (their outcomes record the abort). */
  abortAll(): void {
    for (const [name, run] of this.inflight) {
      run.controller.abort(
        new BankUnavailableError(
          'BANK_ABORTED',
          `${name}: the fetch was stopped (booksync is shutting down); it runs again on the next schedule`,
        ),
      );
    }
  }

  /**
   * Rolls back the staged import a run of `spec` left behind (the process died mid-import), so
   * its lines are gone before anything else starts. Failures are logged; the next run retries.
   */
  async recover(spec: ConnectionSpec): Promise<void> {
    if (this.inflight.has(spec.name)) return;
    const log = this.logger.child({ connection: spec.name, provider: spec.provider });
    try {
      const doc = await readStatus(this.store as BooksStore, spec.name);
      if (doc?.staged_import)
        await rollbackStaged(this.store, doc, async (next) => await this.store.put(next), log);
    } catch (err) {
      log.error(
        `${spec.name}: cannot roll back its unfinished import: ${describeError(err).message}`,
        { event: 'bank.error', error: describeError(err) },
      );
    }
  }

  /** Resolves when no run is in progress. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0)
      await Promise.allSettled([...this.inflight.values()].map((r) => r.promise));
  }

  private async execute(
    spec: ConnectionSpec,
    options: RunOptions,
    controller: AbortController,
  ): Promise<RunOutcome> {
    const t0 = performance.now();
    const started = this.now();
    const log = this.logger.child({ connection: spec.name, provider: spec.provider });
    // What a bank said reaches the status document (which syncs), the log and `booksync fetch`:
    // masked here once more whatever the provider did (shared/redact.ts).
    const secrets = Object.values(spec.secrets);
    const safeError = (error: { code: string; message: string }) =>
      safeErrorSummary(error, secrets);
    const finish = (outcome: Omit<RunOutcome, 'ms' | 'connection' | 'provider'>): RunOutcome => {
      const full: RunOutcome = {
        connection: spec.name,
        provider: spec.provider,
        ...outcome,
        ms: Math.round(performance.now() - t0),
      };
      if (full.error) full.error = safeError(full.error);
      full.warnings = full.warnings.map((w) => redactText(w, secrets));
      const level = full.error && !full.skipped ? 'warn' : 'info';
      log.log(
        level,
        `bank run ${spec.name}: ${full.status}${full.skipped ? ` (skipped: ${full.skipped})` : ''}`,
        {
          event: 'bank.run',
          status: full.status,
          ...(full.skipped ? { skipped: full.skipped } : {}),
          window: full.window ? `${full.window.from}..${full.window.to}` : null,
          fetched: full.counts.fetched,
          new: full.counts.new,
          duplicates: full.counts.duplicates,
          pending: full.counts.pending,
          ...(full.counts.replaced ? { replaced: full.counts.replaced } : {}),
          ...(full.counts.removed ? { removed: full.counts.removed } : {}),
          ...(full.counts.corrected ? { corrected: full.counts.corrected } : {}),
          ms: full.ms,
          next_run_at: full.next_run_at ?? null,
          error: full.error ?? null,
          ...(full.warnings.length ? { warnings: full.warnings } : {}),
        },
      );
      return full;
    };

    let doc: BankConnectionState;
    try {
      validateSpec(spec);
      doc =
        (await readStatus(this.store as BooksStore, spec.name)) ??
        initialStatus(spec.name, spec.provider, spec.institution);
    } catch (err) {
      return finish({
        status: 'error',
        counts: { ...ZERO_COUNTS },
        error: describeError(err),
        warnings: [],
        new_ids: [],
      });
    }
    const previous = doc.status;
    const save = async (next: BankConnectionState): Promise<BankConnectionState> => {
      const written = (await this.store.put(next)) as BankConnectionState;
      return written;
    };
    const announce = (status: BankConnectionStatus, error?: { code: string; message: string }) => {
      if (status === previous) return;
      log.log(
        status === 'connected' || status === 'consent_expiring' ? 'info' : 'warn',
        `bank connection ${spec.name}: ${previous} → ${status}`,
        {
          event: 'bank.status',
          from: previous,
          to: status,
          ...(error ? { error } : {}),
        },
      );
    };
    const planNext = (at: Date) => options.planNext?.(at)?.toISOString();
    doc = {
      ...doc,
      provider: spec.provider,
      institution: spec.institution,
      ...(spec.journal ? { journal: spec.journal } : {}),
    };

    // ---- gates: no provider call ---------------------------------------------------------------
    const skip = async (
      reason: SkipReason,
      status: BankConnectionStatus,
      nextRunAt: string | undefined,
      error?: { code: string; message: string },
    ): Promise<RunOutcome> => {
      const next: BankConnectionState = { ...doc, status };
      if (nextRunAt) next.next_run_at = nextRunAt;
      if (error) next.last_error = safeError(error);
      try {
        if (
          next.status !== doc.status ||
          next.next_run_at !== doc.next_run_at ||
          next.last_error?.message !== doc.last_error?.message ||
          doc._rev === undefined
        )
          await save(next);
      } catch (err) {
        log.error(`cannot save the status of ${spec.name}: ${describeError(err).message}`, {
          event: 'bank.error',
          error: describeError(err),
        });
      }
      announce(status, error);
      return finish({
        status,
        skipped: reason,
        counts: { ...ZERO_COUNTS },
        next_run_at: next.next_run_at,
        error: next.last_error,
        warnings: [],
        new_ids: [],
      });
    };
    const now = started;
    if (spec.enabled === false) return skip('disabled', 'disconnected', undefined);
    const fingerprint = credentialsFingerprint(spec.secrets, spec.settings);
    const block = readBlock(spec.stateDir);
    let renewed = false;
    if (block) {
      // `force` (someone ran `booksync fetch NAME`) retries auth and permanent failures once with
      // the same credentials — the bank may have been fixed meanwhile; an expired consent stays expired.
      const forced = options.force === true && block.status !== 'consent_expired';
      if ((block.unreadable !== undefined || block.fingerprint === fingerprint) && !forced) {
        const why =
          block.unreadable !== undefined
            ? `${spec.name}: its blocked marker cannot be read (${block.unreadable}); treated as blocked until it is fixed or removed (or \`booksync fetch ${spec.name}\`)`
            : block.status === 'auth_required'
              ? `${spec.name}: the bank rejected the credentials; no retry until they change in the config (or \`booksync fetch ${spec.name}\`)`
              : block.status === 'consent_expired'
                ? `${spec.name}: the bank consent has expired; renew it (new consent or credentials) to resume`
                : `${spec.name}: the last fetch failed in a way retrying cannot fix; no retry until the connection's settings or credentials change (or \`booksync fetch ${spec.name}\`)`;
        const code =
          block.status === 'auth_required'
            ? 'BANK_AUTH'
            : block.status === 'consent_expired'
              ? 'BANK_CONSENT_EXPIRED'
              : 'BANK_PERMANENT';
        const status = block.status === 'error' ? 'error' : block.status;
        return skip(
          block.status === 'error' ? 'permanent_error' : block.status,
          status,
          planNext(now),
          block.unreadable !== undefined
            ? { code, message: why }
            : (doc.last_error ?? { code, message: why }),
        );
      }
      clearBlock(spec.stateDir);
      renewed = block.fingerprint !== fingerprint;
      log.info(
        `${spec.name}: ${forced && !renewed ? 'fetch asked for by hand' : 'credentials or settings changed'} since the ${block.status} failure; retrying`,
        { event: 'bank.retry', reason: block.status },
      );
    }
    if (
      doc.status === 'rate_limited' &&
      doc.next_run_at &&
      Date.parse(doc.next_run_at) > now.getTime()
    ) {
      return skip('rate_limited', 'rate_limited', doc.next_run_at);
    }
    if (!renewed && doc.consent_expires_at && Date.parse(doc.consent_expires_at) <= now.getTime()) {
      const error = {
        code: 'BANK_CONSENT_EXPIRED',
        message: `${spec.name}: the bank consent expired at ${doc.consent_expires_at}; renew it to resume fetching`,
      };
      writeBlock(spec.stateDir, {
        status: 'consent_expired',
        fingerprint,
        since: now.toISOString(),
      });
      return skip('consent_expired', 'consent_expired', planNext(now), error);
    }

    // ---- the run ---------------------------------------------------------------------------------
    let window: { from: CalendarDate; to: CalendarDate } | undefined;
    let counts: PlanCounts = { ...ZERO_COUNTS };
    // The run timeout bounds the whole run: the provider's fetch and the reading and storing of
    // its streams (a drop-folder file), which stop at their next chunk once it passes.
    const runDeadline = this.runDeadline(spec, controller);
    try {
      mkdirSync(spec.stateDir, { recursive: true, mode: 0o700 });
      const provider = this.registry.get(spec.provider);
      const today = todayIn(spec.timezone, now);
      window =
        options.since !== undefined
          ? sinceWindow(spec.name, options.since, today)
          : fetchWindow(
              doc.watermark,
              today,
              spec.historyDays ?? DEFAULT_HISTORY_DAYS,
              spec.overlapDays ?? DEFAULT_OVERLAP_DAYS,
            );
      // A staged import left by a run that died is rolled back before its input is read again.
      doc = await rollbackStaged(this.store, doc, save, log);
      // New lines are written staged under this import, invisible until one status write commits it.
      const staged = newStagedImport(now);
      doc = await save({ ...doc, status: 'fetching', last_window: window, staged_import: staged });

      // The fetched statements travel in a holder that planRun empties: nothing in this async
      // frame (whose temporaries survive each await) keeps them, so the parsed lines can be
      // collected while a large import is written.
      const fetch: PlanHolder = {
        fetched: await this.fetchAbortable(provider, spec, window, log, controller),
      };
      if (!fetch.fetched || !Array.isArray(fetch.fetched.statements))
        throw new BankUnavailableError(
          'BANK_BAD_RESULT',
          `${spec.name}: provider ${provider.id} returned no statements list`,
        );
      if (fetch.fetched.streams !== undefined && !Array.isArray(fetch.fetched.streams))
        throw new BankUnavailableError(
          'BANK_BAD_RESULT',
          `${spec.name}: provider ${provider.id} returned streams that are not a list`,
        );
      fetch.existing = await this.lines.linesOf(spec.name);
      // Streamed inputs are read through once before anything is planned or stored: a bad one
      // fails the run (or is rejected by its provider) with the books untouched.
      const streamed = await this.checkStreams(spec, fetch, controller, log, staged.id);
      const { result, plan } = this.planRun(
        spec,
        window,
        fetch,
        streamed?.statements ?? [],
        staged.id,
      );
      counts = plan.counts;
      const newIds = plan.newIds;
      const planWarnings = [...(streamed?.warnings ?? []), ...plan.warnings];
      await this.lines.writeLines(plan.writes.splice(0), this.now(), controller.signal);
      if (streamed?.planner) {
        // The second read of each stream plans and stores its lines batch by batch.
        const { planner } = streamed;
        for (const check of streamed.checks.splice(0)) await planner.store(check);
        counts = addCounts(plan.counts, planner.counts);
        for (const id of planner.newIds) newIds.push(id);
      }
      // Every line is stored: this write is the commit record that makes the import visible ...
      doc = await save(withoutStaged(doc));
      // ... and now the provider may archive its input (drop folder) ...
      await result.commit?.();
      // ... and only then does the watermark move.
      const finishedAt = this.now();
      let next: BankConnectionState = {
        ...doc,
        status: 'connected',
        last_refresh_at: finishedAt.toISOString(),
        last_success_at: finishedAt.toISOString(),
        // A `--since` run starts early but ends today like any other: the watermark only moves on.
        watermark:
          doc.watermark !== undefined && doc.watermark > window.to ? doc.watermark : window.to,
        counts: {
          fetched: counts.fetched,
          new: counts.new,
          duplicates: counts.duplicates,
          pending: counts.pending,
        },
      };
      delete next.last_error;
      if (result.balance) next.balance = result.balance;
      if (result.consentExpiresAt && result.consentExpiresAt !== doc.consent_expires_at) {
        next.consent_expires_at = new Date(result.consentExpiresAt).toISOString();
        next.consent_warned = [];
      } else if (
        !result.consentExpiresAt &&
        next.consent_expires_at &&
        Date.parse(next.consent_expires_at) <= finishedAt.getTime()
      ) {
        // Renewed and fetched fine, but the provider does not report an end date: the old one is stale.
        delete next.consent_expires_at;
        delete next.consent_warned;
      }
      next = this.consentCheck(next, finishedAt, log);
      const nextRun = planNext(finishedAt);
      if (nextRun) next.next_run_at = nextRun;
      else delete next.next_run_at;
      doc = await save(next);
      clearBlock(spec.stateDir);
      announce(next.status);
      return finish({
        status: next.status,
        window,
        counts,
        next_run_at: next.next_run_at,
        warnings: [...result.warnings, ...planWarnings],
        new_ids: newIds,
      });
    } catch (err) {
      const error = safeError(describeError(err));
      const finishedAt = this.now();
      let status: BankConnectionStatus = 'error';
      let nextRun = planNext(finishedAt);
      if (err instanceof RateLimitedError) {
        status = 'rate_limited';
        nextRun = err.retryAt.toISOString();
      } else if (err instanceof BankAuthError) {
        status = 'auth_required';
        writeBlock(spec.stateDir, { status, fingerprint, since: finishedAt.toISOString() });
      } else if (err instanceof ConsentExpiredError) {
        status = 'consent_expired';
        writeBlock(spec.stateDir, { status, fingerprint, since: finishedAt.toISOString() });
      } else if (err instanceof PermanentError) {
        // A config mistake, a refused request, a redirect: retrying the same thing cannot help.
        writeBlock(spec.stateDir, {
          status: 'error',
          fingerprint,
          since: finishedAt.toISOString(),
        });
      }
      const next: BankConnectionState = {
        ...doc,
        status,
        last_refresh_at: finishedAt.toISOString(),
        last_error: error,
        counts: { fetched: counts.fetched, new: 0, duplicates: 0, pending: counts.pending },
      };
      if (nextRun) next.next_run_at = nextRun;
      else delete next.next_run_at;
      try {
        doc = await save(next);
        // A stop leaves its staged lines to the next start: rolling back may outlast the drain.
        if (!options.signal?.aborted) await rollbackStaged(this.store, doc, save, log);
      } catch (saveErr) {
        log.error(`cannot save the status of ${spec.name}: ${describeError(saveErr).message}`, {
          event: 'bank.error',
          error: describeError(saveErr),
        });
      }
      announce(status, error);
      return finish({
        status,
        window,
        counts: { ...counts, new: 0 },
        next_run_at: next.next_run_at,
        error,
        warnings: [],
        new_ids: [],
      });
    } finally {
      runDeadline.clear();
    }
  }

  /** The run timeout of `spec`, aborting `controller` with BANK_TIMEOUT when it passes. */
  private runDeadline(spec: ConnectionSpec, controller: AbortController): Deadline {
    const runTimeoutMs =
      spec.runTimeoutMs ?? (spec.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS) * 10;
    const deadline = new Deadline(runTimeoutMs);
    deadline.signal.addEventListener(
      'abort',
      () =>
        controller.abort(
          new BankUnavailableError(
            'BANK_TIMEOUT',
            `${spec.name}: the ${spec.provider} run did not finish within ${Math.round(runTimeoutMs / 100) / 10}s (bank slow or not answering, or an input too large for the run timeout); nothing of it was kept; will retry on schedule`,
          ),
        ),
      { once: true },
    );
    return deadline;
  }

  /**
   * The checking pass over the fetch's streams (provider.ts, StatementStream). A stream found
   * malformed is left out when its provider can reject it, else the run fails. When the streams
   * can be planned line by line (stream-plan.ts, needsArrays), their accounts' stored lines leave
   * `holder.existing` for the planner of the ordinary statements; otherwise they are read into
   * ordinary statements (memory as before streaming, for those rare feeds).
   */
  private async checkStreams(
    spec: ConnectionSpec,
    holder: PlanHolder,
    controller: AbortController,
    log: Logger,
    importId: string,
  ): Promise<StreamRun | undefined> {
    const fetched = holder.fetched!;
    const streams = fetched.streams ?? [];
    if (streams.length === 0) return undefined;
    const existing = holder.existing ?? [];
    const storedIds = new Set<string>();
    for (const line of existing) if (line.provider_id) storedIds.add(line.provider_id);
    const run: StreamRun = { statements: [], warnings: [], checks: [] };
    for (const stream of streams) {
      const input = {
        stream,
        connection: spec.name,
        includePending: spec.includePending ?? false,
        checkAborted: () => controller.signal.throwIfAborted(),
      };
      try {
        run.checks.push(await checkStream(input, storedIds));
      } catch (err) {
        if (
          !(err instanceof MalformedStatementError) ||
          !stream.reject ||
          controller.signal.aborted
        )
          throw err;
        await stream.reject(err);
        run.warnings.push(`rejected ${stream.name}: ${err.message}`);
      }
    }
    for (const check of run.checks) {
      run.warnings.push(...check.warnings);
      run.statements.push(...check.statements);
    }
    const arrayAccounts = new Set(fetched.statements.map((s) => accountKey(String(s.accountId))));
    const why = needsArrays(run.checks, arrayAccounts, existing);
    if (why !== undefined) {
      log.info(`${spec.name}: streamed input read into memory (${why})`, {
        event: 'bank.file',
        streamed: false,
        reason: why,
      });
      for (const check of run.checks.splice(0)) {
        for (const statement of await collectStream(check)) fetched.statements.push(statement);
      }
      run.statements = [];
      return run;
    }
    const streamAccounts = new Set(run.statements.map((s) => accountKey(s.accountId)));
    holder.existing = existing.filter((l) => !streamAccounts.has(accountKey(l.account_id)));
    const now = this.now();
    let staged = 0;
    run.planner = new StreamPlanner({
      connection: spec.name,
      includePending: spec.includePending ?? false,
      importedAt: now.toISOString(),
      importId,
      existing,
      batchSize: this.lines.writeBatchSize,
      write: async (docs) => {
        await this.lines.writeFresh(docs, now, true);
        staged += docs.length;
        log.debug(`${spec.name}: ${staged} line(s) stored, staged until the import commits`, {
          event: 'bank.import_progress',
          staged,
        });
      },
    });
    return run;
  }

  /**
   * Plans the writes of a fetch (dedup against the stored lines), keeping of the fetch only what
   * the end of the run needs. Empties `holder`, so the statements die with this call.
   */
  private planRun(
    spec: ConnectionSpec,
    window: { from: CalendarDate; to: CalendarDate },
    holder: PlanHolder,
    streamed: readonly StreamedStatement[],
    importId: string,
  ): { result: RunLeftovers; plan: LinePlan } {
    const fetched = holder.fetched!;
    const existing = holder.existing ?? [];
    holder.fetched = undefined;
    holder.existing = undefined;
    const result: RunLeftovers = {
      commit: fetched.commit,
      consentExpiresAt: fetched.consentExpiresAt,
      warnings: fetched.warnings ?? [],
      balance: balanceOf([...fetched.statements, ...streamed]),
    };
    const plan = planStatementLines({
      connection: spec.name,
      statements: fetched.statements,
      includePending: spec.includePending ?? false,
      window,
      existing,
      importedAt: this.now().toISOString(),
      importId,
    });
    return { result, plan };
  }

  /** Logs `bank.consent_expiring` once per threshold (15, 3, 1 days) and sets consent_expiring. */
  private consentCheck(doc: BankConnectionState, now: Date, log: Logger): BankConnectionState {
    if (!doc.consent_expires_at) return doc;
    const daysLeft = consentDaysLeft(doc.consent_expires_at, now);
    const next = {
      ...doc,
      status: doc.status === 'connected' ? healthyStatus(doc.consent_expires_at, now) : doc.status,
    };
    const due = consentWarningDue(daysLeft, doc.consent_warned ?? []);
    if (due) {
      next.consent_warned = due.warned;
      log.warn(
        `bank connection ${doc.name}: consent expires in ${daysLeft} day(s) (${doc.consent_expires_at}); renew it to keep fetching`,
        {
          event: 'bank.consent_expiring',
          consent_expires_at: doc.consent_expires_at,
          days_left: daysLeft,
          threshold: due.threshold,
        },
      );
    }
    return next;
  }

  /** provider.fetch, abandoned when the run is aborted (its deadline passed, or a stop). */
  private async fetchAbortable(
    provider: BankProvider,
    spec: ConnectionSpec,
    window: { from: CalendarDate; to: CalendarDate },
    log: Logger,
    controller: AbortController,
  ): Promise<FetchResult> {
    const ctx: FetchContext = {
      connection: spec.name,
      settings: spec.settings,
      secrets: spec.secrets,
      window,
      includePending: spec.includePending ?? false,
      stateDir: spec.stateDir,
      logger: log,
      signal: controller.signal,
      requestTimeoutMs: spec.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      now: this.now,
    };
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () =>
        reject(
          controller.signal.reason instanceof Error
            ? controller.signal.reason
            : new BankUnavailableError('BANK_ABORTED', `${spec.name}: fetch aborted`),
        );
      if (controller.signal.aborted) onAbort();
      else controller.signal.addEventListener('abort', onAbort, { once: true });
    });
    const fetching = Promise.resolve().then(() => provider.fetch(ctx));
    // Whichever loses the race must not become an unhandled rejection.
    fetching.catch(() => undefined);
    aborted.catch(() => undefined);
    try {
      return await Promise.race([fetching, aborted]);
    } finally {
      if (onAbort) controller.signal.removeEventListener('abort', onAbort);
    }
  }
}

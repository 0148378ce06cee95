import { mkdirSync } from 'node:fs';
import type { CalendarDate } from '../shared/dates';
import type { Deadline } from '../shared/deadline';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type BooksStore } from '../ledger';
import {
  DEFAULT_HISTORY_DAYS,
  DEFAULT_OVERLAP_DAYS,
  fetchWindow,
  sinceWindow,
  todayIn,
  validateSpec,
  type ConnectionSpec,
} from './connection-spec';
import { zeroCounts, type PlanCounts } from './dedup';
import {
  checkStreams,
  planFetch,
  type ImportContext,
  type PlanHolder,
  type RunLeftovers,
} from './import-plan';
import type { BankProvider } from './provider';
import { DEFAULT_WRITE_BATCH, StatementLineStore } from './line-store';
import { callProvider, runDeadline, stoppedError } from './provider-call';
import type { ProviderRegistry } from './registry';
import { passGates, recordSkip, type Pass } from './run-gates';
import { addCounts, RunReport, type RunOutcome } from './run-outcome';
import { failedStatus, succeededStatus } from './run-status';
import { newStagedImport, rollbackStaged, withoutStaged } from './staging';
import { clearBlock, initialStatus, readStatus, type BankConnectionState } from './status';

export { DEFAULT_WRITE_BATCH } from './line-store';
export * from './connection-spec';
export type { RunOutcome, SkipReason } from './run-outcome';

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
export type BankStore = Pick<
  BooksStore,
  'get' | 'put' | 'putMany' | 'createAbsent' | 'allOfType' | 'db'
>;

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

/** One run past its gates: what its steps share. */
interface ActiveRun {
  spec: ConnectionSpec;
  options: RunOptions;
  report: RunReport;
  gate: Pass;
  /** The status document as last saved. */
  doc: BankConnectionState;
  save: (next: BankConnectionState) => Promise<BankConnectionState>;
  planNext: (at: Date) => string | undefined;
  started: Date;
  deadline: Deadline;
  window?: { from: CalendarDate; to: CalendarDate };
  counts: PlanCounts;
}

/**
 * Runs fetches for bank connections, one at a time per connection (a second call while one runs
 * gets the running one's outcome). A run: gates (run-gates.ts) → window → status `fetching` →
 * provider.fetch under the run's deadline (provider-call.ts) → dedup plan (import-plan.ts) →
 * lines written → the provider's `commit` → status, counts and watermark in one write
 * (run-status.ts). Any failure before that last write leaves the watermark where it was; the
 * lines already written are found again by id on the next run.
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
    const onStop = () => controller.abort(stoppedError(spec.name));
    if (options.signal?.aborted) onStop();
    else options.signal?.addEventListener('abort', onStop, { once: true });
    const promise = this.execute(spec, options, controller.signal).finally(() => {
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
    for (const [name, run] of this.inflight) run.controller.abort(stoppedError(name));
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

  /** One run: the gates, then the fetch and import under the run's deadline. */
  private async execute(
    spec: ConnectionSpec,
    options: RunOptions,
    stop: AbortSignal,
  ): Promise<RunOutcome> {
    const started = this.now();
    const report = new RunReport(
      spec,
      this.logger.child({ connection: spec.name, provider: spec.provider }),
    );
    let doc = await this.statusOf(spec);
    if ('error' in doc) {
      const { error } = doc;
      return report.finish({
        status: 'error',
        counts: zeroCounts(),
        error,
        warnings: [],
        new_ids: [],
      });
    }
    report.previous = doc.status;
    const save = async (next: BankConnectionState): Promise<BankConnectionState> => {
      const written = (await this.store.put(next)) as BankConnectionState;
      return written;
    };
    const planNext = (at: Date) => options.planNext?.(at)?.toISOString();
    doc = {
      ...doc,
      provider: spec.provider,
      institution: spec.institution,
      ...(spec.journal ? { journal: spec.journal } : {}),
    };
    const force = options.force === true;
    const gate = passGates({ spec, doc, now: started, force, planNext, report });
    if ('reason' in gate) return recordSkip(gate, doc, report, save);
    const deadline = runDeadline(spec, stop);
    const run: ActiveRun = {
      spec,
      options,
      report,
      gate,
      doc,
      save,
      planNext,
      started,
      deadline,
      counts: zeroCounts(),
    };
    try {
      return await this.fetchAndImport(run);
    } catch (err) {
      return await this.failed(run, err);
    } finally {
      deadline.clear();
    }
  }

  /** The connection's status document (a fresh one for a first run), or why it cannot run at all. */
  private async statusOf(
    spec: ConnectionSpec,
  ): Promise<BankConnectionState | { error: { code: string; message: string } }> {
    try {
      validateSpec(spec);
      return (
        (await readStatus(this.store as BooksStore, spec.name)) ??
        initialStatus(spec.name, spec.provider, spec.institution)
      );
    } catch (err) {
      return { error: describeError(err) };
    }
  }

  /** The provider call, the import of its lines and the status that commits them. */
  private async fetchAndImport(run: ActiveRun): Promise<RunOutcome> {
    const { spec, report, started, save } = run;
    mkdirSync(spec.stateDir, { recursive: true, mode: 0o700 });
    const provider = this.registry.get(spec.provider);
    const window = this.windowOf(run);
    run.window = window;
    // A staged import left by a run that died is rolled back before its input is read again.
    run.doc = await rollbackStaged(this.store, run.doc, save, report.log);
    // New lines are written staged under this import, invisible until one status write commits it.
    const staged = newStagedImport(started);
    run.doc = await save({
      ...run.doc,
      status: 'fetching',
      last_window: window,
      staged_import: staged,
    });
    const imported = await this.importLines(run, provider, window, staged.id);
    // Every line is stored: this write is the commit record that makes the import visible ...
    run.doc = await save(withoutStaged(run.doc));
    // ... and now the provider may archive its input (drop folder) ...
    await imported.result.commit?.();
    // ... and only then does the watermark move.
    const finishedAt = this.now();
    const next = succeededStatus(
      run.doc,
      window,
      run.counts,
      imported.result,
      finishedAt,
      report.log,
    );
    const nextRun = run.planNext(finishedAt);
    if (nextRun) next.next_run_at = nextRun;
    else delete next.next_run_at;
    run.doc = await save(next);
    clearBlock(spec.stateDir);
    report.announce(next.status);
    return report.finish({
      status: next.status,
      window,
      counts: run.counts,
      next_run_at: next.next_run_at,
      warnings: [...imported.result.warnings, ...imported.warnings],
      new_ids: imported.newIds,
    });
  }

  /** The provider's fetch, planned against the stored lines and written staged under `importId`. */
  private async importLines(
    run: ActiveRun,
    provider: BankProvider,
    window: { from: CalendarDate; to: CalendarDate },
    importId: string,
  ): Promise<{ result: RunLeftovers; newIds: string[]; warnings: string[] }> {
    const { spec, deadline } = run;
    const log = run.report.log;
    const ctx: ImportContext = {
      spec,
      lines: this.lines,
      log,
      signal: deadline.signal,
      now: this.now,
      importId,
    };
    // Held in a holder that planFetch empties (see PlanHolder).
    const fetch: PlanHolder = {
      fetched: await callProvider({ provider, spec, window, log, now: this.now, deadline }),
    };
    fetch.existing = await this.lines.linesOf(spec.name);
    // Streamed inputs are read through once before anything is planned or stored: a bad one
    // fails the run (or is rejected by its provider) with the books untouched.
    const streamed = await checkStreams(ctx, fetch);
    const { result, plan } = planFetch(ctx, window, fetch, streamed?.statements ?? []);
    run.counts = plan.counts;
    const newIds = plan.newIds;
    const warnings = [...(streamed?.warnings ?? []), ...plan.warnings];
    await this.lines.writeLines(plan.writes.splice(0), this.now(), ctx.signal);
    if (streamed?.planner) {
      // The second read of each stream plans and stores its lines batch by batch.
      const { planner } = streamed;
      for (const check of streamed.checks.splice(0)) await planner.store(check);
      run.counts = addCounts(plan.counts, planner.counts);
      for (const id of planner.newIds) newIds.push(id);
    }
    return { result, newIds, warnings };
  }

  /** The window a run fetches: from the watermark (less the overlap), or from `--since`. */
  private windowOf(run: ActiveRun): { from: CalendarDate; to: CalendarDate } {
    const { spec, options } = run;
    const today = todayIn(spec.timezone, run.started);
    return options.since !== undefined
      ? sinceWindow(spec.name, options.since, today)
      : fetchWindow(
          run.doc.watermark,
          today,
          spec.historyDays ?? DEFAULT_HISTORY_DAYS,
          spec.overlapDays ?? DEFAULT_OVERLAP_DAYS,
        );
  }

  /** A failed run: its status and error recorded, its staged lines rolled back. */
  private async failed(run: ActiveRun, err: unknown): Promise<RunOutcome> {
    const { spec, report, save } = run;
    const error = report.safeError(describeError(err));
    const finishedAt = this.now();
    const { status, nextRun } = failedStatus(
      err,
      spec,
      run.gate.fingerprint,
      finishedAt,
      run.planNext(finishedAt),
    );
    const { counts } = run;
    const next: BankConnectionState = {
      ...run.doc,
      status,
      last_refresh_at: finishedAt.toISOString(),
      last_error: error,
      counts: { fetched: counts.fetched, new: 0, duplicates: 0, pending: counts.pending },
    };
    if (nextRun) next.next_run_at = nextRun;
    else delete next.next_run_at;
    try {
      run.doc = await save(next);
      // A stop leaves its staged lines to the next start: rolling back may outlast the drain.
      if (!run.options.signal?.aborted) await rollbackStaged(this.store, run.doc, save, report.log);
    } catch (saveErr) {
      report.log.error(
        `cannot save the status of ${spec.name}: ${describeError(saveErr).message}`,
        { event: 'bank.error', error: describeError(saveErr) },
      );
    }
    report.announce(status, error);
    return report.finish({
      status,
      window: run.window,
      counts: { ...counts, new: 0 },
      next_run_at: next.next_run_at,
      error,
      warnings: [],
      new_ids: [],
    });
  }
}

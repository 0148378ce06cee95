import { CronExpressionParser } from 'cron-parser';
import { BANK_ERROR_CODES, type BankCodeOf } from './error-codes';
import { createJobTimer, type JobTimer } from './job-timer';
import {
  BooksyncError,
  codesRaisedAs,
  describeError,
  type BooksyncErrorOptions,
} from '../shared/errors';
import { parseDuration } from '../shared/duration';
import type { Logger } from '../shared/logger';
import type { BooksStore } from '../ledger';
import { isCalendarDate } from '../shared/dates';
import {
  ConnectionSpecError,
  FetchLoop,
  type BankStore,
  type ConnectionSpec,
  type RunOutcome,
  type ScheduleSpec,
} from './fetch-loop';
import { builtinRegistry } from './providers';
import type { ProviderRegistry } from './registry';
import { listStatuses, readStatus, statusView, type ConnectionStatusView } from './status';

/**
 * The bank scheduler (docs/ARCHITECTURE.md, "A statement line's way from provider to cloud"):
 * one timer job (job-timer.ts) per enabled connection, a little deterministic-seedable jitter, next_run_at kept on the status document. A job is a
 * one-shot at the next planned instant and re-arms itself after each run from the run's outcome
 * (a rate limit's retry-after wins over the plan), which covers `every:` intervals, cron lines and
 * retry-after with one mechanism.
 */

/**
 * The daemon's one call: a scheduler over a fetch loop on `store` with the built-in providers.
 * Then `start()`, `reschedule(specs)` on reload, `runNow(names)` for `booksync fetch`,
 * `status()` / formatStatusTable for `booksync status`, `stop(deadline)` on shutdown.
 */
export function createBankScheduler(options: {
  specs: readonly ConnectionSpec[];
  store: BankStore;
  logger: Logger;
  registry?: ProviderRegistry;
  now?: () => Date;
  afterRun?: (outcome: RunOutcome) => Promise<void>;
}): BankScheduler {
  const loop = new FetchLoop({
    store: options.store,
    registry: options.registry ?? builtinRegistry(),
    logger: options.logger,
    ...(options.now ? { now: options.now } : {}),
  });
  return new BankScheduler(options.specs, {
    loop,
    store: options.store,
    logger: options.logger,
    ...(options.now ? { now: options.now } : {}),
    ...(options.afterRun ? { afterRun: options.afterRun } : {}),
  });
}

/**
 * `booksync fetch NAME --since DATE`: a calendar date, for connections named. Throws
 * ConnectionSpecError (`BANK_SINCE_INVALID`) otherwise.
 */
export function checkSince(names: readonly string[], since: string): void {
  if (names.length === 0)
    throw new ConnectionSpecError(
      'BANK_SINCE_INVALID',
      '--since fetches a past window of the connections named: give their names',
    );
  if (!isCalendarDate(since))
    throw new ConnectionSpecError(
      'BANK_SINCE_INVALID',
      `--since must be a calendar date YYYY-MM-DD (got '${since}')`,
    );
}

/** A named connection that the config does not have. */
export class UnknownConnectionError extends BooksyncError {
  static readonly codes = codesRaisedAs(BANK_ERROR_CODES, 'UnknownConnectionError');
  declare readonly code: BankCodeOf<'UnknownConnectionError'>;

  constructor(
    code: BankCodeOf<'UnknownConnectionError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** @default every 12 hours */
export const DEFAULT_SCHEDULE: ScheduleSpec = Object.freeze({ every: '12h' });
/** Jitter is at most 5% of the interval, and never more than this. */
export const MAX_JITTER_MS = 5 * 60_000;
/** A connection that never ran (or missed its run while the daemon was down) starts within this. */
export const STARTUP_JITTER_MS = 10_000;

export { createJobTimer, type JobTimer } from './job-timer';

/** mulberry32: a small seeded PRNG so tests can pin the jitter. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Throws a BooksyncError naming the problem when a schedule is not usable. */
export function validateSchedule(spec: ScheduleSpec | undefined, where = 'schedule'): void {
  const s = spec ?? DEFAULT_SCHEDULE;
  if ('every' in s) {
    const ms = typeof s.every === 'number' ? s.every : parseDuration(s.every);
    if (!Number.isFinite(ms) || ms < 60_000)
      throw new ConnectionSpecError(
        'BANK_SCHEDULE',
        `${where}.every must be at least 1m (got ${String(s.every)})`,
      );
    return;
  }
  try {
    CronExpressionParser.parse(s.cron, { strict: false }).next();
  } catch (err) {
    throw new ConnectionSpecError(
      'BANK_SCHEDULE',
      `${where}.cron '${s.cron}' is not a cron line: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** The next planned instant after `at`, without jitter (cron in the connection's zone). */
export function plannedAfter(
  spec: ScheduleSpec | undefined,
  at: Date,
  timeZone?: string,
): { at: Date; periodMs: number } {
  const s = spec ?? DEFAULT_SCHEDULE;
  if ('every' in s) {
    const ms = typeof s.every === 'number' ? s.every : parseDuration(s.every);
    return { at: new Date(at.getTime() + ms), periodMs: ms };
  }
  const expr = CronExpressionParser.parse(s.cron, {
    currentDate: at,
    ...(timeZone ? { tz: timeZone } : {}),
  });
  const first = expr.next().toDate();
  const second = expr.next().toDate();
  return { at: first, periodMs: second.getTime() - first.getTime() };
}

/** Jitter for a period: uniform in [0, min(5% of the period, 5 min)). */
export function jitterMs(
  periodMs: number,
  random: () => number,
  maxJitterMs = MAX_JITTER_MS,
): number {
  return Math.floor(random() * Math.min(periodMs * 0.05, maxJitterMs));
}

export interface SchedulerOptions {
  loop: FetchLoop;
  store: BankStore;
  logger: Logger;
  now?: () => Date;
  /** PRNG in [0,1) for jitter; `seededRandom(n)` in tests. @default Math.random */
  random?: () => number;
  /** @default nodeScheduleTimer */
  timer?: JobTimer;
  /** @default 5 min */
  maxJitterMs?: number;
  /** @default 10 s */
  startupJitterMs?: number;
  /**
   * Called after every run that reached the provider (not for skipped runs), before the job is
   * re-armed and before `runNow` returns: the ledger automation posts and reconciles the new
   * lines. Called after failed runs too, since an earlier run may have stored lines before it
   * failed; it must be idempotent. Its errors are logged (`bank.after_run`), never thrown.
   */
  afterRun?: (outcome: RunOutcome) => Promise<void>;
  /** Told every run's outcome, skipped runs included (the metrics count them); must not throw. */
  onRun?: (outcome: RunOutcome) => void;
}

interface Entry {
  spec: ConnectionSpec;
  job?: { cancel(): void };
  nextAt?: Date;
}

function scheduleKey(spec: ConnectionSpec): string {
  return JSON.stringify([
    spec.schedule ?? DEFAULT_SCHEDULE,
    spec.timezone ?? null,
    spec.enabled !== false,
  ]);
}

/**
 * Owns the jobs of the bank connections. `start()` arms a job per enabled connection,
 * `reschedule(specs)` applies a reloaded config (state lives in the status documents and is kept),
 * `runNow(names)` is `booksync fetch`, `stop(deadline)` cancels jobs and drains in-flight runs,
 * aborting them at the deadline.
 */
export class BankScheduler {
  private readonly loop: FetchLoop;
  private readonly store: BankStore;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly timer: JobTimer;
  private readonly maxJitterMs: number;
  private readonly startupJitterMs: number;
  private readonly afterRun?: (outcome: RunOutcome) => Promise<void>;
  private readonly onRun?: (outcome: RunOutcome) => void;
  private readonly entries = new Map<string, Entry>();
  private readonly stopController = new AbortController();
  private started = false;
  private stopped = false;

  constructor(specs: readonly ConnectionSpec[], options: SchedulerOptions) {
    this.loop = options.loop;
    this.store = options.store;
    this.logger = options.logger.child({ component: 'bank.scheduler' });
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.timer = options.timer ?? createJobTimer();
    this.maxJitterMs = options.maxJitterMs ?? MAX_JITTER_MS;
    this.startupJitterMs = options.startupJitterMs ?? STARTUP_JITTER_MS;
    this.afterRun = options.afterRun;
    this.onRun = options.onRun;
    this.setSpecs(specs);
  }

  /** Arms one job per enabled connection. Disabled connections are marked `disconnected`. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // A run the process died in left a staged import: its lines go before any run or push.
    for (const entry of this.entries.values()) await this.loop.recover(entry.spec);
    for (const entry of this.entries.values()) await this.arm(entry, true);
    this.logger.info(`bank scheduler started: ${this.entries.size} connection(s)`, {
      event: 'bank.scheduler',
      connections: [...this.entries.keys()],
    });
  }

  /**
   * Applies a reloaded config: new connections get a job, removed ones lose theirs, a changed
   * schedule is re-planned, everything else keeps its job and next run. Settings and credentials
   * take effect at the next run. Status documents are untouched.
   */
  async reschedule(specs: readonly ConnectionSpec[]): Promise<void> {
    const before = new Map([...this.entries].map(([name, e]) => [name, scheduleKey(e.spec)]));
    const old = new Map(this.entries);
    this.setSpecs(specs);
    for (const [name, entry] of old) {
      if (!this.entries.has(name)) entry.job?.cancel();
    }
    if (!this.started) return;
    for (const [name, entry] of this.entries) {
      const previous = old.get(name);
      if (previous && before.get(name) === scheduleKey(entry.spec)) {
        entry.job = previous.job;
        entry.nextAt = previous.nextAt;
        continue;
      }
      previous?.job?.cancel();
      await this.arm(entry, !previous);
    }
    this.logger.info('bank schedules reloaded', {
      event: 'bank.scheduler',
      connections: [...this.entries.keys()],
    });
  }

  /**
   * `booksync fetch [NAME...]`: runs the named connections (all enabled ones when none are named)
   * now, concurrently, joining any run already in progress. Rate limits and expired consents still
   * apply (such a connection returns at once with `skipped`); a connection named explicitly is
   * retried once even when auth_required or permanently failed.
   */
  async runNow(
    names: readonly string[] = [],
    options: { since?: string } = {},
  ): Promise<RunOutcome[]> {
    const unknown = names.filter((n) => !this.entries.has(n));
    if (unknown.length > 0) {
      throw new UnknownConnectionError(
        'BANK_CONNECTION_UNKNOWN',
        `unknown bank connection${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (configured: ${[...this.entries.keys()].join(', ') || 'none'})`,
        {
          details: { unknown, known: [...this.entries.keys()] },
        },
      );
    }
    if (options.since !== undefined) checkSince(names, options.since);
    const chosen =
      names.length > 0
        ? names.map((n) => this.entries.get(n) as Entry)
        : [...this.entries.values()].filter((e) => e.spec.enabled !== false);
    // Naming a connection is an admin asking for it: retry an auth or permanent failure once.
    return Promise.all(
      chosen.map((entry) => this.runEntry(entry, names.length > 0, options.since)),
    );
  }

  /** The instant each connection's job will fire (what `next_run_at` says), by name. */
  nextRuns(): Record<string, string | null> {
    return Object.fromEntries(
      [...this.entries].map(([name, e]) => [
        name,
        e.job && e.nextAt ? e.nextAt.toISOString() : null,
      ]),
    );
  }

  /** The connection specs in force. */
  specs(): ConnectionSpec[] {
    return [...this.entries.values()].map((e) => e.spec);
  }

  /** Status documents of the configured connections, for `booksync status`. */
  async status(): Promise<{ connections: ConnectionStatusView[]; running: string[] }> {
    const docs = await listStatuses(this.store as BooksStore);
    const configured = docs.filter((d) => this.entries.has(d.name));
    return { connections: configured.map(statusView), running: this.loop.running() };
  }

  /**
   * Cancels every job, waits for in-flight runs until `deadline` (epoch ms), then aborts what is
   * still running (those runs record BANK_ABORTED and keep their watermark) and waits for it to
   * settle. Finally the timer cancels every job still waiting.
   */
  async stop(deadline: number = Date.now() + 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const entry of this.entries.values()) {
      entry.job?.cancel();
      entry.job = undefined;
    }
    const idle = this.loop.idle();
    const wait = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), wait);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (timedOut) {
      this.logger.warn(
        `aborting ${this.loop.running().length} bank fetch(es) still running at the stop deadline`,
        { event: 'bank.scheduler', running: this.loop.running() },
      );
      this.stopController.abort();
      this.loop.abortAll();
      await this.loop.idle();
    }
    await this.timer.shutdown?.();
    this.logger.info('bank scheduler stopped', { event: 'bank.scheduler' });
  }

  private setSpecs(specs: readonly ConnectionSpec[]): void {
    const names = new Set<string>();
    for (const spec of specs) {
      if (names.has(spec.name))
        throw new ConnectionSpecError(
          'BANK_CONNECTION_INVALID',
          `two bank connections are named '${spec.name}'`,
        );
      names.add(spec.name);
      validateSchedule(spec.schedule, `bank connection '${spec.name}': schedule`);
    }
    const next = new Map<string, Entry>();
    for (const spec of specs)
      next.set(spec.name, {
        spec,
        job: this.entries.get(spec.name)?.job,
        nextAt: this.entries.get(spec.name)?.nextAt,
      });
    this.entries.clear();
    for (const [name, entry] of next) this.entries.set(name, entry);
  }

  /** The next run after a run that ended at `at`: plan + jitter. */
  private plan(spec: ConnectionSpec, at: Date): Date {
    const planned = plannedAfter(spec.schedule, at, spec.timezone);
    return new Date(
      planned.at.getTime() + jitterMs(planned.periodMs, this.random, this.maxJitterMs),
    );
  }

  /**
   * Arms the job of `entry`. At start (or for a new connection) the stored next_run_at is kept when
   * it is still ahead (a retry-after always; a plan only if not later than the current schedule
   * allows); a run missed while the daemon was down, or a first run, starts within the startup jitter.
   */
  private async arm(entry: Entry, fromStored: boolean): Promise<void> {
    entry.job?.cancel();
    entry.job = undefined;
    const spec = entry.spec;
    const now = this.now();
    if (spec.enabled === false) {
      entry.nextAt = undefined;
      if (this.started) await this.loop.run(spec);
      return;
    }
    let at: Date | undefined;
    if (fromStored) {
      let doc;
      try {
        doc = await readStatus(this.store as BooksStore, spec.name);
      } catch (err) {
        this.logger.warn(`cannot read the status of ${spec.name}: ${describeError(err).message}`, {
          event: 'bank.scheduler',
          connection: spec.name,
        });
      }
      const stored = doc?.next_run_at ? new Date(doc.next_run_at) : undefined;
      const planned = this.plan(spec, now);
      if (stored && stored.getTime() > now.getTime()) {
        at =
          doc?.status === 'rate_limited' || stored.getTime() <= planned.getTime()
            ? stored
            : planned;
      } else {
        at = new Date(now.getTime() + Math.floor(this.random() * this.startupJitterMs));
      }
    } else {
      at = this.plan(spec, now);
    }
    this.setJob(entry, at);
  }

  private setJob(entry: Entry, at: Date): void {
    entry.job?.cancel();
    const now = this.now();
    // A due run is planned a moment from now: next_run_at is never in the past.
    const when = at.getTime() > now.getTime() ? at : new Date(now.getTime() + 1);
    entry.nextAt = when;
    entry.job = this.timer.schedule(`bank:${entry.spec.name}`, when, () => {
      void this.runEntry(entry);
    });
  }

  private async runEntry(entry: Entry, force = false, since?: string): Promise<RunOutcome> {
    const spec = entry.spec;
    const outcome = await this.loop.run(spec, {
      force,
      ...(since !== undefined ? { since } : {}),
      signal: this.stopController.signal,
      planNext: this.started && !this.stopped ? (at) => this.plan(spec, at) : undefined,
    });
    this.onRun?.(outcome);
    if (this.afterRun && !outcome.skipped) {
      try {
        await this.afterRun(outcome);
      } catch (err) {
        this.logger.error(`after-run step failed for ${spec.name}: ${describeError(err).message}`, {
          event: 'bank.after_run',
          connection: spec.name,
          error: describeError(err),
        });
      }
    }
    const current = this.entries.get(spec.name);
    if (this.started && !this.stopped && current && spec.enabled !== false) {
      const next = outcome.next_run_at
        ? new Date(outcome.next_run_at)
        : this.plan(current.spec, this.now());
      this.setJob(current, next);
    }
    return outcome;
  }
}

import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { addDays, isCalendarDate, utcDate, type CalendarDate } from '../shared/dates';
import { BooksyncError, PermanentError, describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { redactText, safeErrorSummary } from '../shared/redact';
import {
  LedgerError,
  StoreError,
  idPrefix,
  stampDoc,
  writeProblems,
  type LedgerProblem,
  type BankConnectionStatus,
  type BooksDoc,
  type BooksStore,
  type DeletionStub,
  type StatementLineDoc,
} from '../ledger';
import { institutionLabel } from './catalog';
import { accountKey, planStatementLines, type LinePlan, type PlanCounts } from './dedup';
import { BankAuthError, BankUnavailableError, ConsentExpiredError, MalformedStatementError, RateLimitedError } from './errors';
import type { BankAccountStatement, BankProvider, FetchContext, FetchResult, StreamedStatement } from './provider';
import { checkStream, collectStream, needsArrays, StreamPlanner, type StreamCheck } from './stream-plan';
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

/**
 * One bank connection as the fetch loop needs it. The daemon builds it from the typed Config
 * (bank never imports config): secrets already resolved, durations in milliseconds.
 */
export interface ConnectionSpec {
  /** Connection name from YAML (`[A-Za-z0-9_.-]`, no ':'): the `<connection>` of statement line ids. */
  name: string;
  /** Provider id (`dropfolder`, `ofx-direct`, `simplefin`, `gocardless`). */
  provider: string;
  /** Catalog id, or `custom:<bic|name>` for an inline bank: shown in status. */
  institution: string;
  /** The provider's own settings block, validated by the config schema. */
  settings: Readonly<Record<string, unknown>>;
  /** Resolved secrets by key. Never logged, never stored in the books. */
  secrets: Readonly<Record<string, string>>;
  journal?: string;
  /** `{ every: '4h' }` or `{ cron: '0 6 * * *' }`. @default { every: '12h' } */
  schedule?: ScheduleSpec;
  /** Days fetched on the first run. @default 90 */
  historyDays?: number;
  /** Days re-fetched before the watermark on later runs (late and backdated bookings). @default 7 */
  overlapDays?: number;
  /** @default false */
  includePending?: boolean;
  /** A disabled connection is not scheduled and shows as `disconnected`. @default true */
  enabled?: boolean;
  /** Per-request timeout handed to the provider. @default 60000 */
  requestTimeoutMs?: number;
  /** Whole-run deadline; the provider is abandoned (and aborted) after it. @default 10 × requestTimeoutMs */
  runTimeoutMs?: number;
  /** Connection-private folder (created 0700): provider state, the auth-blocked marker. */
  stateDir: string;
  /** IANA zone whose calendar day is "today" for the window (the bank's zone). @default UTC */
  timezone?: string;
}

export type ScheduleSpec = { every: string | number } | { cron: string };

/**
 * The shape of one `bank.connections[]` entry of the typed Config (src/config/types.ts), restated
 * structurally so that bank does not import config.
 */
export interface ConnectionConfigLike {
  readonly name: string;
  readonly provider: string;
  readonly institution: string | { readonly name?: string; readonly bic?: string } | null;
  readonly settings: Readonly<object>;
  /** Resolved secrets. */
  readonly credentials: Readonly<object>;
  readonly journal?: string;
  readonly schedule?: ScheduleSpec;
  readonly history_days?: number;
  readonly overlap_days?: number;
  readonly include_pending?: boolean;
  readonly enabled?: boolean;
}

/**
 * Builds the loop's ConnectionSpec from a Config connection: `stateDir` is the connection's private
 * folder (e.g. `<state_dir>/bank/<name>`), `requestTimeoutMs` is `bank.request_timeout_ms`. A
 * `settings.timezone` (SimpleFIN) is the bank's zone for the window's "today".
 */
export function connectionSpecFrom(conn: ConnectionConfigLike, options: { stateDir: string; requestTimeoutMs?: number; runTimeoutMs?: number }): ConnectionSpec {
  const settings = conn.settings as Readonly<Record<string, unknown>>;
  const secrets: Record<string, string> = {};
  for (const [key, value] of Object.entries(conn.credentials as Record<string, unknown>)) {
    if (typeof value === 'string') secrets[key] = value;
  }
  return {
    name: conn.name,
    provider: conn.provider,
    institution: institutionLabel(conn.institution),
    settings,
    secrets,
    ...(conn.journal ? { journal: conn.journal } : {}),
    ...(conn.schedule ? { schedule: conn.schedule } : {}),
    ...(conn.history_days !== undefined ? { historyDays: conn.history_days } : {}),
    ...(conn.overlap_days !== undefined ? { overlapDays: conn.overlap_days } : {}),
    includePending: conn.include_pending ?? false,
    enabled: conn.enabled ?? true,
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    ...(options.runTimeoutMs !== undefined ? { runTimeoutMs: options.runTimeoutMs } : {}),
    stateDir: options.stateDir,
    ...(typeof settings.timezone === 'string' && settings.timezone ? { timezone: settings.timezone } : {}),
  };
}

export const DEFAULT_HISTORY_DAYS = 90;
export const DEFAULT_OVERLAP_DAYS = 7;
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Lines written per `putMany` when a fetch brings more (see {@link FetchLoop.writeLines}). */
export const DEFAULT_WRITE_BATCH = 1_000;
/** Placeholder for documents already written by a bulk import (lets them be collected). */
const RELEASED = Object.freeze({}) as BooksDoc;
/** Above this many changed lines since the last run, lines are re-read in one range instead of by key. */
const STALE_REREAD_LIMIT = 2_000;

/** Why a run made no provider call. */
export type SkipReason = 'rate_limited' | 'auth_required' | 'consent_expired' | 'permanent_error' | 'disabled';

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

/** Raised for a connection spec the loop cannot run (a bug in the daemon's mapping or a bad name). */
export class ConnectionSpecError extends BooksyncError {}

const ZERO_COUNTS: Readonly<PlanCounts> = Object.freeze({ fetched: 0, new: 0, duplicates: 0, pending: 0, replaced: 0, removed: 0, corrected: 0 });

/** The calendar day of `now` in `timeZone` (UTC when absent). */
export function todayIn(timeZone: string | undefined, now: Date): CalendarDate {
  if (!timeZone || timeZone === 'UTC' || timeZone === 'Etc/UTC') return utcDate(now);
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

/** Window of a run: watermark − overlap .. today; first run: today − history .. today. */
export function fetchWindow(watermark: CalendarDate | undefined, today: CalendarDate, historyDays: number, overlapDays: number): { from: CalendarDate; to: CalendarDate } {
  let from = watermark ? addDays(watermark, -overlapDays) : addDays(today, -historyDays);
  if (from > today) from = today;
  return { from, to: today };
}

/** Checks what the loop relies on; the config schema checks the rest. */
export function validateSpec(spec: ConnectionSpec): void {
  const fail = (message: string): never => {
    throw new ConnectionSpecError('BANK_CONNECTION_INVALID', `bank connection '${spec?.name}': ${message}`, { details: { connection: spec?.name } });
  };
  if (typeof spec.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(spec.name)) fail('name must be letters, digits, _ . - (it is part of document ids)');
  if (typeof spec.stateDir !== 'string' || spec.stateDir === '') fail('stateDir is required');
  for (const [key, value] of [['historyDays', spec.historyDays], ['overlapDays', spec.overlapDays]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 3650)) fail(`${key} must be a whole number of days (0..3650)`);
  }
  if (spec.timezone) {
    try {
      todayIn(spec.timezone, new Date(0));
    } catch {
      fail(`timezone '${spec.timezone}' is not an IANA time zone (e.g. Europe/Madrid)`);
    }
  }
}

/** The balance for the status document: the latest-dated ledger balance (else available) reported. */
function balanceOf(statements: ReadonlyArray<Pick<BankAccountStatement, 'balances'>>): BankConnectionState['balance'] {
  let best: { amount: number; currency: string; date: CalendarDate; kind: string } | undefined;
  for (const s of statements) {
    for (const b of s.balances ?? []) {
      if (!Number.isSafeInteger(b.amount) || !isCalendarDate(b.date)) continue;
      const better = !best || (b.kind === 'ledger' && best.kind !== 'ledger') || (b.kind === best.kind && b.date >= best.date);
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
  private readonly writeBatchSize: number;
  private readonly lineCacheMax: number;
  private readonly lineCache = new Map<string, Map<string, StatementLineDoc>>();
  private readonly inflight = new Map<string, { promise: Promise<RunOutcome>; controller: AbortController }>();

  constructor(options: FetchLoopOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.logger = options.logger.child({ component: 'bank' });
    this.now = options.now ?? (() => new Date());
    this.writeBatchSize = Math.max(1, options.writeBatchSize ?? DEFAULT_WRITE_BATCH);
    this.lineCacheMax = options.lineCacheMax ?? 20_000;
  }

  /** Runs `spec` now, or joins its run in progress. Never rejects: failures are in the outcome. */
  run(spec: ConnectionSpec, options: RunOptions = {}): Promise<RunOutcome> {
    const running = this.inflight.get(spec.name);
    if (running) return running.promise;
    const controller = new AbortController();
    const onStop = () => controller.abort(new BankUnavailableError('BANK_ABORTED', `${spec.name}: the fetch was stopped (booksync is shutting down); it runs again on the next schedule`));
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
      run.controller.abort(new BankUnavailableError('BANK_ABORTED', `${name}: the fetch was stopped (booksync is shutting down); it runs again on the next schedule`));
    }
  }

  /** Resolves when no run is in progress. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()].map((r) => r.promise));
  }

  private async execute(spec: ConnectionSpec, options: RunOptions, controller: AbortController): Promise<RunOutcome> {
    const t0 = performance.now();
    const started = this.now();
    const log = this.logger.child({ connection: spec.name, provider: spec.provider });
    // What a bank said reaches the status document (which syncs), the log and `booksync fetch`:
    // masked here once more whatever the provider did (shared/redact.ts).
    const secrets = Object.values(spec.secrets);
    const safeError = (error: { code: string; message: string }) => safeErrorSummary(error, secrets);
    const finish = (outcome: Omit<RunOutcome, 'ms' | 'connection' | 'provider'>): RunOutcome => {
      const full: RunOutcome = { connection: spec.name, provider: spec.provider, ...outcome, ms: Math.round(performance.now() - t0) };
      if (full.error) full.error = safeError(full.error);
      full.warnings = full.warnings.map((w) => redactText(w, secrets));
      const level = full.error && !full.skipped ? 'warn' : 'info';
      log.log(level, `bank run ${spec.name}: ${full.status}${full.skipped ? ` (skipped: ${full.skipped})` : ''}`, {
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
      });
      return full;
    };

    let doc: BankConnectionState;
    try {
      validateSpec(spec);
      doc = (await readStatus(this.store as BooksStore, spec.name)) ?? initialStatus(spec.name, spec.provider, spec.institution);
    } catch (err) {
      return finish({ status: 'error', counts: { ...ZERO_COUNTS }, error: describeError(err), warnings: [], new_ids: [] });
    }
    const previous = doc.status;
    const save = async (next: BankConnectionState): Promise<BankConnectionState> => {
      const written = (await this.store.put(next)) as BankConnectionState;
      return written;
    };
    const announce = (status: BankConnectionStatus, error?: { code: string; message: string }) => {
      if (status === previous) return;
      log.log(status === 'connected' || status === 'consent_expiring' ? 'info' : 'warn', `bank connection ${spec.name}: ${previous} → ${status}`, {
        event: 'bank.status',
        from: previous,
        to: status,
        ...(error ? { error } : {}),
      });
    };
    const planNext = (at: Date) => options.planNext?.(at)?.toISOString();
    doc = { ...doc, provider: spec.provider, institution: spec.institution, ...(spec.journal ? { journal: spec.journal } : {}) };

    // ---- gates: no provider call ---------------------------------------------------------------
    const skip = async (reason: SkipReason, status: BankConnectionStatus, nextRunAt: string | undefined, error?: { code: string; message: string }): Promise<RunOutcome> => {
      const next: BankConnectionState = { ...doc, status };
      if (nextRunAt) next.next_run_at = nextRunAt;
      if (error) next.last_error = safeError(error);
      try {
        if (next.status !== doc.status || next.next_run_at !== doc.next_run_at || next.last_error?.message !== doc.last_error?.message || doc._rev === undefined) await save(next);
      } catch (err) {
        log.error(`cannot save the status of ${spec.name}: ${describeError(err).message}`, { event: 'bank.error', error: describeError(err) });
      }
      announce(status, error);
      return finish({ status, skipped: reason, counts: { ...ZERO_COUNTS }, next_run_at: next.next_run_at, error: next.last_error, warnings: [], new_ids: [] });
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
      if (block.fingerprint === fingerprint && !forced) {
        const why =
          block.status === 'auth_required'
            ? `${spec.name}: the bank rejected the credentials; no retry until they change in the config (or \`booksync fetch ${spec.name}\`)`
            : block.status === 'consent_expired'
              ? `${spec.name}: the bank consent has expired; renew it (new consent or credentials) to resume`
              : `${spec.name}: the last fetch failed in a way retrying cannot fix; no retry until the connection's settings or credentials change (or \`booksync fetch ${spec.name}\`)`;
        const code = block.status === 'auth_required' ? 'BANK_AUTH' : block.status === 'consent_expired' ? 'BANK_CONSENT_EXPIRED' : 'BANK_PERMANENT';
        const status = block.status === 'error' ? 'error' : block.status;
        return skip(block.status === 'error' ? 'permanent_error' : block.status, status, planNext(now), doc.last_error ?? { code, message: why });
      }
      clearBlock(spec.stateDir);
      renewed = block.fingerprint !== fingerprint;
      log.info(`${spec.name}: ${forced && !renewed ? 'fetch asked for by hand' : 'credentials or settings changed'} since the ${block.status} failure; retrying`, { event: 'bank.retry', reason: block.status });
    }
    if (doc.status === 'rate_limited' && doc.next_run_at && Date.parse(doc.next_run_at) > now.getTime()) {
      return skip('rate_limited', 'rate_limited', doc.next_run_at);
    }
    if (!renewed && doc.consent_expires_at && Date.parse(doc.consent_expires_at) <= now.getTime()) {
      const error = { code: 'BANK_CONSENT_EXPIRED', message: `${spec.name}: the bank consent expired at ${doc.consent_expires_at}; renew it to resume fetching` };
      writeBlock(spec.stateDir, { status: 'consent_expired', fingerprint, since: now.toISOString() });
      return skip('consent_expired', 'consent_expired', planNext(now), error);
    }

    // ---- the run ---------------------------------------------------------------------------------
    let window: { from: CalendarDate; to: CalendarDate } | undefined;
    let counts: PlanCounts = { ...ZERO_COUNTS };
    try {
      mkdirSync(spec.stateDir, { recursive: true, mode: 0o700 });
      const provider = this.registry.get(spec.provider);
      const today = todayIn(spec.timezone, now);
      window = fetchWindow(doc.watermark, today, spec.historyDays ?? DEFAULT_HISTORY_DAYS, spec.overlapDays ?? DEFAULT_OVERLAP_DAYS);
      doc = await save({ ...doc, status: 'fetching', last_window: window });

      // The fetched statements travel in a holder that planRun empties: nothing in this async
      // frame (whose temporaries survive each await) keeps them, so the parsed lines can be
      // collected while a large import is written.
      const fetch: PlanHolder = { fetched: await this.fetchWithDeadline(provider, spec, window, log, controller) };
      if (!fetch.fetched || !Array.isArray(fetch.fetched.statements)) throw new BankUnavailableError('BANK_BAD_RESULT', `${spec.name}: provider ${provider.id} returned no statements list`);
      if (fetch.fetched.streams !== undefined && !Array.isArray(fetch.fetched.streams)) throw new BankUnavailableError('BANK_BAD_RESULT', `${spec.name}: provider ${provider.id} returned streams that are not a list`);
      fetch.existing = await this.linesOf(spec.name);
      // Streamed inputs are read through once before anything is planned or stored: a bad one
      // fails the run (or is rejected by its provider) with the books untouched.
      const streamed = await this.checkStreams(spec, fetch, controller, log);
      const { result, plan } = this.planRun(spec, window, fetch, streamed?.statements ?? []);
      counts = plan.counts;
      const newIds = plan.newIds;
      const planWarnings = [...(streamed?.warnings ?? []), ...plan.warnings];
      await this.writeLines(plan.writes.splice(0));
      if (streamed?.planner) {
        // The second read of each stream plans and stores its lines batch by batch.
        const { planner } = streamed;
        for (const check of streamed.checks.splice(0)) await planner.store(check);
        counts = addCounts(plan.counts, planner.counts);
        for (const id of planner.newIds) newIds.push(id);
      }
      // Lines are durable: now the provider may archive its input (drop folder) ...
      await result.commit?.();
      // ... and only then does the watermark move.
      const finishedAt = this.now();
      let next: BankConnectionState = {
        ...doc,
        status: 'connected',
        last_refresh_at: finishedAt.toISOString(),
        last_success_at: finishedAt.toISOString(),
        watermark: window.to,
        counts: { fetched: counts.fetched, new: counts.new, duplicates: counts.duplicates, pending: counts.pending },
      };
      delete next.last_error;
      if (result.balance) next.balance = result.balance;
      if (result.consentExpiresAt && result.consentExpiresAt !== doc.consent_expires_at) {
        next.consent_expires_at = new Date(result.consentExpiresAt).toISOString();
        next.consent_warned = [];
      } else if (!result.consentExpiresAt && next.consent_expires_at && Date.parse(next.consent_expires_at) <= finishedAt.getTime()) {
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
      return finish({ status: next.status, window, counts, next_run_at: next.next_run_at, warnings: [...result.warnings, ...planWarnings], new_ids: newIds });
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
        writeBlock(spec.stateDir, { status: 'error', fingerprint, since: finishedAt.toISOString() });
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
        await save(next);
      } catch (saveErr) {
        log.error(`cannot save the status of ${spec.name}: ${describeError(saveErr).message}`, { event: 'bank.error', error: describeError(saveErr) });
      }
      announce(status, error);
      return finish({ status, window, counts: { ...counts, new: 0 }, next_run_at: next.next_run_at, error, warnings: [], new_ids: [] });
    }
  }

  /**
   * The checking pass over the fetch's streams (provider.ts, StatementStream). A stream found
   * malformed is left out when its provider can reject it, else the run fails. When the streams
   * can be planned line by line (stream-plan.ts, needsArrays), their accounts' stored lines leave
   * `holder.existing` for the planner of the ordinary statements; otherwise they are read into
   * ordinary statements (memory as before streaming, for those rare feeds).
   */
  private async checkStreams(spec: ConnectionSpec, holder: PlanHolder, controller: AbortController, log: Logger): Promise<StreamRun | undefined> {
    const fetched = holder.fetched!;
    const streams = fetched.streams ?? [];
    if (streams.length === 0) return undefined;
    const existing = holder.existing ?? [];
    const storedIds = new Set<string>();
    for (const line of existing) if (line.provider_id) storedIds.add(line.provider_id);
    const run: StreamRun = { statements: [], warnings: [], checks: [] };
    for (const stream of streams) {
      const input = { stream, connection: spec.name, includePending: spec.includePending ?? false, checkAborted: () => controller.signal.throwIfAborted() };
      try {
        run.checks.push(await checkStream(input, storedIds));
      } catch (err) {
        if (!(err instanceof MalformedStatementError) || !stream.reject || controller.signal.aborted) throw err;
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
      log.info(`${spec.name}: streamed input read into memory (${why})`, { event: 'bank.file', streamed: false, reason: why });
      for (const check of run.checks.splice(0)) {
        for (const statement of await collectStream(check)) fetched.statements.push(statement);
      }
      run.statements = [];
      return run;
    }
    const streamAccounts = new Set(run.statements.map((s) => accountKey(s.accountId)));
    holder.existing = existing.filter((l) => !streamAccounts.has(accountKey(l.account_id)));
    const now = this.now();
    run.planner = new StreamPlanner({
      connection: spec.name,
      includePending: spec.includePending ?? false,
      importedAt: now.toISOString(),
      existing,
      batchSize: this.writeBatchSize,
      write: (docs) => this.writeFresh(docs as unknown as BooksDoc[], now, true),
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
  ): { result: RunLeftovers; plan: LinePlan } {
    const fetched = holder.fetched!;
    const existing = holder.existing ?? [];
    holder.fetched = undefined;
    holder.existing = undefined;
    const result: RunLeftovers = { commit: fetched.commit, consentExpiresAt: fetched.consentExpiresAt, warnings: fetched.warnings ?? [], balance: balanceOf([...fetched.statements, ...streamed]) };
    const plan = planStatementLines({
      connection: spec.name,
      statements: fetched.statements,
      includePending: spec.includePending ?? false,
      window,
      existing,
      importedAt: this.now().toISOString(),
    });
    return { result, plan };
  }

  /** Logs `bank.consent_expiring` once per threshold (15, 3, 1 days) and sets consent_expiring. */
  private consentCheck(doc: BankConnectionState, now: Date, log: Logger): BankConnectionState {
    if (!doc.consent_expires_at) return doc;
    const daysLeft = consentDaysLeft(doc.consent_expires_at, now);
    const next = { ...doc, status: doc.status === 'connected' ? healthyStatus(doc.consent_expires_at, now) : doc.status };
    const due = consentWarningDue(daysLeft, doc.consent_warned ?? []);
    if (due) {
      next.consent_warned = due.warned;
      log.warn(`bank connection ${doc.name}: consent expires in ${daysLeft} day(s) (${doc.consent_expires_at}); renew it to keep fetching`, {
        event: 'bank.consent_expiring',
        consent_expires_at: doc.consent_expires_at,
        days_left: daysLeft,
        threshold: due.threshold,
      });
    }
    return next;
  }

  /** provider.fetch, abandoned (and its signal aborted) at the run deadline or on stop. */
  private async fetchWithDeadline(
    provider: BankProvider,
    spec: ConnectionSpec,
    window: { from: CalendarDate; to: CalendarDate },
    log: Logger,
    controller: AbortController,
  ): Promise<FetchResult> {
    const requestTimeoutMs = spec.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const runTimeoutMs = spec.runTimeoutMs ?? requestTimeoutMs * 10;
    const ctx: FetchContext = {
      connection: spec.name,
      settings: spec.settings,
      secrets: spec.secrets,
      window,
      includePending: spec.includePending ?? false,
      stateDir: spec.stateDir,
      logger: log,
      signal: controller.signal,
      requestTimeoutMs,
      now: this.now,
    };
    const timer = setTimeout(() => {
      controller.abort(new BankUnavailableError('BANK_TIMEOUT', `${spec.name}: ${provider.id} did not finish within ${Math.round(runTimeoutMs / 100) / 10}s (bank slow or not answering); will retry on schedule`));
    }, runTimeoutMs);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(controller.signal.reason instanceof Error ? controller.signal.reason : new BankUnavailableError('BANK_ABORTED', `${spec.name}: fetch aborted`));
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
      clearTimeout(timer);
      if (onAbort) controller.signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Every stored line of a connection (any state). The first read of a connection takes the whole
   * `allDocs` range with documents; later reads list only ids and revisions and fetch the documents
   * whose revision changed (the ledger posted or reconciled them, a user deleted them) or that are
   * new, so a daily run over years of history reads a few documents, not all of them. Connections
   * with more than `lineCacheMax` lines are read in full every time (memory stays bounded).
   */
  private async linesOf(connection: string): Promise<StatementLineDoc[]> {
    const prefix = `${idPrefix('statement_line')}${connection}:`;
    const range = { startkey: prefix, endkey: `${prefix}\uffff` };
    const cached = this.lineCache.get(connection);
    if (!cached) {
      const res = await this.store.db.allDocs({ include_docs: true, ...range });
      const lines = res.rows.flatMap((r) => (r.doc ? [r.doc as unknown as StatementLineDoc] : []));
      if (lines.length <= this.lineCacheMax) this.lineCache.set(connection, new Map(lines.map((l) => [l._id, l])));
      return lines;
    }
    const res = await this.store.db.allDocs(range);
    const next = new Map<string, StatementLineDoc>();
    const stale: string[] = [];
    for (const row of res.rows) {
      const hit = cached.get(row.id);
      if (hit && hit._rev === row.value.rev) next.set(row.id, hit);
      else stale.push(row.id);
    }
    if (stale.length > STALE_REREAD_LIMIT) {
      // Mostly new to us (a large import since): one range read is cheaper than that many key reads
      // (PouchDB resolves `keys` one lookup each, all at once).
      this.lineCache.delete(connection);
      return this.linesOf(connection);
    }
    for (let i = 0; i < stale.length; i += 500) {
      const fetched = await this.store.db.allDocs({ keys: stale.slice(i, i + 500), include_docs: true });
      for (const row of fetched.rows as Array<{ id?: string; doc?: object | null }>) {
        if (row.id && row.doc) next.set(row.id, row.doc as unknown as StatementLineDoc);
      }
    }
    if (next.size <= this.lineCacheMax) this.lineCache.set(connection, next);
    else this.lineCache.delete(connection);
    return [...next.values()];
  }

  /**
   * Writes new lines, known to be absent, in one `bulkDocs`: stamped here, and validated here too
   * unless the caller already did (`validate` false). A 409 means the same line arrived meanwhile
   * (same id, same content) and is not an error.
   */
  private async writeFresh(docs: BooksDoc[], now: Date, validate: boolean): Promise<void> {
    if (validate) {
      const problems: LedgerProblem[] = [];
      for (const doc of docs) problems.push(...writeProblems(doc, undefined).problems);
      if (problems.length > 0) throw new LedgerError(problems);
    }
    // Stamped batch by batch, and let go of once written: memory holds one batch's copies.
    const batch = docs.map((doc) => stampDoc(doc, undefined, now));
    let results: Array<PouchDB.Core.Response | PouchDB.Core.Error>;
    try {
      results = await this.store.db.bulkDocs(batch as unknown as PouchDB.Core.PutDocument<object>[]);
    } catch (err) {
      throw new StoreError('STORE_WRITE', `cannot write ${batch.length} statement line(s): ${describeError(err).message}`, { cause: err });
    }
    const failed = results.flatMap((r, j) => ('error' in r && r.error && r.status !== 409 ? [`${batch[j]._id} (${r.message ?? r.name})`] : []));
    if (failed.length > 0) throw new StoreError('STORE_WRITE', `cannot write ${failed.slice(0, 5).join(', ')}${failed.length > 5 ? ` and ${failed.length - 5} more` : ''}`, { details: { count: failed.length } });
  }

  /**
   * Writes the plan. Up to `writeBatchSize` documents go in ONE `putMany` (validated all or
   * nothing, one `bulkDocs`). A larger first import (a 100,000-line file) validates and stamps
   * every document up front (the ledger's `writeProblems` / `stampDoc`, as any writer through `db`
   * must), then writes the new lines straight to `db.bulkDocs` in batches of that size — they are
   * known to be absent, so `putMany`'s read of the current documents is skipped — and the few
   * updates and removals through `putMany`. A batch failing half-way (disk full, a crash) leaves
   * earlier batches written but the watermark unmoved and the provider's input uncommitted;
   * because every id is deterministic the retry maps the same transactions to the same ids, finds
   * what is there and writes the rest: all or nothing at the level of the run. A 409 on a new line
   * means the same line arrived meanwhile (replication from another site): same id, same content.
   */
  private async writeLines(writes: Array<StatementLineDoc | DeletionStub>): Promise<void> {
    if (writes.length === 0) return;
    const docs = writes as unknown as BooksDoc[];
    if (docs.length <= this.writeBatchSize) {
      await this.store.putMany(docs);
      return;
    }
    const now = this.now();
    const fresh: BooksDoc[] = [];
    const others: BooksDoc[] = [];
    const problems: LedgerProblem[] = [];
    for (const doc of docs) {
      const isNew = (doc as { _rev?: string })._rev === undefined && !(doc as unknown as DeletionStub)._deleted;
      if (!isNew) {
        others.push(doc);
        continue;
      }
      problems.push(...writeProblems(doc, undefined).problems);
      fresh.push(doc);
    }
    if (problems.length > 0) throw new LedgerError(problems);
    writes.length = 0;
    for (let i = 0; i < fresh.length; i += this.writeBatchSize) {
      const batch = fresh.slice(i, i + this.writeBatchSize);
      fresh.fill(RELEASED, i, i + this.writeBatchSize);
      await this.writeFresh(batch, now, false);
    }
    for (let i = 0; i < others.length; i += this.writeBatchSize) {
      await this.store.putMany(others.slice(i, i + this.writeBatchSize));
    }
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunOutcome } from '../bank';
import { BANK_CONNECTION_STATUSES } from '../ledger';
import type { CycleReport, SyncState } from '../sync';
import type { OpsSnapshot } from './snapshot';

/**
 * The metric families of booksync (README, Operating booksync, lists them all). Names follow
 * the Prometheus conventions: `booksync_` prefix, base units in the name, `_total` counters,
 * `_timestamp_seconds` instants. Labels only carry bounded values: connection names from the
 * config, states, directions, strategy and type names, error codes and HTTP status codes; never
 * document ids or amounts.
 * @link https://prometheus.io/docs/practices/naming/
 */

const SYNC_STATES: readonly SyncState[] = ['online', 'syncing', 'offline', 'auth_error', 'stopped'];
const DIRECTIONS = ['push', 'pull'] as const;

/** An error code as a label value: the stable codes are short upper-case words; anything else is `OTHER`. */
export function codeLabel(code: string | undefined): string {
  return code && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'OTHER';
}

function seconds(iso: string | null | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

export class BooksyncMetrics {
  readonly registry = new Registry();
  private readonly r = [this.registry];

  readonly info = new Gauge({
    name: 'booksync_info',
    help: 'Always 1; the version as a label.',
    labelNames: ['version'],
    registers: this.r,
  });
  readonly ready = new Gauge({
    name: 'booksync_ready',
    help: '1 once the daemon is ready (every service started), 0 before and while stopping.',
    registers: this.r,
  });

  // ---- sync -------------------------------------------------------------------------------------
  readonly syncState = new Gauge({
    name: 'booksync_sync_state',
    help: 'Replication state: 1 for the current state, 0 for the others.',
    labelNames: ['state'],
    registers: this.r,
  });
  readonly syncDocuments = new Counter({
    name: 'booksync_sync_documents_total',
    help: 'Documents written by replication: push (to the cloud) and pull (into the books).',
    labelNames: ['direction'],
    registers: this.r,
  });
  readonly syncPending = new Gauge({
    name: 'booksync_sync_pending_documents',
    help: 'Changes not yet replicated, per direction (absent while unknown).',
    labelNames: ['direction'],
    registers: this.r,
  });
  readonly syncLastSuccess = new Gauge({
    name: 'booksync_sync_last_success_timestamp_seconds',
    help: 'End of the last successful push or pull cycle (Unix time).',
    labelNames: ['direction'],
    registers: this.r,
  });
  readonly syncConflicts = new Gauge({
    name: 'booksync_sync_open_conflicts',
    help: 'Conflicts waiting for an admin (booksync conflicts).',
    registers: this.r,
  });
  readonly syncOldestConflict = new Gauge({
    name: 'booksync_sync_oldest_open_conflict_timestamp_seconds',
    help: 'When the oldest open conflict was detected (Unix time; 0 when none is open).',
    registers: this.r,
  });
  readonly syncResolutions = new Counter({
    name: 'booksync_sync_resolutions_total',
    help: 'Conflicts resolved automatically, by document type and strategy.',
    labelNames: ['type', 'strategy'],
    registers: this.r,
  });
  readonly syncErrors = new Counter({
    name: 'booksync_sync_errors_total',
    help: 'Failed replication cycles, by error code.',
    labelNames: ['code'],
    registers: this.r,
  });
  readonly syncCycle = new Histogram({
    name: 'booksync_sync_cycle_duration_seconds',
    help: 'Duration of replication cycles that completed.',
    labelNames: ['direction'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: this.r,
  });

  // ---- bank -------------------------------------------------------------------------------------
  readonly bankStatus = new Gauge({
    name: 'booksync_bank_status',
    help: 'Bank connection status: 1 for the current state, 0 for the others.',
    labelNames: ['connection', 'state'],
    registers: this.r,
  });
  readonly bankLastRefresh = new Gauge({
    name: 'booksync_bank_last_refresh_timestamp_seconds',
    help: 'Last run that reached the bank, successful or not (Unix time).',
    labelNames: ['connection'],
    registers: this.r,
  });
  readonly bankLastSuccess = new Gauge({
    name: 'booksync_bank_last_success_timestamp_seconds',
    help: 'Last successful run (Unix time; absent before the first).',
    labelNames: ['connection'],
    registers: this.r,
  });
  readonly bankNextRun = new Gauge({
    name: 'booksync_bank_next_run_timestamp_seconds',
    help: 'Next planned run (Unix time).',
    labelNames: ['connection'],
    registers: this.r,
  });
  readonly bankConsentExpiry = new Gauge({
    name: 'booksync_bank_consent_expiry_timestamp_seconds',
    help: 'When the bank consent ends (Unix time; absent when the provider has none).',
    labelNames: ['connection'],
    registers: this.r,
  });
  readonly bankSchedule = new Gauge({
    name: 'booksync_bank_schedule_interval_seconds',
    help: "Period of the connection's schedule (enabled connections only).",
    labelNames: ['connection'],
    registers: this.r,
  });
  readonly bankFetched = new Counter({
    name: 'booksync_bank_transactions_fetched_total',
    help: 'Transactions the bank returned.',
    labelNames: ['connection'],
    registers: this.r,
  });
  readonly bankNew = new Counter({
    name: 'booksync_bank_transactions_new_total',
    help: 'Transactions written as new statement lines.',
    labelNames: ['connection'],
    registers: this.r,
  });
  readonly bankDuplicate = new Counter({
    name: 'booksync_bank_transactions_duplicate_total',
    help: 'Transactions already in the books (overlap, re-imports).',
    labelNames: ['connection'],
    registers: this.r,
  });
  readonly bankRuns = new Counter({
    name: 'booksync_bank_runs_total',
    help: 'Runs by outcome: ok, error, or skipped (no bank call: blocked, rate limited, disabled).',
    labelNames: ['connection', 'outcome'],
    registers: this.r,
  });
  readonly bankErrors = new Counter({
    name: 'booksync_bank_errors_total',
    help: 'Failed runs, by error code.',
    labelNames: ['connection', 'code'],
    registers: this.r,
  });
  readonly bankRun = new Histogram({
    name: 'booksync_bank_run_duration_seconds',
    help: 'Duration of runs that called the bank.',
    labelNames: ['connection'],
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: this.r,
  });

  // ---- ledger -----------------------------------------------------------------------------------
  readonly ledgerDifference = new Gauge({
    name: 'booksync_ledger_balance_difference_minor',
    help: "Bank balance minus the books' bank account at the last check, in minor units of the currency (0 when they agree).",
    labelNames: ['connection', 'currency'],
    registers: this.r,
  });
  readonly ledgerChecked = new Gauge({
    name: 'booksync_ledger_balance_check_timestamp_seconds',
    help: 'When the balance of the connection was last compared (Unix time).',
    labelNames: ['connection'],
    registers: this.r,
  });
  readonly ledgerUnreconciled = new Gauge({
    name: 'booksync_ledger_unreconciled_lines',
    help: 'Posted bank lines still (partly) in suspense.',
    registers: this.r,
  });
  readonly ledgerPosted = new Counter({
    name: 'booksync_ledger_moves_posted_total',
    help: 'Journal entries the automation created from bank lines.',
    labelNames: ['connection'],
    registers: this.r,
  });

  // ---- local API --------------------------------------------------------------------------------
  readonly localRequests = new Counter({
    name: 'booksync_local_api_requests_total',
    help: 'Requests to the local CouchDB endpoint, by HTTP status code.',
    labelNames: ['code'],
    registers: this.r,
  });
  readonly localDenied = new Counter({
    name: 'booksync_local_api_denied_logins_total',
    help: 'Requests refused for a wrong name or password or an invalid session cookie.',
    registers: this.r,
  });

  // ---- alerts -----------------------------------------------------------------------------------
  readonly webhookDeliveries = new Counter({
    name: 'booksync_alert_webhook_deliveries_total',
    help: 'Alert webhook deliveries: sent, failed, or dropped by the rate limit.',
    labelNames: ['webhook', 'outcome'],
    registers: this.r,
  });

  constructor(version: string) {
    collectDefaultMetrics({ register: this.registry });
    this.info.set({ version }, 1);
    this.ready.set(0);
    for (const direction of DIRECTIONS) this.syncDocuments.inc({ direction }, 0);
    this.localDenied.inc(0);
  }

  /** Counters of a connection start at 0, so `increase()` sees its first run. */
  addConnection(connection: string): void {
    for (const c of [this.bankFetched, this.bankNew, this.bankDuplicate, this.ledgerPosted])
      c.inc({ connection }, 0);
    for (const outcome of ['ok', 'error', 'skipped']) this.bankRuns.inc({ connection, outcome }, 0);
  }

  onCycle(report: CycleReport): void {
    this.syncDocuments.inc({ direction: report.direction }, report.docs);
    this.syncCycle.observe({ direction: report.direction }, report.ms / 1000);
  }

  onSyncError(code: string): void {
    this.syncErrors.inc({ code: codeLabel(code) });
  }

  onResolution(type: string, strategy: string): void {
    this.syncResolutions.inc({ type, strategy });
  }

  onBankRun(o: RunOutcome): void {
    const connection = o.connection;
    const outcome = o.skipped ? 'skipped' : o.error ? 'error' : 'ok';
    this.bankRuns.inc({ connection, outcome });
    if (o.skipped) return;
    this.bankFetched.inc({ connection }, o.counts.fetched);
    this.bankNew.inc({ connection }, o.counts.new);
    this.bankDuplicate.inc({ connection }, o.counts.duplicates);
    this.bankRun.observe({ connection }, o.ms / 1000);
    if (o.error) this.bankErrors.inc({ connection, code: codeLabel(o.error.code) });
  }

  onMovesPosted(connection: string, count: number): void {
    this.ledgerPosted.inc({ connection }, count);
  }

  onLocalResponse(statusCode: number): void {
    this.localRequests.inc({
      code: String(
        Number.isInteger(statusCode) && statusCode >= 100 && statusCode < 600 ? statusCode : 0,
      ),
    });
  }

  /** Sets every gauge from a snapshot; series of things that went away (a removed connection) go too. */
  applySnapshot(s: OpsSnapshot): void {
    this.applySync(s);
    this.applyBank(s);
    this.ledgerDifference.reset();
    this.ledgerChecked.reset();
    for (const b of s.ledger.balances) {
      this.ledgerDifference.set({ connection: b.connection, currency: b.currency }, b.difference);
      setIf(this.ledgerChecked, { connection: b.connection }, seconds(b.checked_at));
    }
    if (s.ledger.unreconciled !== null) this.ledgerUnreconciled.set(s.ledger.unreconciled);
  }

  private applySync(s: OpsSnapshot): void {
    for (const g of [
      this.syncPending,
      this.syncLastSuccess,
      this.syncOldestConflict,
      this.syncState,
    ])
      g.reset();
    const sync = s.sync;
    for (const state of SYNC_STATES)
      this.syncState.set({ state }, (sync?.status.state ?? 'stopped') === state ? 1 : 0);
    if (!sync) return;
    const st = sync.status;
    if (st.pending_push !== null) this.syncPending.set({ direction: 'push' }, st.pending_push);
    if (st.pending_pull !== null) this.syncPending.set({ direction: 'pull' }, st.pending_pull);
    setIf(this.syncLastSuccess, { direction: 'push' }, seconds(st.last_push_at));
    setIf(this.syncLastSuccess, { direction: 'pull' }, seconds(st.last_pull_at));
    this.syncConflicts.set(st.open_conflicts);
    const oldest = seconds(sync.oldestConflictAt);
    if (oldest !== undefined) this.syncOldestConflict.set(oldest);
  }

  private applyBank(s: OpsSnapshot): void {
    const gauges = [
      this.bankStatus,
      this.bankLastRefresh,
      this.bankLastSuccess,
      this.bankNextRun,
      this.bankConsentExpiry,
      this.bankSchedule,
    ];
    for (const g of gauges) g.reset();
    for (const b of s.bank) {
      const connection = b.name;
      const current = b.enabled ? b.status : 'disconnected';
      for (const state of BANK_CONNECTION_STATUSES)
        this.bankStatus.set({ connection, state }, current === state ? 1 : 0);
      setIf(this.bankLastRefresh, { connection }, seconds(b.last_refresh_at));
      setIf(this.bankLastSuccess, { connection }, seconds(b.last_success_at));
      setIf(this.bankNextRun, { connection }, b.enabled ? seconds(b.next_run_at) : undefined);
      setIf(this.bankConsentExpiry, { connection }, seconds(b.consent_expires_at));
      if (b.schedule_ms !== null) this.bankSchedule.set({ connection }, b.schedule_ms / 1000);
    }
  }
}

function setIf<L extends string>(
  gauge: Gauge<L>,
  labels: Partial<Record<L, string>>,
  value: number | undefined,
): void {
  if (value !== undefined) gauge.set(labels, value);
}

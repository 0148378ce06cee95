import { performance } from 'node:perf_hooks';
import type { CalendarDate } from '../shared/dates';
import type { Logger } from '../shared/logger';
import { redactText, safeErrorSummary } from '../shared/redact';
import type { BankConnectionStatus } from '../ledger';
import type { ConnectionSpec } from './connection-spec';
import type { PlanCounts } from './dedup';

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

/** An outcome before the report adds who ran and how long it took. */
export type RunResult = Omit<RunOutcome, 'ms' | 'connection' | 'provider'>;

export function addCounts(a: PlanCounts, b: PlanCounts): PlanCounts {
  const sum = { ...a };
  for (const key of Object.keys(sum) as Array<keyof PlanCounts>) sum[key] += b[key];
  return sum;
}

/**
 * What one run tells the log and its caller. What a bank said reaches the status document (which
 * syncs), the log and `booksync fetch`: masked here once more whatever the provider did
 * (shared/redact.ts).
 */
export class RunReport {
  /** The connection's status when the run began (a `bank.status` line marks a change). */
  previous: BankConnectionStatus | undefined;
  private readonly secrets: string[];
  private readonly startedAt = performance.now();

  constructor(
    readonly spec: ConnectionSpec,
    readonly log: Logger,
  ) {
    this.secrets = Object.values(spec.secrets);
  }

  safeError(error: { code: string; message: string }): { code: string; message: string } {
    return safeErrorSummary(error, this.secrets);
  }

  /** Logs `bank.status` when the run changed the connection's status. */
  announce(status: BankConnectionStatus, error?: { code: string; message: string }): void {
    const previous = this.previous;
    if (status === previous) return;
    this.log.log(
      status === 'connected' || status === 'consent_expiring' ? 'info' : 'warn',
      `bank connection ${this.spec.name}: ${previous} → ${status}`,
      { event: 'bank.status', from: previous, to: status, ...(error ? { error } : {}) },
    );
  }

  /** The outcome, redacted and logged as `bank.run`. */
  finish(result: RunResult): RunOutcome {
    const full: RunOutcome = {
      connection: this.spec.name,
      provider: this.spec.provider,
      ...result,
      ms: Math.round(performance.now() - this.startedAt),
    };
    if (full.error) full.error = this.safeError(full.error);
    full.warnings = full.warnings.map((w) => redactText(w, this.secrets));
    const level = full.error && !full.skipped ? 'warn' : 'info';
    this.log.log(
      level,
      `bank run ${this.spec.name}: ${full.status}${full.skipped ? ` (skipped: ${full.skipped})` : ''}`,
      runLogFields(full),
    );
    return full;
  }
}

function runLogFields(full: RunOutcome): Record<string, unknown> {
  return {
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
  };
}

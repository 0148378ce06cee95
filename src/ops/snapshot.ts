import { listStatuses, plannedAfter, type ScheduleSpec } from '../bank';
import { lastBalanceChecks, pendingLines } from '../ledger/automation';
import type { BankConnectionStatus, BooksStore } from '../ledger';
import type { SyncState, SyncStatus } from '../sync';

/**
 * What the daemon knows about itself at one instant: the facts both the Prometheus metrics and
 * the webhook alerts are computed from, so the two never disagree.
 */
export interface OpsSnapshot {
  at: Date;
  sync: SyncFacts | null;
  bank: BankFacts[];
  ledger: LedgerFacts;
}

export interface SyncFacts {
  status: SyncStatus;
  /** When `status.state` was entered. */
  stateSince: Date;
  /** `detected_at` of the oldest open conflict, or null when there is none. */
  oldestConflictAt: string | null;
}

export interface BankFacts {
  name: string;
  enabled: boolean;
  /** Absent until the connection's first run wrote its status document. */
  status: BankConnectionStatus | null;
  last_refresh_at: string | null;
  last_success_at: string | null;
  next_run_at: string | null;
  consent_expires_at: string | null;
  /** The schedule's period (the gap between two cron firings), null when disabled. */
  schedule_ms: number | null;
}

export interface LedgerFacts {
  balances: Array<{ connection: string; currency: string; difference: number; checked_at: string }>;
  /** Bank lines still in suspense (null until first counted). */
  unreconciled: number | null;
}

/** A configured connection, as far as operations care. */
export interface ConnectionPlan {
  name: string;
  enabled: boolean;
  schedule: ScheduleSpec;
  timezone?: string;
}

/** The sync engine's view, while it runs. */
export interface SyncView {
  status: SyncStatus;
  stateSince: Date;
  /** Open conflicts' detection times (read only when some are open). */
  conflictTimes(): Promise<string[]>;
}

export interface SnapshotSources {
  store: BooksStore;
  connections(): readonly ConnectionPlan[];
  /** The ledger's connection names (those with a balance check). */
  ledgerConnections(): readonly string[];
  sync(): SyncView | undefined;
  clock?: () => Date;
}

/** Firings looked at for a cron line's period: a week of a daily line, so weekends count. */
const CRON_FIRINGS = 8;

/**
 * The schedule's period at `at`: an `every` interval, or the longest gap between a cron line's
 * next firings (a weekday line's period is the weekend, so a quiet Sunday raises no alert).
 */
export function schedulePeriodMs(plan: ConnectionPlan, at: Date): number {
  if ('every' in plan.schedule) return plannedAfter(plan.schedule, at, plan.timezone).periodMs;
  let longest = 0;
  let from = at;
  for (let i = 0; i < CRON_FIRINGS; i++) {
    const next = plannedAfter(plan.schedule, from, plan.timezone);
    longest = Math.max(longest, next.periodMs);
    from = next.at;
  }
  return longest;
}

/**
 * Builds snapshots. Counting unreconciled lines reads every statement line and payment, so that
 * count is kept for `ledgerTtlMs` unless `invalidateLedger()` says a bank run changed the books.
 */
export class SnapshotBuilder {
  private unreconciled: { value: number; at: number } | undefined;
  private readonly clock: () => Date;

  constructor(
    private readonly sources: SnapshotSources,
    private readonly ledgerTtlMs = 60_000,
  ) {
    this.clock = sources.clock ?? (() => new Date());
  }

  invalidateLedger(): void {
    this.unreconciled = undefined;
  }

  async build(): Promise<OpsSnapshot> {
    const at = this.clock();
    const [sync, bank, ledger] = await Promise.all([
      this.syncFacts(),
      this.bankFacts(at),
      this.ledgerFacts(at),
    ]);
    return { at, sync, bank, ledger };
  }

  private async syncFacts(): Promise<SyncFacts | null> {
    const view = this.sources.sync();
    if (!view) return null;
    let oldest: string | null = null;
    if (view.status.open_conflicts > 0) {
      for (const t of await view.conflictTimes()) if (oldest === null || t < oldest) oldest = t;
    }
    return { status: view.status, stateSince: view.stateSince, oldestConflictAt: oldest };
  }

  private async bankFacts(at: Date): Promise<BankFacts[]> {
    const docs = new Map((await listStatuses(this.sources.store)).map((d) => [d.name, d]));
    return this.sources.connections().map((plan) => {
      const doc = docs.get(plan.name);
      return {
        name: plan.name,
        enabled: plan.enabled,
        status: doc?.status ?? null,
        last_refresh_at: doc?.last_refresh_at ?? null,
        last_success_at: doc?.last_success_at ?? null,
        next_run_at: doc?.next_run_at ?? null,
        consent_expires_at: doc?.consent_expires_at ?? null,
        schedule_ms: plan.enabled ? schedulePeriodMs(plan, at) : null,
      };
    });
  }

  private async ledgerFacts(at: Date): Promise<LedgerFacts> {
    const checks = await lastBalanceChecks(this.sources.store, this.sources.ledgerConnections());
    const balances = checks.map((c) => ({
      connection: c.connection,
      currency: c.currency,
      difference: c.difference,
      checked_at: c.checked_at,
    }));
    if (!this.unreconciled || at.getTime() - this.unreconciled.at > this.ledgerTtlMs) {
      this.unreconciled = {
        value: (await pendingLines(this.sources.store)).length,
        at: at.getTime(),
      };
    }
    return { balances, unreconciled: this.unreconciled.value };
  }
}

/** Since when sync has been unable to reach the cloud (offline or auth_error), or null. */
export function syncDownSince(sync: SyncFacts | null): Date | null {
  const down: SyncState[] = ['offline', 'auth_error'];
  return sync && down.includes(sync.status.state) ? sync.stateSince : null;
}

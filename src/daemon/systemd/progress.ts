import type { Config } from '../../config';
import type { DaemonCodeOf } from '../error-codes';
import { BooksyncError, type BooksyncErrorOptions } from '../../shared/errors';

/** A loop of the daemon has made no progress for longer than it ever may. */
export class LoopStuckError extends BooksyncError {
  static readonly code = 'LOOP_STUCK' satisfies DaemonCodeOf<'LoopStuckError'>;
  declare readonly code: typeof LoopStuckError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(LoopStuckError.code, message, options);
  }
}

/** The sync engine's long-poll on the cloud's changes feed (SyncEngine's default `longpollMs`). */
const SYNC_LONGPOLL_MS = 25_000;
/** Room for a busy machine on top of the longest quiet time the sync loop can have. */
const SYNC_SLACK_MS = 60_000;

/**
 * The longest the sync engine can go without a status change, a finished or a failed cycle while
 * it is healthy: a long-poll or an interval, or its longest back-off, plus two request timeouts
 * (every request ends by its timeout).
 */
export function syncQuietLimitMs(config: Config): number {
  const s = config.sync;
  const waits = [
    SYNC_LONGPOLL_MS,
    s.backoff_max_ms,
    s.auth_retry_ms,
    s.mode === 'interval' ? s.interval_ms : 0,
  ];
  return Math.max(...waits) + 2 * config.cloud.request_timeout_ms + SYNC_SLACK_MS;
}

/** Records when a loop last moved, and tells whether it has been quiet for longer than its limit. */
export class ProgressClock {
  private last: number;

  constructor(private readonly now: () => number = Date.now) {
    this.last = now();
  }

  beat(): void {
    this.last = this.now();
  }

  /** Throws LoopStuckError when nothing happened for more than `limitMs`. */
  check(loop: string, limitMs: number): void {
    const quiet = this.now() - this.last;
    if (quiet > limitMs) {
      throw new LoopStuckError(
        `${loop} has made no progress for ${Math.round(quiet / 1000)} s (limit ${Math.round(limitMs / 1000)} s)`,
        {
          details: { loop, quiet_ms: quiet, limit_ms: limitMs },
        },
      );
    }
  }
}

/**
 * How long one bank run may take before the bank loop counts as stuck. Every request of a run
 * ends by bank.request_timeout, but a run is many requests and a large statement import, so the
 * limit is generous: it catches a run that hangs, not one that is slow.
 */
export const BANK_RUN_LIMIT_MS = 30 * 60_000;
/** How late a scheduled bank job may fire before the scheduler counts as stuck. */
export const BANK_JOB_LATE_MS = 15 * 60_000;

/**
 * Tells whether the bank loop moves: no run in flight for longer than BANK_RUN_LIMIT_MS, and no
 * job left unfired for longer than BANK_JOB_LATE_MS after its time.
 */
export class BankProgress {
  private readonly runningSince = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  check(running: readonly string[], nextRuns: Readonly<Record<string, string | null>>): void {
    const t = this.now();
    for (const name of [...this.runningSince.keys()])
      if (!running.includes(name)) this.runningSince.delete(name);
    for (const name of running) if (!this.runningSince.has(name)) this.runningSince.set(name, t);
    for (const [name, since] of this.runningSince) {
      if (t - since > BANK_RUN_LIMIT_MS) {
        throw new LoopStuckError(
          `bank run of ${name} has been in flight for ${Math.round((t - since) / 1000)} s`,
          { details: { loop: 'bank', connection: name } },
        );
      }
    }
    for (const [name, at] of Object.entries(nextRuns)) {
      if (!at || running.includes(name)) continue;
      const late = t - Date.parse(at);
      if (late > BANK_JOB_LATE_MS) {
        throw new LoopStuckError(`bank job of ${name} is ${Math.round(late / 1000)} s overdue`, {
          details: { loop: 'bank', connection: name },
        });
      }
    }
  }
}

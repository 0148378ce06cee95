import type { FetchLoop, RunOutcome } from '../bank';
import type { ConnectionStatusView } from '../bank/status';

/** A connection's status as `booksync status` shows it: the stored document, corrected by what the daemon knows. */
export interface ShownConnectionStatus extends ConnectionStatusView {
  /** false when the status document is behind what happened (its last save failed, e.g. a full disk). */
  state_saved?: false;
  warning?: string;
}

interface Remembered {
  outcome: RunOutcome;
  startedAt: number;
}

/** The code shown when a stored status is known to be stale and no outcome explains it. */
export const STATUS_NOT_SAVED = 'BANK_STATUS_NOT_SAVED';

/**
 * The outcome of each connection's last run, kept in memory. A run whose status document cannot
 * be saved (the books' disk is full) leaves the stored document saying `fetching`, or an older
 * status; `booksync status` then shows the outcome from here and says the state was not saved.
 */
export class BankRunMemory {
  private readonly last = new Map<string, Remembered>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records every outcome of `loop.run` (the scheduler's runs and `booksync fetch`). */
  observe(loop: FetchLoop): void {
    const run = loop.run.bind(loop);
    loop.run = async (spec, options) => {
      const startedAt = this.now();
      const outcome = await run(spec, options);
      this.last.set(spec.name, { outcome, startedAt });
      return outcome;
    };
  }

  /** The views with every stale one corrected; `running` names the connections with a run in progress. */
  correct(
    views: readonly ConnectionStatusView[],
    running: readonly string[],
  ): ShownConnectionStatus[] {
    return views.map((view) => {
      if (running.includes(view.name)) return view;
      const known = this.last.get(view.name);
      if (known && isBehind(view, known)) {
        const { outcome } = known;
        return {
          ...view,
          status: outcome.status,
          next_run_at: outcome.next_run_at ?? view.next_run_at,
          last_error: outcome.error ?? view.last_error,
          state_saved: false,
          warning: `the outcome of the last run (${outcome.status}) could not be saved to the books; see the bank.error log line`,
        };
      }
      if (view.status === 'fetching') {
        // Left by a run that could not save its end (or by a process that was killed): nothing runs now.
        return {
          ...view,
          status: 'error',
          last_error: view.last_error ?? {
            code: STATUS_NOT_SAVED,
            message: 'the last run did not save its outcome; no run is in progress',
          },
          state_saved: false,
          warning:
            "the stored status says 'fetching' but no run is in progress; the last run's outcome was not saved",
        };
      }
      return view;
    });
  }
}

function isBehind(view: ConnectionStatusView, known: Remembered): boolean {
  const { outcome } = known;
  if (outcome.status !== view.status) return true;
  if (outcome.skipped) return false; // a skip saves only what changed, and the status agrees
  const refreshed = view.last_refresh_at === null ? Number.NaN : Date.parse(view.last_refresh_at);
  return !(refreshed >= known.startedAt);
}

/**
 * One-shot jobs at instants, on plain timers. The bank scheduler plans each connection's next run
 * itself (intervals, and cron lines through cron-parser); this only waits for that instant.
 */

/** Where jobs are registered: `createJobTimer()` in the daemon, a recording fake in tests. */
export interface JobTimer {
  schedule(name: string, at: Date, run: () => void): { cancel(): void };
  /** Called once on stop: cancels every job still waiting. */
  shutdown?(): Promise<void>;
}

/**
 * The longest delay `setTimeout` takes: a signed 32-bit count of milliseconds (about 24.8 days).
 * Node fires a longer one after 1 ms instead (with a TimeoutOverflowWarning).
 * @link https://nodejs.org/api/timers.html#settimeoutcallback-delay-args
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The clock and timers a job timer uses; tests pass a fake one they advance by hand. */
export interface TimerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: TimerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A JobTimer that can also say which jobs wait, and for when. */
export interface InspectableJobTimer extends JobTimer {
  /** The waiting jobs by name, with their instants. */
  pending(): Map<string, Date>;
}

interface Job {
  name: string;
  at: Date;
  handle: unknown;
}

/**
 * A job timer on `clock`. An instant already past (or now) runs on the next turn of the event
 * loop, never synchronously; one further away than MAX_TIMEOUT_MS waits in steps of at most that
 * and measures the remaining time again after each step.
 */
export function createJobTimer(clock: TimerClock = systemClock): InspectableJobTimer {
  const jobs = new Set<Job>();
  const arm = (job: Job, run: () => void): void => {
    const delay = job.at.getTime() - clock.now();
    if (delay > MAX_TIMEOUT_MS) {
      job.handle = clock.setTimeout(() => arm(job, run), MAX_TIMEOUT_MS);
      return;
    }
    job.handle = clock.setTimeout(
      () => {
        jobs.delete(job);
        run();
      },
      Math.max(0, delay),
    );
  };
  return {
    schedule(name, at, run) {
      const job: Job = { name, at, handle: undefined };
      jobs.add(job);
      arm(job, run);
      return {
        cancel() {
          clock.clearTimeout(job.handle);
          jobs.delete(job);
        },
      };
    },
    shutdown() {
      for (const job of jobs) clock.clearTimeout(job.handle);
      jobs.clear();
      return Promise.resolve();
    },
    pending() {
      return new Map([...jobs].map((job) => [job.name, job.at]));
    },
  };
}

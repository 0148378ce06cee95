import { describeError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';

/**
 * One part of the daemon that must keep making progress. `check` resolves when it does and
 * rejects (with the reason) when it is stuck.
 */
export interface LivenessProbe {
  readonly name: string;
  check(): Promise<void>;
}

export interface WatchdogOptions {
  /** WATCHDOG_USEC in ms: systemd kills the daemon when no WATCHDOG=1 arrives for this long. */
  periodMs: number;
  probes: () => readonly LivenessProbe[];
  /** Sends WATCHDOG=1. */
  ping: () => void;
  logger: Logger;
}

export interface ProbeFailure {
  probe: string;
  reason: string;
}

/**
 * Sends WATCHDOG=1 only after every probe answered in time. A tick is a timer on the event loop,
 * so a blocked loop sends nothing; the probes then show that the books answer a read and that the
 * sync and bank loops are not stuck. Ticks run three times a period (sd_watchdog_enabled(3)
 * advises pinging at half of it at the latest), so one slow tick does not get a healthy daemon killed.
 */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastFailures = '';

  constructor(private readonly options: WatchdogOptions) {}

  get tickMs(): number {
    return Math.max(1, Math.floor(this.options.periodMs / 3));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Runs every probe with a deadline of one tick; pings when all pass. Returns the failures. */
  async tick(): Promise<ProbeFailure[]> {
    const failures = await runProbes(this.options.probes(), this.tickMs);
    if (failures.length === 0) {
      this.options.ping();
      if (this.lastFailures)
        this.options.logger.info('all watchdog probes pass again', {
          event: 'daemon.watchdog',
          ok: true,
        });
      this.lastFailures = '';
      return failures;
    }
    const summary = JSON.stringify(failures);
    if (summary !== this.lastFailures) {
      this.options.logger.warn(
        `watchdog not pinged: ${failures.map((f) => `${f.probe}: ${f.reason}`).join('; ')}`,
        { event: 'daemon.watchdog', ok: false, failures },
      );
    }
    this.lastFailures = summary;
    return failures;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule(this.tickMs));
    }, ms);
    this.timer.unref();
  }
}

/** Runs the probes side by side; a probe that has not answered by `deadlineMs` fails. */
export async function runProbes(
  probes: readonly LivenessProbe[],
  deadlineMs: number,
): Promise<ProbeFailure[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>(
    (resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)),
  );
  const results = await Promise.all(
    probes.map(async (probe): Promise<ProbeFailure | undefined> => {
      const outcome = await Promise.race([
        probe.check().then(
          () => 'ok' as const,
          (err: unknown) => err,
        ),
        late,
      ]);
      if (outcome === 'ok') return undefined;
      if (outcome === 'late')
        return { probe: probe.name, reason: `no answer within ${deadlineMs} ms` };
      return { probe: probe.name, reason: describeError(outcome).message };
    }),
  );
  clearTimeout(timer);
  return results.filter((r): r is ProbeFailure => r !== undefined);
}

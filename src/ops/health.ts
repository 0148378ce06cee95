import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { describeError } from '../shared/errors';
import type { SyncView } from './snapshot';
import { jsonAnswer, type OpsAnswer } from './http';

/** Daemon phases as the operations endpoints see them. */
export type Phase = 'starting' | 'ready' | 'stopping';

/** A part of the daemon /healthz asks for a sign of life. */
export interface HealthProbe {
  name: string;
  check(): Promise<unknown>;
}

/** How long a probe may take before /healthz calls its part unresponsive. */
export const PROBE_TIMEOUT_MS = 2_000;

function withTimeout(p: Promise<unknown>, ms: number): Promise<'ok' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timeout'>(
    (resolve) => (timer = setTimeout(() => resolve('timeout'), ms)),
  );
  return Promise.race([p.then(() => 'ok' as const), late]).finally(() => clearTimeout(timer));
}

/**
 * /healthz (liveness) and /readyz (readiness).
 *
 * Liveness: the answer itself shows the event loop runs; each probe (the books, every service's
 * status) must answer within PROBE_TIMEOUT_MS. The event loop's worst delay since the last
 * check is reported, not judged: a long bank import may block it for a moment and is no reason
 * to restart.
 *
 * Readiness: 503 until the daemon is ready and while it stops; 503 with a reason while sync is
 * refused by the cloud (auth_error) or has been offline longer than `offlineMaxMs`.
 */
export class Health {
  private phase: Phase = 'starting';
  private readonly loop: IntervalHistogram;

  constructor(
    private readonly probes: () => readonly HealthProbe[],
    private readonly sync: () => SyncView | undefined,
    private offlineMaxMs: number,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.loop.enable();
  }

  get current(): Phase {
    return this.phase;
  }

  setPhase(phase: Phase): void {
    this.phase = phase;
  }

  setOfflineMax(ms: number): void {
    this.offlineMaxMs = ms;
  }

  close(): void {
    this.loop.disable();
  }

  async liveness(): Promise<OpsAnswer> {
    const checks: Record<string, string> = {};
    await Promise.all(
      this.probes().map(async (p) => {
        try {
          checks[p.name] = await withTimeout(p.check(), PROBE_TIMEOUT_MS);
        } catch (err) {
          checks[p.name] = `error: ${describeError(err).code}`;
        }
      }),
    );
    const delayMs = Math.round(this.loop.max / 1e6);
    this.loop.reset();
    const ok = Object.values(checks).every((c) => c === 'ok');
    return jsonAnswer(ok ? 200 : 503, {
      status: ok ? 'ok' : 'unhealthy',
      phase: this.phase,
      checks,
      event_loop_max_delay_ms: delayMs,
    });
  }

  readiness(): OpsAnswer {
    if (this.phase !== 'ready')
      return jsonAnswer(503, {
        status: 'not_ready',
        reason: this.phase === 'starting' ? 'starting' : 'stopping',
      });
    const view = this.sync();
    const state = view?.status.state;
    if (view && state === 'auth_error') {
      return jsonAnswer(503, {
        status: 'not_ready',
        reason: 'sync_auth_error',
        since: view.stateSince.toISOString(),
        error: view.status.last_error,
      });
    }
    if (view && state === 'offline') {
      const forMs = this.clock().getTime() - view.stateSince.getTime();
      if (forMs > this.offlineMaxMs) {
        return jsonAnswer(503, {
          status: 'not_ready',
          reason: 'sync_offline',
          since: view.stateSince.toISOString(),
          error: view.status.last_error,
        });
      }
    }
    return jsonAnswer(200, { status: 'ready', sync: state ?? 'stopped' });
  }
}

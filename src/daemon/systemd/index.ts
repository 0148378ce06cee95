import { describeError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { Service } from '../service';
import { SystemdNotifier, watchdogPeriodMs } from './notifier';
import { UnixDatagramNotifier, type NotifyTransport } from './notify-socket';
import { statusLine } from './status-line';
import { Watchdog, type LivenessProbe } from './watchdog';

export { SystemdNotifier, watchdogPeriodMs } from './notifier';
export {
  notifySocketAddress,
  SystemdNotifyError,
  UnixDatagramNotifier,
  type NotifyTransport,
} from './notify-socket';
export { BankProgress, LoopStuckError, ProgressClock, syncQuietLimitMs } from './progress';
export { statusLine } from './status-line';
export { runProbes, Watchdog, type LivenessProbe, type ProbeFailure } from './watchdog';

/** How often STATUS= is recomputed (sent only when the line changed). */
const STATUS_REFRESH_MS = 5_000;

export interface SystemdIntegrationOptions {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** The daemon's services: their status() feeds STATUS=, their liveness() the watchdog. */
  services: () => readonly Service[];
  /** Probes of the daemon itself (the books). */
  probes?: () => readonly LivenessProbe[];
  /** Where notifications go; by default NOTIFY_SOCKET's datagram socket (none when unset). */
  transport?: NotifyTransport;
}

/**
 * The daemon under systemd (Type=notify, WatchdogSec=; sd_notify(3)): READY, RELOADING, STOPPING,
 * STATUS and WATCHDOG. Outside systemd it does nothing.
 */
export class SystemdIntegration {
  private readonly notifier: SystemdNotifier;
  private readonly watchdog: Watchdog | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: SystemdIntegrationOptions) {
    const logger = options.logger.child({ component: 'systemd' });
    this.notifier = new SystemdNotifier(
      options.transport ?? openTransport(options.env, logger),
      logger,
    );
    const periodMs = watchdogPeriodMs(options.env);
    if (this.notifier.enabled && periodMs !== undefined) {
      this.watchdog = new Watchdog({
        periodMs,
        probes: () => this.probes(),
        ping: () => this.notifier.watchdog(),
        logger,
      });
    }
  }

  /** Start-up is complete: READY=1 with the first status line, then the watchdog and status refresh. */
  async ready(): Promise<void> {
    if (!this.notifier.enabled) return;
    const status = await this.statusText();
    // A stop that came in while the status was read: READY=1 would reopen what STOPPING=1 closed.
    if (this.stopped) return;
    this.notifier.ready(status);
    this.watchdog?.start();
    const refresh = () => {
      if (this.stopped) return;
      this.statusTimer = setTimeout(
        () =>
          void this.statusText()
            .then((s) => !this.stopped && this.notifier.status(s))
            .finally(refresh),
        STATUS_REFRESH_MS,
      );
      this.statusTimer.unref();
    };
    refresh();
  }

  /** Runs a reload between RELOADING=1 and READY=1, whatever its outcome. */
  async aroundReload<T>(reload: () => Promise<T>): Promise<T> {
    this.notifier.reloading();
    try {
      return await reload();
    } finally {
      this.notifier.ready(this.notifier.enabled ? await this.statusText() : undefined);
    }
  }

  /** Shutdown begins: STOPPING=1; no more pings or status. */
  stopping(): void {
    this.stopped = true;
    this.notifier.stopping();
    this.watchdog?.stop();
    clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
  }

  close(): void {
    this.watchdog?.stop();
    clearTimeout(this.statusTimer);
    this.notifier.close();
  }

  private probes(): LivenessProbe[] {
    const own = this.options.probes?.() ?? [];
    const services = this.options
      .services()
      .flatMap((s) => (s.liveness ? [{ name: s.name, check: () => s.liveness!() }] : []));
    return [...own, ...services];
  }

  private async statusText(): Promise<string> {
    const reports: Record<string, Record<string, unknown>> = {};
    for (const service of this.options.services()) {
      if (!service.status) continue;
      try {
        reports[service.name] = await service.status();
      } catch (err) {
        reports[service.name] = { state: `unknown (${describeError(err).code})` };
      }
    }
    return statusLine(reports);
  }
}

function openTransport(env: NodeJS.ProcessEnv, logger: Logger): NotifyTransport | undefined {
  if (!env.NOTIFY_SOCKET) return undefined;
  try {
    return new UnixDatagramNotifier(env.NOTIFY_SOCKET);
  } catch (err) {
    logger.warn(
      `cannot open NOTIFY_SOCKET; systemd will not hear from the daemon: ${describeError(err).message}`,
      { event: 'systemd.notify_failed', code: describeError(err).code },
    );
    return undefined;
  }
}

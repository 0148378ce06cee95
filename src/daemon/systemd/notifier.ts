import { describeError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { NotifyTransport } from './notify-socket';

/**
 * The sd_notify(3) messages the daemon sends. Without a transport (not started by systemd, no
 * NOTIFY_SOCKET) every call does nothing. A send that fails is logged once per error code and
 * never stops the daemon: systemd then sees a missed ping, which is what the watchdog is for.
 */
export class SystemdNotifier {
  private lastStatus: string | undefined;
  private failedCodes = new Set<string>();

  constructor(
    private readonly transport: NotifyTransport | undefined,
    private readonly logger: Logger,
  ) {}

  get enabled(): boolean {
    return this.transport !== undefined;
  }

  /** Start-up or a reload is complete: systemd's start (or reload) job finishes now. */
  ready(status?: string): void {
    this.send(['READY=1', ...(status === undefined ? [] : [statusField(status)])]);
    if (status !== undefined) this.lastStatus = oneLine(status);
  }

  /**
   * A reload begins; READY=1 ends it. MONOTONIC_USEC (CLOCK_MONOTONIC, which process.hrtime
   * reads on Linux) is what systemd 253+ requires with RELOADING=1; 252 ignores it.
   */
  reloading(): void {
    this.send(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`]);
  }

  stopping(): void {
    this.send(['STOPPING=1']);
  }

  /** The one-line STATUS= shown by `systemctl status`; sent only when it changed. */
  status(text: string): void {
    const line = oneLine(text);
    if (line === this.lastStatus) return;
    this.lastStatus = line;
    this.send([statusField(line)]);
  }

  watchdog(): void {
    this.send(['WATCHDOG=1']);
  }

  close(): void {
    this.transport?.close();
  }

  private send(fields: string[]): void {
    if (!this.transport) return;
    try {
      this.transport.send(fields.join('\n'));
    } catch (err) {
      const { code, message } = describeError(err);
      if (this.failedCodes.has(code)) return;
      this.failedCodes.add(code);
      this.logger.warn(`cannot notify systemd: ${message}`, {
        event: 'systemd.notify_failed',
        code,
      });
    }
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, '; ').trim();
}

function statusField(text: string): string {
  return `STATUS=${oneLine(text)}`;
}

/**
 * The watchdog period systemd asks for (WATCHDOG_USEC), in ms, or undefined when it asks for
 * none or means another process (WATCHDOG_PID), as sd_watchdog_enabled(3) decides.
 */
export function watchdogPeriodMs(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 1000));
}

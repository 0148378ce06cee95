import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { ConfigError, formatIssue, loadConfig, secretValues, type Config } from '../config';
import { BooksStore } from '../ledger';
import type { DaemonCodeOf } from './error-codes';
import { BooksyncError, describeError, type BooksyncErrorOptions } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { ensurePrivateDir } from '../shared/private-file';
import { registerBackup } from './backup';
import { ControlServer } from './control';
import { effectiveLogFormat } from './log-pretty';
import { createLogger } from './logging';
import type { Service } from './service';
import { baseStatus, VERSION, type StatusReport } from './status';
import { SystemdIntegration } from './systemd';

/** How long shutdown may take before the daemon gives up on in-flight work (systemd's default stop timeout is 90 s; the issue asks for 10 s). */
export const STOP_DEADLINE_MS = 8_000;

/** Where the daemon keeps things inside its state directory. */
export function statePaths(stateDir: string) {
  return {
    books: path.join(stateDir, 'books'),
    socket: path.join(stateDir, 'control.sock'),
    pidFile: path.join(stateDir, 'booksync.pid'),
  };
}

export interface DaemonOptions {
  configPath: string;
  env?: NodeJS.ProcessEnv;
  /** Log output; stdout by default. */
  stdout?: Writable;
  /** Builds the services for a config (the wiring of sync, bank feeds, local API); none by default. */
  services?: (ctx: ServiceContext) => Service[];
}

/** What a service factory receives from the composition root. */
export interface ServiceContext {
  config: Config;
  store: BooksStore;
  logger: Logger;
  stateDir: string;
  control: ControlServer;
  env: NodeJS.ProcessEnv;
}

export class StateDirInUseError extends BooksyncError {
  static readonly code = 'STATE_DIR_IN_USE' satisfies DaemonCodeOf<'StateDirInUseError'>;
  declare readonly code: typeof StateDirInUseError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(StateDirInUseError.code, message, options);
  }
}

/**
 * The composition root (docs/ARCHITECTURE.md, "Parts"): reads the config, opens the books, starts the
 * services and the control channel, handles signals and owns shutdown. It never calls
 * process.exit: `done` resolves with the exit code and the CLI exits with it.
 */
export class Daemon {
  private config: Config;
  private readonly logger: Logger;
  private store!: BooksStore;
  private control!: ControlServer;
  private services: Service[] = [];
  private readonly startedAt = new Date();
  private stopping: Promise<void> | undefined;
  private reloading: Promise<boolean> = Promise.resolve(true);
  private resolveDone!: (code: number) => void;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  private readonly systemd: SystemdIntegration;
  /** Resolves with the process exit code once the daemon has stopped. */
  readonly done: Promise<number>;

  private constructor(
    private readonly options: DaemonOptions,
    config: Config,
  ) {
    this.config = config;
    this.logger = createLogger({
      level: config.log.level,
      file: config.log.file ?? undefined,
      stream: options.stdout,
      secrets: () => this.secrets(),
      defaultMeta: { pid: process.pid },
      format: effectiveLogFormat(
        config.log.format,
        options.env ?? process.env,
        options.stdout ? false : process.stdout.isTTY === true,
      ),
    });
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    // The books answering a read is part of the watchdog's liveness check (a missing id is enough).
    const books = {
      name: 'books',
      check: async () => void (await this.store.get('booksync-watchdog-probe')),
    };
    this.systemd = new SystemdIntegration({
      env: options.env ?? process.env,
      logger: this.logger,
      services: () => this.services,
      probes: () => [books],
    });
  }

  /** What to mask in logs and control answers: the config's secrets and those services made (the embedded cloud's password). */
  private secrets(): string[] {
    return [...secretValues(this.config), ...this.services.flatMap((s) => s.secrets?.() ?? [])];
  }

  get log(): Logger {
    return this.logger;
  }

  /**
   * Starts the daemon. Throws ConfigError for a bad config, StateDirInUseError when another
   * booksync holds the state directory; in both cases nothing is left running.
   */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const env = options.env ?? process.env;
    const config = loadConfig(options.configPath, { env, preflight: true });
    const daemon = new Daemon(options, config);
    try {
      await daemon.open();
    } catch (err) {
      // A refusal booksync raised on purpose is its code and message; only an unforeseen error keeps its stack.
      const detail = err instanceof BooksyncError ? describeError(err) : { err };
      daemon.logger.error(`daemon failed to start: ${describeError(err).message}`, {
        event: 'daemon.start_failed',
        ...detail,
      });
      await daemon.closeResources();
      await daemon.flushLogs();
      throw err;
    }
    return daemon;
  }

  private async open(): Promise<void> {
    const { config, logger } = this;
    const paths = statePaths(config.state_dir);
    const looser = ensurePrivateDir(config.state_dir);
    logger.info('booksync starting', {
      event: 'daemon.start',
      version: VERSION,
      config: this.options.configPath,
      state_dir: config.state_dir,
    });
    if (looser !== undefined)
      logger.warn(
        `state directory ${config.state_dir} was mode 0${looser.toString(8)}; now 0700 (it holds the books and credentials)`,
        { event: 'daemon.state_dir_mode', state_dir: config.state_dir },
      );
    try {
      this.store = await BooksStore.open(paths.books, {
        logger: logger.child({ component: 'ledger' }),
      });
    } catch (err) {
      if (err instanceof BooksyncError && err.code === 'STORE_LOCKED') {
        const pid = readPid(paths.pidFile);
        throw new StateDirInUseError(
          `another booksync${pid ? ` (pid ${pid})` : ''} is already running with state directory ${config.state_dir}`,
          { cause: err, details: { state_dir: config.state_dir, pid } },
        );
      }
      throw err;
    }
    fs.writeFileSync(paths.pidFile, `${process.pid}\n`);
    this.control = new ControlServer(paths.socket, logger.child({ component: 'control' }), () =>
      this.secrets(),
    );
    this.control.handle('status', async () => this.status());
    this.control.handle('reload', async () => ({ applied: await this.reload() }));
    this.services = (this.options.services ?? (() => []))({
      config,
      store: this.store,
      logger,
      stateDir: config.state_dir,
      control: this.control,
      env: this.options.env ?? process.env,
    });
    registerBackup(
      this.control,
      () => this.store,
      () => this.services,
      config.state_dir,
      logger.child({ component: 'backup' }),
    );
    for (const service of this.services) {
      await service.start();
    }
    await this.control.listen();
    logger.info('booksync ready', {
      event: 'daemon.ready',
      socket: paths.socket,
      services: this.services.map((s) => s.name),
      control_methods: this.control.methods(),
    });
    for (const service of this.services) service.daemonPhase?.('ready');
  }

  /** SIGTERM/SIGINT stop, SIGHUP reloads. */
  installSignalHandlers(): void {
    const on = (signal: NodeJS.Signals, fn: () => void) => {
      process.on(signal, fn);
      this.signalHandlers.push([signal, fn]);
    };
    on('SIGTERM', () => void this.stop('SIGTERM'));
    on('SIGINT', () => void this.stop('SIGINT'));
    on('SIGHUP', () => void this.reload());
    // systemd may stop or reload the daemon as soon as it hears READY=1, so that waits for the handlers.
    void this.systemd.ready();
  }

  /**
   * Re-reads the config file. An invalid config is logged (config.invalid, every error) and the
   * old one stays in force. Reloads are serialised.
   */
  reload(): Promise<boolean> {
    this.reloading = this.reloading.then(() => this.systemd.aroundReload(() => this.applyReload()));
    return this.reloading;
  }

  private async applyReload(): Promise<boolean> {
    if (this.stopping) return false;
    let next: Config;
    try {
      next = loadConfig(this.options.configPath, {
        env: this.options.env ?? process.env,
        preflight: true,
      });
    } catch (err) {
      const issues =
        err instanceof ConfigError ? err.issues.map(formatIssue) : [describeError(err).message];
      this.logger.error('new config is invalid; keeping the old one', {
        event: 'config.invalid',
        config: this.options.configPath,
        errors: issues,
      });
      return false;
    }
    if (next.state_dir !== this.config.state_dir) {
      this.logger.error(
        'state_dir cannot change on reload; restart the service to move it; keeping the old config',
        {
          event: 'config.invalid',
          config: this.options.configPath,
          errors: [`state_dir: changed from ${this.config.state_dir} to ${next.state_dir}`],
        },
      );
      return false;
    }
    const previous = this.config;
    try {
      for (const service of this.services) await service.reload?.(next);
    } catch (err) {
      this.logger.error('a service could not apply the new config; keeping the old one', {
        event: 'config.invalid',
        err,
      });
      for (const service of this.services) await service.reload?.(previous).catch(() => undefined);
      return false;
    }
    this.config = next;
    this.logger.level = next.log.level;
    this.logger.info('config reloaded', {
      event: 'config.reload',
      config: this.options.configPath,
    });
    return true;
  }

  async status(): Promise<StatusReport> {
    const report = await baseStatus(
      this.config,
      this.store,
      statePaths(this.config.state_dir).books,
    );
    report.running = true;
    report.pid = process.pid;
    report.started_at = this.startedAt.toISOString();
    report.uptime_s = Math.round((Date.now() - this.startedAt.getTime()) / 1000);
    for (const service of this.services) {
      if (service.status) report.services[service.name] = await service.status();
    }
    return report;
  }

  /** Stops taking work, drains services until the deadline, closes the books; `done` then resolves 0. */
  stop(reason = 'request'): Promise<void> {
    if (!this.stopping) {
      this.stopping = this.shutdown(reason);
    }
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    const t0 = Date.now();
    this.logger.info('booksync stopping', { event: 'daemon.stopping', reason });
    for (const service of this.services) service.daemonPhase?.('stopping');
    this.systemd.stopping();
    const deadline = t0 + STOP_DEADLINE_MS;
    await this.closeResources(deadline);
    this.logger.info('booksync stopped', { event: 'daemon.stop', reason, ms: Date.now() - t0 });
    for (const [signal, fn] of this.signalHandlers) process.off(signal, fn);
    await this.flushLogs();
    this.resolveDone(0);
  }

  private async closeResources(deadline = Date.now() + STOP_DEADLINE_MS): Promise<void> {
    await this.control?.close().catch(() => undefined);
    for (const service of [...this.services].reverse()) {
      try {
        // A service that does not honour the deadline must not keep the books open past it.
        const left = Math.max(0, deadline - Date.now());
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>(
          (resolve) => (timer = setTimeout(() => resolve('late'), left)),
        );
        const outcome = await Promise.race([
          service.stop(deadline).then(() => 'stopped' as const),
          late,
        ]);
        clearTimeout(timer);
        if (outcome === 'late') {
          this.logger.warn(
            `service ${service.name} did not stop by the deadline; abandoning its in-flight work`,
            { event: 'daemon.service_stop_late', service: service.name },
          );
        }
      } catch (err) {
        this.logger.error(`service ${service.name} did not stop cleanly`, {
          event: 'daemon.service_stop_failed',
          service: service.name,
          err,
        });
      }
    }
    if (this.store) {
      await this.store.close().catch(() => undefined);
      fs.rmSync(statePaths(this.config.state_dir).pidFile, { force: true });
    }
    this.systemd.close();
  }

  /** Waits until every transport has written what it was given (before the process exits). */
  private flushLogs(): Promise<void> {
    return new Promise((resolve) => {
      const transports = this.logger.transports;
      let pending = transports.length;
      if (pending === 0) return resolve();
      const timer = setTimeout(resolve, 2000);
      for (const t of transports) {
        const stream = t as unknown as {
          _writableState?: { length: number };
          once: (e: string, f: () => void) => void;
        };
        if (!stream._writableState || stream._writableState.length === 0) {
          if (--pending === 0) {
            clearTimeout(timer);
            resolve();
          }
        } else {
          stream.once('drain', () => {
            if (--pending === 0) {
              clearTimeout(timer);
              resolve();
            }
          });
        }
      }
    });
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

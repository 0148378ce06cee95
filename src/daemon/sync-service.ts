import path from 'node:path';
import type { Config } from '../config';
import type { BooksStore } from '../ledger';
import { sameContent } from '../shared/canonical-json';
import { BackupError } from '../backup';
import { BooksyncError, describeError, type BooksyncErrorOptions } from '../shared/errors';
import type { LevelDown } from '../shared/leveldown';
import type { Logger } from '../shared/logger';
import {
  openSync,
  type SyncEngine,
  type SyncRuntime,
  type SyncSetup,
  type SyncTypeOptions,
} from '../sync';
import type { ControlServer } from './control';
import type { DaemonCodeOf } from './error-codes';
import type { Service } from './service';
import { ProgressClock, syncQuietLimitMs } from './systemd/progress';

/** Builds the engine's plain options from the config (the engine does not know the config). */
export function syncSetupFrom(
  config: Config,
  cloudUrl: string,
  books: BooksStore,
  logger: Logger,
): SyncSetup {
  const s = config.sync;
  const types: Record<string, SyncTypeOptions> = {};
  for (const [type, rule] of Object.entries(s.types)) {
    types[type] = {
      direction: rule.direction,
      conflict: rule.conflict,
      tie_breaker: rule.tie_breaker ?? undefined,
      exclude: {
        push: [...rule.exclude.push],
        pull: [...rule.exclude.pull],
        both: [...rule.exclude.both],
      },
    };
  }
  return {
    books,
    bookkeepingDir: path.join(config.state_dir, 'sync'),
    cloud: {
      // A cluster's node URLs: the engine fails over between them.
      url: config.cloud.embedded || config.cloud.urls.length < 2 ? cloudUrl : config.cloud.urls,
      auth: config.cloud.auth
        ? {
            method: config.cloud.auth.method,
            username: config.cloud.auth.username,
            password: config.cloud.auth.password,
          }
        : undefined,
      requestTimeoutMs: config.cloud.request_timeout_ms,
      compression: config.cloud.compression,
    },
    logger,
    mode: s.mode,
    intervalMs: s.interval_ms,
    batchSize: s.batch_size,
    batchBytes: s.batch_bytes,
    maxAttachmentBytes: s.max_attachment_bytes,
    backoff: s.backoff,
    backoffMaxMs: s.backoff_max_ms,
    authRetryMs: s.auth_retry_ms,
    types,
    default: {
      direction: s.default.direction,
      conflict: s.default.conflict,
      tie_breaker: s.default.tie_breaker ?? undefined,
    },
  };
}

/** What of the config the engine reads; a reload that changes none of it leaves sync running untouched. */
function syncSlice(config: Config) {
  return { cloud: config.cloud, sync: config.sync };
}

/** A command needs the sync engine, which is not running. */
export class SyncNotRunningError extends BooksyncError {
  static readonly code = 'SYNC_NOT_RUNNING' satisfies DaemonCodeOf<'SyncNotRunningError'>;
  declare readonly code: typeof SyncNotRunningError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(SyncNotRunningError.code, message, options);
  }
}

/**
 * The replication engine as a daemon service, plus its control methods for the CLI
 * (`booksync conflicts ...`, `booksync sync`).
 */
export class SyncService implements Service {
  readonly name = 'sync';
  private runtime: SyncRuntime | undefined;
  private config: Config;
  /** Moves on every status change, finished or failed cycle (systemd's watchdog reads it). */
  private readonly progress = new ProgressClock();

  constructor(
    config: Config,
    private readonly books: BooksStore,
    private readonly cloudUrl: (config: Config) => string | Promise<string>,
    private readonly logger: Logger,
    control: ControlServer,
    /** Told about each engine before it starts (the metrics follow it). */
    private readonly onEngine?: (engine: SyncEngine) => void,
  ) {
    this.config = config;
    control.handle('conflicts.list', async () => this.engine().listConflicts());
    control.handle('conflicts.resolved', async () => this.engine().listResolved());
    control.handle('conflicts.resolve', async (params) =>
      this.engine().resolveConflict(String(params.id), params.choice),
    );
    control.handle('sync.now', async () => this.engine().syncOnce());
    control.handle('sync.strip_excluded', async () => this.engine().stripExcluded());
  }

  private engine() {
    if (!this.runtime) throw new SyncNotRunningError('sync is not running');
    return this.runtime.engine;
  }

  async start(): Promise<void> {
    this.runtime = await openSync(
      syncSetupFrom(this.config, await this.cloudUrl(this.config), this.books, this.logger),
    );
    const engine = this.runtime.engine;
    this.onEngine?.(engine);
    this.progress.beat();
    const beat = { next: () => this.progress.beat(), error: () => undefined };
    engine.status$.subscribe(beat);
    engine.cycle$.subscribe(beat);
    engine.error$.subscribe(beat);
    await engine.start();
  }

  async stop(): Promise<void> {
    const runtime = this.runtime;
    this.runtime = undefined;
    await runtime?.close();
  }

  /** Applies a new config by restarting the engine (bases and checkpoints persist, so nothing is re-sent). */
  async reload(config: Config): Promise<void> {
    const changed = !sameContent(syncSlice(config), syncSlice(this.config));
    this.config = config;
    if (!changed || !this.runtime) return;
    await this.stop();
    await this.start();
  }

  /** Rejects when the engine is gone or has been quiet longer than it can be while healthy. */
  // eslint-disable-next-line @typescript-eslint/require-await -- async so that both failures reach the probe as a rejection
  async liveness(): Promise<void> {
    if (!this.runtime) throw new SyncNotRunningError('sync is not running');
    this.progress.check('sync', syncQuietLimitMs(this.config));
  }

  backupLevels(): Record<string, LevelDown> {
    if (!this.runtime)
      throw new BackupError(
        'BACKUP_UNAVAILABLE',
        'sync is restarting (its bookkeeping is closed); try the backup again in a moment',
      );
    return { sync: this.runtime.bookkeeping.level };
  }

  /**
   * The engine's status with `pending_push` counted now: the engine updates it after a push
   * cycle, so while offline it would still show the count of the last cycle that got through.
   */
  async status(): Promise<Record<string, unknown>> {
    if (!this.runtime) return { state: 'stopped' };
    const status: Record<string, unknown> = { ...this.runtime.engine.status() };
    try {
      const [info, checkpoint] = await Promise.all([
        this.books.db.info(),
        this.runtime.bookkeeping.checkpoint('push'),
      ]);
      const seq = info.update_seq;
      if (typeof seq === 'number')
        status.pending_push =
          typeof checkpoint === 'number'
            ? Math.max(0, seq - checkpoint)
            : checkpoint === undefined
              ? seq
              : status.pending_push;
    } catch (err) {
      status.pending_push = null;
      status.warning = `the pending count could not be read: ${describeError(err).message}`;
    }
    return status;
  }
}

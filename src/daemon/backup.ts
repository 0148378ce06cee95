import fs from 'node:fs';
import path from 'node:path';
import { createGzip } from 'node:zlib';
import { BackupError, BackupLineReader, writeBackup, type SnapshotSources } from '../backup';
import type { Config } from '../config';
import { BooksStore } from '../ledger';
import { BooksyncError } from '../shared/errors';
import { leveldown, type LevelDown } from '../shared/leveldown';
import type { Logger } from '../shared/logger';
import { controlStream, DaemonNotRunningError, type ControlServer } from './control';
import type { Service } from './service';
import { VERSION } from './status';

/** Where the sync bookkeeping lives in a state directory (src/daemon/sync-service.ts puts it there). */
const SYNC_FOLDER = 'sync';

/**
 * The daemon's `backup` control method: streams a backup (src/backup/format.ts) of its live
 * stores. The snapshot is taken at once, without pausing sync or the bank loop.
 */
export function registerBackup(
  control: ControlServer,
  store: () => BooksStore,
  services: () => readonly Service[],
  stateDir: string,
  logger: Logger,
): void {
  control.handleStream('backup', async (_params, write) => {
    const t0 = Date.now();
    const levels: Record<string, LevelDown> = { books: store().level };
    for (const service of services()) Object.assign(levels, service.backupLevels?.());
    if (!levels.sync)
      throw new BackupError(
        'BACKUP_UNAVAILABLE',
        'the sync bookkeeping is not open; try the backup again in a moment',
      );
    const summary = await writeBackup(
      levels as unknown as SnapshotSources,
      stateDir,
      VERSION,
      write,
    );
    logger.info('backup streamed', {
      event: 'daemon.backup',
      entries: summary.entries,
      ms: Date.now() - t0,
    });
  });
}

/**
 * Receives a backup line by line, checks each one (and the end line's checksum) and writes it
 * gzip-compressed to a private temporary file next to `file`; `finish` links it to `file` only
 * once the end line checked out, so `file` is either a whole backup or absent.
 */
class BackupFileWriter {
  private readonly reader: BackupLineReader;
  private readonly gzip = createGzip();
  private readonly out: fs.WriteStream;
  private readonly written: Promise<void>;
  private drained: Promise<void> | undefined;

  constructor(
    readonly file: string,
    readonly temp: string,
  ) {
    this.reader = new BackupLineReader(file);
    // 0600: the backup holds the books and the bank connections' stored access (e.g. SimpleFIN's access URL).
    this.out = fs.createWriteStream(temp, { flags: 'wx', mode: 0o600 });
    this.written = new Promise((resolve, reject) => {
      this.out.on('close', resolve);
      this.out.on('error', reject);
      this.gzip.on('error', reject);
    });
    this.gzip.pipe(this.out);
  }

  line(text: string): Promise<void> | undefined {
    this.reader.accept(text);
    if (this.gzip.write(`${text}\n`)) return undefined;
    // One wait for every line written while the compressor is full.
    this.drained ??= new Promise<void>((resolve) => this.gzip.once('drain', resolve)).finally(
      () => (this.drained = undefined),
    );
    return this.drained;
  }

  async finish(): Promise<void> {
    this.reader.complete();
    this.gzip.end();
    await this.written;
    const fd = fs.openSync(this.temp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.linkSync(this.temp, this.file);
    fs.rmSync(this.temp, { force: true });
  }

  async abort(): Promise<void> {
    this.gzip.destroy();
    this.out.destroy();
    await this.written.catch(() => undefined);
    fs.rmSync(this.temp, { force: true });
  }
}

export interface BackupResult {
  file: string;
  via: 'daemon' | 'books';
  bytes: number;
}

/**
 * `booksync backup FILE`: asks the running daemon for a backup over the control socket; when no
 * daemon runs, snapshots the stores opened directly. Refuses to overwrite FILE.
 */
export async function backupToFile(
  config: Config,
  file: string,
  logger: Logger,
): Promise<BackupResult> {
  const target = path.resolve(file);
  if (fs.existsSync(target))
    throw new BackupError(
      'BACKUP_EXISTS',
      `${target} exists; give a new file name (a backup never overwrites a file)`,
    );
  const writer = new BackupFileWriter(target, `${target}.partial-${process.pid}`);
  const socket = path.join(config.state_dir, 'control.sock');
  let via: BackupResult['via'] = 'daemon';
  try {
    try {
      await controlStream(socket, 'backup', {}, (line) => writer.line(line));
    } catch (err) {
      if (!(err instanceof DaemonNotRunningError)) throw err;
      via = 'books';
      await backupDirect(config, logger, (line) => writer.line(line));
    }
    await writer.finish();
  } catch (err) {
    await writer.abort();
    if (err instanceof BooksyncError) throw err;
    throw new BackupError(
      'BACKUP_FAILED',
      `backup to ${target} failed, nothing was written: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return { file: target, via, bytes: fs.statSync(target).size };
}

/** The same backup from the stores opened here (the daemon is stopped: its locks are free). */
async function backupDirect(
  config: Config,
  logger: Logger,
  onLine: (line: string) => Promise<void> | undefined,
): Promise<void> {
  const store = await BooksStore.open(path.join(config.state_dir, 'books'), { logger });
  const sync = leveldown(path.join(config.state_dir, SYNC_FOLDER));
  try {
    fs.mkdirSync(path.join(config.state_dir, SYNC_FOLDER), { recursive: true });
    await new Promise<void>((resolve, reject) =>
      sync.open({ createIfMissing: true }, (err) => (err ? reject(err) : resolve())),
    );
    await writeBackup({ books: store.level, sync }, config.state_dir, VERSION, async (chunk) => {
      for (const line of chunk.split('\n')) if (line !== '') await onLine(line);
    });
  } finally {
    if (sync.status === 'open') await new Promise<void>((resolve) => sync.close(() => resolve()));
    await store.close();
  }
}

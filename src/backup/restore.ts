import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { leveldown, type LevelDown } from '../shared/leveldown';
import {
  BackupError,
  BackupLineReader,
  LEVEL_SECTIONS,
  type BackupRecord,
  type LevelSection,
} from './format';

/** Entries written to a LevelDB per batch. */
const BATCH_ENTRIES = 2000;

/** Reads every line of a gzip-compressed backup, checked by the reader; `onRecord` gets each data record. */
async function readBackup(
  file: string,
  onRecord: (record: BackupRecord) => Promise<void>,
): Promise<void> {
  const reader = new BackupLineReader(file);
  const input = createReadStream(file);
  const gunzip = createGunzip();
  let streamError: Error | undefined;
  const fail = (err: Error) => {
    streamError ??= err;
    gunzip.destroy();
  };
  input.on('error', fail);
  gunzip.on('error', fail);
  const lines = createInterface({ input: input.pipe(gunzip), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const record = reader.accept(line);
      if (record) await onRecord(record);
    }
  } catch (err) {
    throw err instanceof BackupError ? err : wrapRead(file, err as Error);
  } finally {
    input.destroy();
  }
  if (streamError) throw wrapRead(file, streamError);
  reader.complete();
}

function wrapRead(file: string, err: Error): BackupError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
    return new BackupError('BACKUP_UNREADABLE', `cannot read ${file} (${err.message})`, {
      cause: err,
    });
  return new BackupError('BACKUP_INVALID', `${file}: not a readable gzip backup (${err.message})`, {
    cause: err,
  });
}

/** Refuses anything but an absent or empty folder; returns whether it exists. */
async function checkTarget(stateDir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await fsp.readdir(stateDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'ENOTDIR')
      throw new BackupError(
        'RESTORE_TARGET',
        `cannot restore into ${stateDir}: it is not a folder`,
      );
    throw new BackupError(
      'RESTORE_TARGET',
      `cannot restore into ${stateDir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (entries.length > 0) {
    throw new BackupError(
      'RESTORE_NOT_EMPTY',
      `refusing to restore into ${stateDir}: it is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}); restore into an empty or new folder`,
      { details: { state_dir: stateDir } },
    );
  }
  return true;
}

function openLevel(location: string): Promise<LevelDown> {
  const db = leveldown(location);
  return new Promise((resolve, reject) =>
    db.open({ createIfMissing: true, errorIfExists: true }, (err) =>
      err ? reject(err) : resolve(db),
    ),
  );
}

function closeLevel(db: LevelDown): Promise<void> {
  return new Promise((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
}

type BufferBatch = Array<{ type: 'put'; key: Buffer; value: Buffer }>;

function writeBatch(db: LevelDown, ops: BufferBatch): Promise<void> {
  return new Promise((resolve, reject) =>
    db.batch(ops as never, {}, (err) => (err ? reject(err) : resolve())),
  );
}

export interface RestoreSummary {
  state_dir: string;
  entries: Record<string, number>;
}

/**
 * Restores a backup into `stateDir`, which must be absent or empty. The whole file is checked
 * first (every line, counts, checksum), so a damaged backup writes nothing; a failure while
 * writing (a full disk) removes what was written.
 */
export async function restoreBackup(file: string, stateDir: string): Promise<RestoreSummary> {
  const target = path.resolve(stateDir);
  const existed = await checkTarget(target);
  await readBackup(file, () => Promise.resolve());

  await fsp.mkdir(target, { recursive: true, mode: 0o750 });
  const levels: Partial<Record<LevelSection, LevelDown>> = {};
  const batches: Record<LevelSection, BufferBatch> = { books: [], sync: [] };
  const entries: Record<string, number> = { books: 0, sync: 0, file: 0 };
  try {
    for (const [section, folder] of Object.entries(LEVEL_SECTIONS) as Array<
      [LevelSection, string]
    >) {
      levels[section] = await openLevel(path.join(target, folder));
    }
    await readBackup(file, async (record) => {
      entries[record.s] += 1;
      if (record.s === 'file') {
        const dest = path.join(target, ...record.path.split('/'));
        await fsp.mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
        await fsp.writeFile(dest, new Uint8Array(Buffer.from(record.data, 'base64')), {
          mode: record.mode,
          flag: 'wx',
        });
        return;
      }
      const batch = batches[record.s];
      batch.push({
        type: 'put',
        key: Buffer.from(record.k, 'base64'),
        value: Buffer.from(record.v, 'base64'),
      });
      if (batch.length >= BATCH_ENTRIES) await writeBatch(levels[record.s]!, batch.splice(0));
    });
    for (const section of Object.keys(batches) as LevelSection[])
      await writeBatch(levels[section]!, batches[section].splice(0));
    for (const section of Object.keys(levels) as LevelSection[]) await closeLevel(levels[section]!);
  } catch (err) {
    await Promise.all(
      Object.values(levels).map((db) =>
        db.status === 'open' ? closeLevel(db).catch(() => undefined) : Promise.resolve(),
      ),
    );
    await removeRestored(target, existed);
    if (err instanceof BackupError) throw err;
    throw new BackupError(
      'RESTORE_FAILED',
      `restore into ${target} failed, nothing was left there: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return { state_dir: target, entries };
}

async function removeRestored(target: string, existed: boolean): Promise<void> {
  if (!existed) {
    await fsp.rm(target, { recursive: true, force: true });
    return;
  }
  for (const name of await fsp.readdir(target).catch(() => [] as string[]))
    await fsp.rm(path.join(target, name), { recursive: true, force: true });
}

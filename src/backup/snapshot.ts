import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { LevelDown, LevelIterator } from '../shared/leveldown';
import { BackupLineWriter, type LevelSection } from './format';

/** The live stores a backup copies; both stay open and in use while it runs. */
export interface SnapshotSources {
  books: LevelDown;
  sync: LevelDown;
}

/** Where each text chunk of the backup goes; resolves when the receiver can take more. */
export type BackupSink = (text: string) => Promise<void>;

/** Folders of the state directory copied as files (the bank connections' state and archives). */
export const FILE_FOLDERS = ['bank'] as const;

/** Bytes gathered before a chunk is handed to the sink. */
const CHUNK_BYTES = 256 * 1024;

type BufferIterator = Omit<LevelIterator, 'next'> & {
  next(cb: (err: Error | undefined, key?: Buffer, value?: Buffer) => void): void;
};

function nextEntry(it: BufferIterator): Promise<[Buffer, Buffer] | undefined> {
  return new Promise((resolve, reject) =>
    it.next((err, key, value) =>
      err ? reject(err) : resolve(key === undefined ? undefined : [key, value as Buffer]),
    ),
  );
}

function endIterator(it: BufferIterator): Promise<void> {
  return new Promise((resolve) => it.end(() => resolve()));
}

/** Every file under `dir` (relative, '/'-separated), sorted; none when the folder does not exist. */
async function listFiles(root: string, rel: string): Promise<string[]> {
  let entries;
  try {
    entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const child = `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listFiles(root, child)));
    else if (e.isFile()) out.push(child);
  }
  return out;
}

export interface BackupSummary {
  entries: Record<string, number>;
}

/**
 * Writes a whole backup to `sink`. Both LevelDB snapshots are taken synchronously, in the same
 * tick, before anything is awaited: that instant is the backup's point in time, and the daemon's
 * writers carry on meanwhile (a LevelDB iterator reads from its own snapshot). PouchDB writes a
 * bulk as one LevelDB batch, and the sync engine writes data, then bases, then its checkpoint, so
 * the copy is a state the engine resumes from as after a kill (README, Replication).
 */
export async function writeBackup(
  sources: SnapshotSources,
  stateDir: string,
  version: string,
  sink: BackupSink,
  now = new Date(),
): Promise<BackupSummary> {
  const options = { keyAsBuffer: true, valueAsBuffer: true, highWaterMark: 1 << 20 };
  const iterators: Record<LevelSection, BufferIterator> = {
    books: sources.books.iterator(options) as unknown as BufferIterator,
    sync: sources.sync.iterator(options) as unknown as BufferIterator,
  };
  const writer = new BackupLineWriter();
  let pending = writer.manifest(version, now);
  const emit = async (text: string): Promise<void> => {
    pending += text;
    if (pending.length >= CHUNK_BYTES) {
      const chunk = pending;
      pending = '';
      await sink(chunk);
    }
  };
  try {
    for (const s of ['books', 'sync'] as const) {
      for (
        let entry = await nextEntry(iterators[s]);
        entry;
        entry = await nextEntry(iterators[s])
      ) {
        await emit(
          writer.record({ s, k: entry[0].toString('base64'), v: entry[1].toString('base64') }),
        );
      }
    }
  } finally {
    await Promise.all(Object.values(iterators).map(endIterator));
  }
  for (const folder of FILE_FOLDERS) {
    for (const rel of await listFiles(stateDir, folder)) {
      const full = path.join(stateDir, rel);
      const [data, stat] = await Promise.all([fsp.readFile(full), fsp.stat(full)]);
      await emit(
        writer.record({
          s: 'file',
          path: rel,
          mode: stat.mode & 0o777,
          data: data.toString('base64'),
        }),
      );
    }
  }
  const trailer = writer.trailer();
  await sink(pending + trailer);
  return { entries: (JSON.parse(trailer) as { entries: Record<string, number> }).entries };
}

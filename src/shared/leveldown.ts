/**
 * The slice of leveldown 6 (abstract-leveldown 7) booksync calls directly, and promise wrappers
 * for it. Used where PouchDB's per-key reads cost too much: the sync bookkeeping (its own LevelDB)
 * and the books' changes reader (the books' LevelDB, read-only).
 */
export interface LevelDown {
  /** abstract-leveldown's state: 'new' | 'opening' | 'open' | 'closing' | 'closed'. */
  readonly status: string;
  open(options: Record<string, unknown>, cb: (err?: Error) => void): void;
  close(cb: (err?: Error) => void): void;
  getMany(
    keys: string[],
    options: Record<string, unknown>,
    cb: (err: Error | undefined, values: Array<string | undefined>) => void,
  ): void;
  batch(
    ops: Array<{ type: 'put' | 'del'; key: string; value?: string }>,
    options: Record<string, unknown>,
    cb: (err?: Error) => void,
  ): void;
  iterator(options: Record<string, unknown>): LevelIterator;
}

export interface LevelIterator {
  next(cb: (err: Error | undefined, key?: string, value?: string) => void): void;
  end(cb: (err?: Error) => void): void;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- leveldown ships no types: the interface above types it
export const leveldown = require('leveldown') as ((location: string) => LevelDown) & {
  /** Deletes the database folder's LevelDB files. */
  destroy(this: void, location: string, cb: (err?: Error) => void): void;
};

/** leveldown's own `_get` / `_getMany` / `_close` (abstract-leveldown 7 calls them after checking and serialising arguments). */
interface LevelDownInternals {
  _get(
    key: unknown,
    options: ReadOptions,
    cb: (err: Error | null | undefined, value?: unknown) => void,
  ): void;
  _getMany(
    keys: unknown[],
    options: ReadOptions,
    cb: (err: Error | null | undefined, values?: unknown[]) => void,
  ): void;
  _close(cb: (err?: Error) => void): void;
}

interface ReadOptions {
  asBuffer?: boolean;
  fillCache?: boolean;
}

/**
 * Makes the `get`s issued in one tick of the event loop one `getMany`: one thread-pool round trip
 * instead of one per key. PouchDB's LevelDB adapter reads every written document's metadata with
 * its own `get` before a `bulkDocs` (`fetchExistingDocs`, pouchdb-node 9.0.0 lib/index.js ~line
 * 5392), so a batch of 1,000 pulled documents cost 1,000 round trips, each a thread wake-up, and
 * wake-ups are dear on a virtual machine (BENCHMARKS.md, Sync).
 * Reads issued in the same tick had no order among themselves before either: leveldown
 * runs each on whichever pool thread is free.
 *
 * Every caller still gets its own answer: the value, or leveldown's own `NotFound` error for an
 * absent key. A close flushes the reads waiting for the tick first, so they run before it.
 * @link https://github.com/Level/leveldown/blob/v6.1.1/binding.cc (GetManyWorker)
 */
export function coalesceGets<T extends LevelDown>(db: T): T {
  const level = db as unknown as LevelDownInternals;
  const get = level._get.bind(level);
  const getMany = level._getMany.bind(level);
  const close = level._close.bind(level);
  type Waiting = {
    options: ReadOptions;
    keys: unknown[];
    callbacks: Array<(err: Error | null | undefined, value?: unknown) => void>;
  };
  let waiting: Map<string, Waiting> | null = null;
  const flush = (): void => {
    const groups = waiting;
    waiting = null;
    if (!groups) return;
    for (const group of groups.values()) {
      if (group.keys.length === 1) {
        get(group.keys[0], group.options, group.callbacks[0]);
        continue;
      }
      getMany(group.keys, group.options, (err, values) => {
        for (let i = 0; i < group.callbacks.length; i++) {
          if (err) group.callbacks[i](err);
          else if (values?.[i] === undefined) group.callbacks[i](new Error('NotFound: '));
          else group.callbacks[i](null, values[i]);
        }
      });
    }
  };
  level._get = (key, options, cb) => {
    if (!waiting) {
      waiting = new Map();
      process.nextTick(flush);
    }
    // Reads are grouped by the options that shape their answers.
    const shape = `${options.asBuffer !== false}:${options.fillCache !== false}`;
    let group = waiting.get(shape);
    if (!group) waiting.set(shape, (group = { options, keys: [], callbacks: [] }));
    group.keys.push(key);
    group.callbacks.push(cb);
  };
  level._close = (cb) => {
    flush();
    close(cb);
  };
  return db;
}

/** Values of `keys` as strings (undefined where absent), in one thread-pool round trip. */
export function getMany(db: LevelDown, keys: string[]): Promise<Array<string | undefined>> {
  return new Promise((resolve, reject) =>
    db.getMany(keys, { asBuffer: false }, (err, values) => (err ? reject(err) : resolve(values))),
  );
}

/**
 * Every entry of `options`' range (string keys and values), then ends the iterator.
 *
 * leveldown reads ahead in the thread pool until it holds `highWaterMark` bytes (16 KiB by
 * default, binding.cc `iterator_init`), so a 1 MB range of ~1 KB values is some 60 round trips at
 * the default; a caller that reads the whole range anyway can raise it. Entries then come out of
 * the iterator's cache one `process.nextTick` each; a callback loop (not a promise per entry)
 * keeps that cheap.
 */
export function readRange(
  db: LevelDown,
  options: { gt?: string; lt?: string; limit?: number; highWaterMark?: number },
): Promise<Array<[string, string]>> {
  const it = db.iterator({ ...options, keyAsBuffer: false, valueAsBuffer: false });
  const out: Array<[string, string]> = [];
  return new Promise((resolve, reject) => {
    const finish = (failure?: Error) => it.end(() => (failure ? reject(failure) : resolve(out)));
    const step = (): void => {
      it.next((err, key, value) => {
        if (err) return finish(err);
        if (key === undefined) return finish();
        out.push([key, value as string]);
        step();
      });
    };
    step();
  });
}

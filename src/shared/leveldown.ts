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
  getMany(keys: string[], options: Record<string, unknown>, cb: (err: Error | undefined, values: Array<string | undefined>) => void): void;
  batch(ops: Array<{ type: 'put' | 'del'; key: string; value?: string }>, options: Record<string, unknown>, cb: (err?: Error) => void): void;
  iterator(options: Record<string, unknown>): LevelIterator;
}

export interface LevelIterator {
  next(cb: (err: Error | undefined, key?: string, value?: string) => void): void;
  end(cb: (err?: Error) => void): void;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const leveldown = require('leveldown') as ((location: string) => LevelDown) & {
  /** Deletes the database folder's LevelDB files. */
  destroy(location: string, cb: (err?: Error) => void): void;
};

/** Values of `keys` as strings (undefined where absent), in one thread-pool round trip. */
export function getMany(db: LevelDown, keys: string[]): Promise<Array<string | undefined>> {
  return new Promise((resolve, reject) => db.getMany(keys, { asBuffer: false }, (err, values) => (err ? reject(err) : resolve(values))));
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
export function readRange(db: LevelDown, options: { gt?: string; lt?: string; limit?: number; highWaterMark?: number }): Promise<Array<[string, string]>> {
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

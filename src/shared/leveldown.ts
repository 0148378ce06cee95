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
export const leveldown = require('leveldown') as (location: string) => LevelDown;

/** Values of `keys` as strings (undefined where absent), in one thread-pool round trip. */
export function getMany(db: LevelDown, keys: string[]): Promise<Array<string | undefined>> {
  return new Promise((resolve, reject) => db.getMany(keys, { asBuffer: false }, (err, values) => (err ? reject(err) : resolve(values))));
}

/**
 * Every entry of `options`' range (string keys and values), then ends the iterator. leveldown
 * fills its iterator cache in chunks, so this is a few round trips, not one per entry.
 */
export async function readRange(db: LevelDown, options: { gt?: string; lt?: string; limit?: number }): Promise<Array<[string, string]>> {
  const it = db.iterator({ ...options, keyAsBuffer: false, valueAsBuffer: false });
  const out: Array<[string, string]> = [];
  try {
    for (;;) {
      const entry = await new Promise<[string, string] | null>((resolve, reject) =>
        it.next((err, key, value) => (err ? reject(err) : resolve(key === undefined ? null : [key, value as string]))),
      );
      if (!entry) break;
      out.push(entry);
    }
  } finally {
    await new Promise<void>((resolve) => it.end(() => resolve()));
  }
  return out;
}

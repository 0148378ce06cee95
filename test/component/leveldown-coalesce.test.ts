import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import winston from 'winston';
import { BooksStore } from '../../src/ledger';
import { coalesceGets, leveldown, type LevelDown } from '../../src/shared/leveldown';

/**
 * `coalesceGets` on a real LevelDB: the reads of one tick go to the thread pool as one `getMany`,
 * and every caller still gets exactly the answer its own `get` would have given.
 */

type Internals = {
  _get: (...a: unknown[]) => void;
  _getMany: (keys: unknown[], ...rest: unknown[]) => void;
};
type Get = (
  key: string,
  options: Record<string, unknown>,
  cb: (err: Error | null | undefined, value?: unknown) => void,
) => void;

describe('coalesceGets (one thread-pool round trip per tick of reads)', () => {
  let dir: string;
  let db: LevelDown;
  const calls = { get: 0, getMany: 0, keys: 0 };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coalesce-'));
    const raw = leveldown(path.join(dir, 'db'));
    // Count what reaches leveldown itself, under the coalescer.
    const internals = raw as unknown as Internals;
    const ownGet = internals._get.bind(raw);
    const ownGetMany = internals._getMany.bind(raw);
    calls.get = calls.getMany = calls.keys = 0;
    internals._get = (...a: unknown[]) => {
      calls.get++;
      ownGet(...a);
    };
    internals._getMany = (keys: unknown[], ...rest: unknown[]) => {
      calls.getMany++;
      calls.keys += keys.length;
      ownGetMany(keys, ...rest);
    };
    db = coalesceGets(raw);
    await new Promise<void>((resolve, reject) =>
      db.open({ createIfMissing: true }, (err) => (err ? reject(err) : resolve())),
    );
    const ops = Array.from({ length: 50 }, (_, i) => ({
      type: 'put' as const,
      key: `k${i}`,
      value: `value ${i}`,
    }));
    await new Promise<void>((resolve, reject) =>
      db.batch(ops, {}, (err) => (err ? reject(err) : resolve())),
    );
  });

  afterEach(async () => {
    if (db.status === 'open') await new Promise<void>((resolve) => db.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const get = (key: string, options: Record<string, unknown> = {}) =>
    new Promise<{ err: Error | null | undefined; value?: unknown }>((resolve) =>
      (db as unknown as { get: Get }).get(key, options, (err, value) => resolve({ err, value })),
    );

  it('given 40 reads in one tick, then one getMany answers them all, each with its own value', async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => get(`k${i}`, { asBuffer: false })),
    );
    assert.deepEqual(
      answers.map((a) => a.value),
      Array.from({ length: 40 }, (_, i) => `value ${i}`),
    );
    assert.ok(answers.every((a) => !a.err));
    assert.deepEqual(calls, { get: 0, getMany: 1, keys: 40 });
  });

  it('given an absent key among present ones, then only that read fails, with the NotFound error levelup and PouchDB recognise', async () => {
    const [present, absent, alsoPresent] = await Promise.all([
      get('k1', { asBuffer: false }),
      get('nope', { asBuffer: false }),
      get('k2', { asBuffer: false }),
    ]);
    assert.equal(present.value, 'value 1');
    assert.equal(alsoPresent.value, 'value 2');
    assert.ok(absent.err instanceof Error);
    assert.match(
      String(absent.err),
      /notfound/i,
      'levelup turns /notfound/i errors into NotFoundError (levelup 4 lib/levelup.js get)',
    );
    assert.equal(absent.value, undefined);
  });

  it('given reads asking for Buffers and for strings in one tick, then each gets the type it asked for', async () => {
    const [buffer, text] = await Promise.all([get('k3'), get('k3', { asBuffer: false })]);
    assert.ok(Buffer.isBuffer(buffer.value));
    assert.equal(buffer.value.toString(), 'value 3');
    assert.equal(text.value, 'value 3');
    assert.equal(calls.getMany + calls.get, 2, 'one round trip per answer shape');
  });

  it('given reads in separate ticks, then each is its own round trip (nothing waits for company)', async () => {
    assert.equal((await get('k4', { asBuffer: false })).value, 'value 4');
    assert.equal((await get('k5', { asBuffer: false })).value, 'value 5');
    assert.deepEqual(calls, { get: 2, getMany: 0, keys: 0 });
  });

  it('given a close in the same tick as reads, then the reads are answered before the database closes', async () => {
    const reads = [get('k6', { asBuffer: false }), get('k7', { asBuffer: false })];
    const closed = new Promise<void>((resolve, reject) =>
      db.close((err) => (err ? reject(err) : resolve())),
    );
    const answers = await Promise.all(reads);
    await closed;
    assert.deepEqual(
      answers.map((a) => [a.err ?? null, a.value]),
      [
        [null, 'value 6'],
        [null, 'value 7'],
      ],
    );
  });

  it('given the books (PouchDB over a coalescing LevelDB), then a bulk write of 300 documents reads their metadata in a few round trips, not 300, and reads and updates stay right', async () => {
    // Count on leveldown's prototype, patched before the books open: the coalescer binds the
    // methods it wraps when the books' LevelDB is made.
    const proto = Object.getPrototypeOf(leveldown(path.join(dir, 'unused'))) as Internals;
    const ownGet = proto._get;
    const ownGetMany = proto._getMany;
    const counted = { get: 0, getMany: 0 };
    proto._get = function (this: unknown, ...a: unknown[]) {
      counted.get++;
      ownGet.apply(this, a);
    };
    proto._getMany = function (this: unknown, keys: unknown[], ...rest: unknown[]) {
      counted.getMany++;
      ownGetMany.call(this, keys, ...rest);
    };
    let books: BooksStore | undefined;
    try {
      books = await BooksStore.open(path.join(dir, 'books'), {
        logger: winston.createLogger({ silent: true }),
      });
      counted.get = counted.getMany = 0;
      const docs = Array.from({ length: 300 }, (_, i) => ({
        _id: `partner:${String(i).padStart(4, '0')}`,
        type: 'partner',
        name: `P${i}`,
      }));
      const written = await books.db.bulkDocs(docs);
      assert.ok(written.every((r) => 'ok' in r && r.ok));
      assert.ok(
        counted.getMany >= 1 && counted.getMany <= 3 && counted.get < 10,
        `metadata read in a few round trips (getMany ${counted.getMany}, get ${counted.get})`,
      );
    } finally {
      proto._get = ownGet;
      proto._getMany = ownGetMany;
    }
    try {
      const doc = (await books.db.get('partner:0123')) as unknown as { name: string; _rev: string };
      assert.equal(doc.name, 'P123');
      await books.db.put({ ...doc, name: 'P123 renamed' });
      const stale = await books.db
        .put({ ...doc, name: 'stale' })
        .catch((err: { status?: number }) => err);
      assert.equal((stale as { status?: number }).status, 409, 'a stale revision is still refused');
      assert.equal(
        ((await books.db.get('partner:0123')) as unknown as { name: string }).name,
        'P123 renamed',
      );
      await assert.rejects(
        books.db.get('partner:9999'),
        (err: { status?: number }) => err.status === 404,
      );
    } finally {
      await books.close();
    }
  });
});

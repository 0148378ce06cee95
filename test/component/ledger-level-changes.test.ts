import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import winston from 'winston';
import {
  BooksStore,
  readWinningDocs,
  winningRev,
  type BooksChange,
  type BooksChangesReader,
  type RevTreePath,
} from '../../src/ledger';
import { leveldown, readRange } from '../../src/shared/leveldown';
import { PouchLocalStore } from '../../src/sync';

/**
 * The books' LevelDB changes reader against PouchDB's own `changes()` on the same database: random
 * histories of creates, updates, deletions, re-creations, design documents, `_local/` documents,
 * attachments and conflicting leaves (live and deleted) written with `new_edits: false`.
 */

type Op =
  | { kind: 'put'; doc: number; value: number; attach: boolean }
  | { kind: 'remove'; doc: number }
  | { kind: 'design'; doc: number; value: number }
  | { kind: 'local'; doc: number; value: number }
  | { kind: 'branch'; doc: number; gen: number; hash: string; deleted: boolean; extend: boolean };

const DOCS = 5;
const docIndex = fc.nat(DOCS - 1);
const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 3, maxLength: 3 });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      doc: docIndex,
      value: fc.nat(999),
      attach: fc.nat(6).map((n) => n === 0),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), doc: docIndex }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('design' as const),
      doc: fc.nat(1),
      value: fc.nat(999),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('local' as const),
      doc: fc.nat(1),
      value: fc.nat(999),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('branch' as const),
      doc: docIndex,
      gen: fc.integer({ min: 1, max: 6 }),
      hash: hex,
      deleted: fc.boolean(),
      extend: fc.boolean(),
    }),
  },
);

const SEED = Number(process.env.LEVEL_CHANGES_PROPERTY_SEED ?? 20261126);
const silent = winston.createLogger({ silent: true });

function isNotFound(err: unknown): boolean {
  return (err as { status?: number }).status === 404;
}

async function currentOf(
  db: PouchDB.Database,
  id: string,
): Promise<{ _id: string; _rev: string } | null> {
  try {
    return await db.get(id);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Applies one write straight to the books' PouchDB (the reader must cope with anything PouchDB stores). */
async function apply(db: PouchDB.Database, op: Op): Promise<void> {
  switch (op.kind) {
    case 'put':
    case 'design':
    case 'local': {
      const id =
        op.kind === 'put'
          ? `partner:${op.doc}`
          : op.kind === 'design'
            ? `_design/d${op.doc}`
            : `_local/l${op.doc}`;
      // A deleted document reads as 404: the put without `_rev` re-creates it on its deleted branch.
      const cur = await currentOf(db, id);
      const attachments =
        op.kind === 'put' && op.attach
          ? {
              _attachments: {
                'note.txt': {
                  content_type: 'text/plain',
                  data: Buffer.from(`note ${op.value}`).toString('base64'),
                },
              },
            }
          : {};
      await db.put({
        _id: id,
        ...(cur ? { _rev: cur._rev } : {}),
        value: op.value,
        ...attachments,
      } as unknown as PouchDB.Core.PutDocument<object>);
      return;
    }
    case 'remove': {
      const cur = await currentOf(db, `partner:${op.doc}`);
      if (cur) await db.remove(cur);
      return;
    }
    case 'branch': {
      const id = `partner:${op.doc}`;
      let body: Record<string, unknown> = {
        _id: id,
        _rev: `${op.gen}-${op.hash}`,
        value: `branch ${op.hash}`,
      };
      const cur = op.extend ? await currentOf(db, id).catch(() => null) : null;
      if (op.extend && (cur || (await db.allDocs({ keys: [id] })).rows.some((r) => 'value' in r))) {
        // A child of one of the existing leaves (a conflict that grows an existing branch).
        const leaves = (await db.get(id, { open_revs: 'all', revs: true })) as unknown as Array<{
          ok?: { _revisions: { start: number; ids: string[] } };
        }>;
        const live = leaves.flatMap((l) => (l.ok ? [l.ok] : []));
        const leaf = live[op.gen % Math.max(1, live.length)];
        if (leaf) {
          const start = leaf._revisions.start + 1;
          body = {
            _id: id,
            _rev: `${start}-${op.hash}`,
            _revisions: { start, ids: [op.hash, ...leaf._revisions.ids] },
            value: `branch ${op.hash}`,
          };
        }
      }
      if (op.deleted) body._deleted = true;
      await db.bulkDocs([body as PouchDB.Core.PutDocument<object>], { new_edits: false });
      return;
    }
  }
}

function describeOps(ops: readonly Op[]): string {
  return ops.map((o) => JSON.stringify(o)).join('\n');
}

/** Reads every change through `reader`, page sizes taken in turn from `sizes`; checks each page's shape. */
async function readAll(
  reader: BooksChangesReader,
  sizes: readonly number[],
  since = 0,
): Promise<{ changes: BooksChange[]; lastSeq: number }> {
  const changes: BooksChange[] = [];
  for (let page = 0; ; page++) {
    assert.ok(page < 10_000, 'the reader keeps saying more');
    const limit = sizes[page % sizes.length];
    const res = await reader.readChanges(since, limit);
    assert.ok(res, 'the reader serves every page of books PouchDB wrote');
    assert.ok(res.changes.length <= limit);
    assert.ok(res.lastSeq >= since);
    for (const c of res.changes)
      assert.ok(
        c.seq > since && c.seq <= res.lastSeq,
        `seq ${c.seq} outside (${since}, ${res.lastSeq}]`,
      );
    changes.push(...res.changes);
    since = res.lastSeq;
    if (!res.more) break;
  }
  return { changes, lastSeq: since };
}

async function pouchChanges(
  db: PouchDB.Database,
): Promise<Array<{ id: string; seq: unknown; doc: unknown }>> {
  const res = await db.changes({
    since: 0,
    include_docs: true,
    style: 'main_only',
  });
  return res.results.map((r) => ({ id: r.id, seq: r.seq, doc: r.doc }));
}

/** Rewrites every `document-store` record without its cached `winningRev` (metadata as PouchDB < 6 wrote it). */
async function stripCachedWinners(dir: string): Promise<number> {
  const level = leveldown(dir);
  await new Promise<void>((resolve, reject) =>
    level.open({}, (err) => (err ? reject(err) : resolve())),
  );
  try {
    const records = await readRange(level, {
      gt: '\xffdocument-store\xff',
      lt: '\xffdocument-store\xff\xff',
    });
    const ops = records.map(([key, value]) => {
      const metadata = JSON.parse(value) as { rev_tree: RevTreePath[]; winningRev?: string };
      // The port of PouchDB's winningRev agrees with the winner PouchDB cached.
      assert.equal(winningRev(metadata.rev_tree), metadata.winningRev, `winner of ${key}`);
      delete metadata.winningRev;
      return { type: 'put' as const, key, value: JSON.stringify(metadata) };
    });
    if (ops.length > 0)
      await new Promise<void>((resolve, reject) =>
        level.batch(ops, {}, (err) => (err ? reject(err) : resolve())),
      );
    return ops.length;
  } finally {
    await new Promise<void>((resolve) => level.close(() => resolve()));
  }
}

describe('books changes reader over LevelDB (component, fast-check)', function () {
  this.timeout(120_000);
  let tmp: string;
  let run = 0;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-level-changes-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('given any history, when read page by page with random page sizes, then it is exactly PouchDB changes() in one go, and ends at update_seq', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 0, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }),
        async (ops, sizes) => {
          const dir = path.join(tmp, `books-${++run}`);
          let books = await BooksStore.open(dir, { logger: silent });
          try {
            for (const op of ops) await apply(books.db, op);
            const expected = await pouchChanges(books.db);
            const got = await readAll(books.changesReader, sizes);
            assert.deepStrictEqual(got.changes, expected, describeOps(ops));
            assert.equal(got.lastSeq, (await books.db.info()).update_seq);
            assert.ok(got.changes.every((c) => !c.id.startsWith('_local/')));

            // Metadata without the cached winner: the reader computes it as PouchDB does.
            await books.close();
            const stripped = await stripCachedWinners(dir);
            books = await BooksStore.open(dir, { logger: silent });
            if (stripped > 0) {
              const again = await readAll(books.changesReader, sizes);
              assert.deepStrictEqual(
                again.changes,
                await pouchChanges(books.db),
                `without cached winners\n${describeOps(ops)}`,
              );
            }
          } finally {
            await books.close();
          }
        },
      ),
      { numRuns: 60, seed: SEED },
    );
  });

  it('given any history, when the winners are read by id from LevelDB, then they are what PouchDB allDocs with keys and docs answers', async () => {
    const ids = [
      ...Array.from({ length: DOCS }, (_, i) => `partner:${i}`),
      '_design/d0',
      '_design/d1',
      'partner:never-written',
    ];
    const viaPouch = async (db: PouchDB.Database) => {
      const res = await db.allDocs({ keys: ids, include_docs: true });
      const out = new Map<string, { rev: string; doc: unknown }>();
      for (const row of res.rows as Array<{
        key: string;
        value?: { rev: string; deleted?: boolean };
        doc?: object | null;
      }>) {
        if (row.value)
          out.set(row.key, { rev: row.value.rev, doc: row.value.deleted ? undefined : row.doc });
      }
      return out;
    };
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 0, maxLength: 40 }), async (ops) => {
        const dir = path.join(tmp, `books-${++run}`);
        let books = await BooksStore.open(dir, { logger: silent });
        try {
          for (const op of ops) await apply(books.db, op);
          const got = await readWinningDocs(books.level, ids);
          assert.deepStrictEqual(got, await viaPouch(books.db), describeOps(ops));
          await books.close();
          const stripped = await stripCachedWinners(dir);
          books = await BooksStore.open(dir, { logger: silent });
          if (stripped > 0) {
            assert.deepStrictEqual(
              await readWinningDocs(books.level, ids),
              await viaPouch(books.db),
              `without cached winners\n${describeOps(ops)}`,
            );
          }
        } finally {
          await books.close();
        }
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('given writes between (and during) page reads, then every document is read at its final winning revision at or after its last write, and no seq twice', async () => {
    type Step =
      | { kind: 'write'; op: Op }
      | { kind: 'read'; size: number }
      | { kind: 'read-while-writing'; size: number; op: Op };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), op: opArb }) },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('read' as const),
          size: fc.integer({ min: 1, max: 6 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('read-while-writing' as const),
          size: fc.integer({ min: 1, max: 6 }),
          op: opArb,
        }),
      },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 50 }), async (steps) => {
        const books = await BooksStore.open(path.join(tmp, `books-${++run}`), { logger: silent });
        try {
          const db = books.db;
          let since = 0;
          let reads = 0;
          const seen: Array<{ id: string; rev: string; read: number }> = [];
          const seqs: number[] = [];
          /** Document id -> number of the first read that starts after its last write. */
          const lastWrite = new Map<string, number>();
          const idOf = (op: Op) =>
            op.kind === 'design'
              ? `_design/d${op.doc}`
              : op.kind === 'local'
                ? null
                : `partner:${op.doc}`;
          /** Applies `op`; a write that changed nothing (a remove of a deleted document, a leaf already there) is not one. */
          const write = async (op: Op): Promise<string | null> => {
            const before = (await db.info()).update_seq;
            await apply(db, op);
            return (await db.info()).update_seq !== before ? idOf(op) : null;
          };
          const take = (
            page: Awaited<ReturnType<BooksChangesReader['readChanges']>>,
            read: number,
          ) => {
            assert.ok(page);
            for (const c of page.changes) {
              seen.push({ id: c.id, rev: c.doc._rev, read });
              seqs.push(c.seq);
            }
            since = page.lastSeq;
          };
          for (const step of steps) {
            if (step.kind === 'write') {
              const id = await write(step.op);
              if (id) lastWrite.set(id, reads);
            } else if (step.kind === 'read') {
              take(await books.changesReader.readChanges(since, step.size), reads++);
            } else {
              // The write may land before, between or after the page's iterator and getMany: it
              // counts as seen only by later reads.
              const read = reads++;
              const [page, id] = await Promise.all([
                books.changesReader.readChanges(since, step.size),
                write(step.op),
              ]);
              if (id) lastWrite.set(id, reads);
              take(page, read);
            }
          }
          // Drain what is left.
          for (;;) {
            const page = await books.changesReader.readChanges(since, 4);
            take(page, reads++);
            if (!page?.more) break;
          }
          for (let i = 1; i < seqs.length; i++)
            assert.ok(
              seqs[i] > seqs[i - 1],
              `seq ${seqs[i]} after ${seqs[i - 1]}: read twice or out of order`,
            );
          assert.equal(since, (await db.info()).update_seq);
          const finals = await db.allDocs({ keys: [...lastWrite.keys()] });
          for (const row of finals.rows as Array<{ key: string; value?: { rev: string } }>) {
            if (!row.value) continue; // a remove of a document never created
            const after = lastWrite.get(row.key) as number;
            assert.ok(
              seen.some((s) => s.id === row.key && s.rev === row.value?.rev && s.read >= after),
              `${row.key} ${row.value.rev} (last written before read ${after}) not read after that; seen: ${JSON.stringify(seen.filter((s) => s.id === row.key))}`,
            );
          }
        } finally {
          await books.close();
        }
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('given a checkpoint that is not a LevelDB seq, then the reader declines and PouchLocalStore reads through db.changes', async () => {
    const books = await BooksStore.open(path.join(tmp, 'books'), { logger: silent });
    try {
      await books.db.bulkDocs([
        { _id: 'partner:1', value: 1 },
        { _id: 'partner:2', value: 2 },
      ]);
      assert.equal(await books.changesReader.readChanges(1.5, 10), null);
      assert.equal(await books.changesReader.readChanges(-1, 10), null);
      assert.equal(await books.changesReader.readChanges(0, 0), null);
      let calls = 0;
      const counting: BooksChangesReader = {
        readChanges: (since, limit) => {
          calls++;
          return books.changesReader.readChanges(since, limit);
        },
      };
      const local = new PouchLocalStore(books, counting);
      const viaReader = await local.changesSince(undefined, 10);
      assert.equal(calls, 1);
      assert.deepEqual(
        viaReader.changes.map((c) => c.id),
        ['partner:1', 'partner:2'],
      );
      assert.equal(viaReader.lastSeq, 2);
      const pouchIds = async (since: unknown) =>
        (
          await books.db.changes({ since, include_docs: true } as PouchDB.Core.ChangesOptions)
        ).results.map((r) => r.id);
      // A foreign checkpoint (a string, say from a CouchDB-style store) goes to PouchDB untouched.
      const viaPouch = await local.changesSince('1', 10);
      assert.equal(calls, 1, 'the reader is not asked');
      assert.deepEqual(
        viaPouch.changes.map((c) => c.id),
        await pouchIds('1'),
      );
      // A number the reader declines falls back too.
      const declined = await local.changesSince(1.5, 10);
      assert.equal(calls, 2);
      assert.deepEqual(
        declined.changes.map((c) => c.id),
        await pouchIds(1.5),
      );
    } finally {
      await books.close();
    }
  });

  it('given the books are closed, when the reader is used, then it fails with STORE_IO instead of touching a closed LevelDB', async () => {
    const books = await BooksStore.open(path.join(tmp, 'books'), { logger: silent });
    await books.db.put({ _id: 'partner:1', value: 1 });
    await books.close();
    await assert.rejects(
      books.changesReader.readChanges(0, 10),
      (err: { code?: string; name?: string }) =>
        err.name === 'StoreError' && err.code === 'STORE_IO',
    );
    const reopened = await BooksStore.open(path.join(tmp, 'books'), { logger: silent });
    try {
      const page = await reopened.changesReader.readChanges(0, 10);
      assert.deepEqual(
        page?.changes.map((c) => c.id),
        ['partner:1'],
      );
    } finally {
      await reopened.close();
    }
  });

  it('given the books opened with the capturing factory, when destroyed through PouchDB, then the LevelDB files go as with the default adapter', async () => {
    const dir = path.join(tmp, 'books');
    const books = await BooksStore.open(dir, { logger: silent });
    await books.db.put({ _id: 'partner:1', value: 1 });
    await books.db.destroy();
    assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], []);
    // PouchDB refuses to close a destroyed database; close still releases the folder.
    await books.close().catch(() => undefined);
  });
});

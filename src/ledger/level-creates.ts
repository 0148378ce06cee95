import { randomBytes } from 'node:crypto';
import { getMany, type LevelDown } from '../shared/leveldown';
import { DOC_STORE, formatSeq } from './level-changes';
import { DOC_COUNT_KEY, UPDATE_SEQ_KEY, type LevelInternals } from './pouch-level';

/**
 * Stores documents new to the books as PouchDB's LevelDB adapter stores a first revision, in one
 * LevelDB batch, without the adapter's per-document work for the general case (revision-tree
 * merges, attachment bookkeeping, a transaction that copies its operation list for every
 * document: BENCHMARKS.md, Sync). A sync pull of a new cloud is almost only such writes.
 *
 * It writes exactly what `_bulkDocs` (pouchdb-node 9.0.0 lib/index.js ~line 5315) writes for a
 * document with no `_rev` whose id the books have never held, through the adapter's own sublevel
 * stores and encodings, while holding the adapter's write queue, and updates the adapter's cached
 * update seq and document count the way its `complete` does (~line 5667):
 *
 * - `by-sequence` at the next seq: the body's fields, then `_id` and `_rev` (`writeDoc`, ~5463);
 * - `document-store` at the id: `{ id, rev_tree, rev, rev_map, winningRev, deleted, seq }`, a
 *   one-node tree `[{ pos: 1, ids: [hash, { status: 'available' }, []] }]` (`parseDoc`, ~4573);
 * - `meta-store`: the new update seq and document count.
 *
 * Revision hashes are random, as the books' PouchDB makes them (`deterministic_revs: false`).
 * Only plain creations take this path (`isPlainCreate`); an id the books already hold, live or
 * deleted, is left to `bulkDocs`, which answers 409 or resurrects it as PouchDB does.
 * test/component/ledger-level-creates.test.ts checks the stored records against `bulkDocs`' own.
 */

/** A first revision this writer may store: a string id PouchDB accepts, no `_` field but `_id`. */
export function isPlainCreate(doc: Record<string, unknown>): boolean {
  const id = doc._id;
  if (typeof id !== 'string' || id === '' || id.charCodeAt(0) === UNDERSCORE) return false;
  for (const key in doc) if (key.charCodeAt(0) === UNDERSCORE && key !== '_id') return false;
  return true;
}

const UNDERSCORE = 0x5f;

/**
 * Stores each of `docs` (all `isPlainCreate`) whose id the books do not hold, in one batch under
 * the adapter's write queue. Returns each document's new revision, or null for one left out (its
 * id is in the books, or came earlier in `docs`): the caller writes those through `bulkDocs`.
 */
export function storeCreates(
  internals: LevelInternals,
  level: LevelDown,
  docs: ReadonlyArray<Record<string, unknown> & { _id: string }>,
): Promise<Array<string | null>> {
  return new Promise((resolve, reject) => {
    // `done` releases the queue; it is called once, whatever happens.
    const locked = internals.writeLock((done) => {
      store(internals, level, docs).then(
        (revs) => {
          done();
          resolve(revs);
        },
        (err: Error) => done(err),
      );
    });
    locked((err) => {
      if (err) reject(err);
    });
  });
}

/** The write itself, at the head of the adapter's queue. */
async function store(
  internals: LevelInternals,
  level: LevelDown,
  docs: ReadonlyArray<Record<string, unknown> & { _id: string }>,
): Promise<Array<string | null>> {
  const stored = await getMany(
    level,
    docs.map((d) => DOC_STORE + d._id),
  );
  const { ops, revs, lastSeq, count } = plan(internals, docs, stored);
  if (count === 0) return revs;
  const { db } = internals;
  await new Promise<void>((resolve, reject) =>
    db.batch(ops, (err) => (err ? reject(err) : resolve())),
  );
  db._docCount += count;
  db._updateSeq = lastSeq;
  internals.notify();
  return revs;
}

/** The batch for the documents not yet in the books (`stored[i]` undefined), and their revisions. */
function plan(
  internals: LevelInternals,
  docs: ReadonlyArray<Record<string, unknown> & { _id: string }>,
  stored: ReadonlyArray<string | undefined>,
): {
  ops: Array<{ type: 'put'; prefix: unknown; key: string; value: unknown }>;
  revs: Array<string | null>;
  lastSeq: number;
  count: number;
} {
  const { db, stores } = internals;
  const hashes = randomBytes(16 * docs.length).toString('hex');
  const ops: Array<{ type: 'put'; prefix: unknown; key: string; value: unknown }> = [];
  const revs = new Array<string | null>(docs.length).fill(null);
  const taken = new Set<string>();
  let seq = db._updateSeq;
  let count = 0;
  for (let i = 0; i < docs.length; i++) {
    const doc = docs[i];
    const id = doc._id;
    if (stored[i] !== undefined || taken.has(id)) continue;
    taken.add(id);
    const hash = hashes.slice(32 * i, 32 * i + 32);
    const rev = `1-${hash}`;
    seq++;
    count++;
    revs[i] = rev;
    const body: Record<string, unknown> = {};
    for (const key in doc) if (key !== '_id') body[key] = doc[key];
    body._id = id;
    body._rev = rev;
    ops.push(
      { type: 'put', prefix: stores.bySeqStore, key: formatSeq(seq), value: body },
      {
        type: 'put',
        prefix: stores.docStore,
        key: id,
        value: {
          id,
          rev_tree: [{ pos: 1, ids: [hash, { status: 'available' }, []] }],
          rev,
          rev_map: { [rev]: seq },
          winningRev: rev,
          deleted: false,
          seq,
        },
      },
    );
  }
  ops.push(
    { type: 'put', prefix: stores.metaStore, key: UPDATE_SEQ_KEY, value: seq },
    { type: 'put', prefix: stores.metaStore, key: DOC_COUNT_KEY, value: db._docCount + count },
  );
  return { ops, revs, lastSeq: seq, count };
}

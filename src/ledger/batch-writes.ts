import { describeError } from '../shared/errors';
import type { KeyedLock } from '../shared/keyed-lock';
import type { LevelDown } from '../shared/leveldown';
import { LedgerError, StoreError, type LedgerProblem } from './errors';
import { validateWrite, writeProblems, type WriteOptions } from './invariants';
import { readWinningDocs } from './level-changes';
import { isPlainCreate, storeCreates } from './level-creates';
import type { LevelInternals } from './pouch-level';
import { idPrefix, type BooksDoc, type DeletionStub } from './model';
import { stampDoc } from './stamp';

/**
 * The batch writes of the books beyond `putMany` (docs/ARCHITECTURE.md, "Invariants"): a
 * replicated revision written over the revision its writer last saw (the sync pull, an admin's
 * conflict resolution), a client's edits and replicated revisions (the local API), and documents
 * known to be absent (a bank import). Each runs its check against the stored document and its
 * write while holding the documents' ids in the books' lock, which every writer of the books
 * takes, so no other write can change a checked document before it is written.
 */

/** The books' PouchDB, its LevelDB (for reads) and its per-document lock, as `BooksStore` holds them. */
export interface BatchTarget {
  readonly db: PouchDB.Database;
  readonly level: LevelDown;
  readonly lock: KeyedLock;
  /** The LevelDB adapter's state (pouch-level.ts): new documents skip `bulkDocs`; null: all through it. */
  readonly internals: LevelInternals | null;
}

/** A document body as a writer sends it: any JSON object with a string `_id`. */
export type WrittenDoc = Record<string, unknown> & { _id: string; _deleted?: boolean };

/** One write that replaces the revision its writer read. */
export interface ExpectedWrite {
  /** Stored as given, timestamps included; `{ _id, _deleted: true }` deletes. */
  doc: WrittenDoc;
  /**
   * The revision `doc` replaces: the books' winning revision when the writer read them (a
   * tombstone's included). `null`: the books had no live document, and `doc` is created.
   */
  expectedRev: string | null;
  /** Bypass posted-move immutability (an admin resolving a conflict); the caller logs it. */
  override?: { reason: string };
}

export type ExpectedWriteResult =
  | { id: string; ok: true; rev: string }
  /** The books' winning revision is not `expectedRev` any more (or the document exists). */
  | { id: string; ok: false; conflict: true }
  /** The ledger refused the document (`code`: `LEDGER_…`), or PouchDB did (`STORE_WRITE`). */
  | { id: string; ok: false; conflict: false; code: string; message: string };

export type RevisionWriteResult =
  | { id: string; ok: true; rev: string }
  | { id: string; ok: false; refused: LedgerError }
  /** PouchDB's answer for this document (409: a revision conflict). */
  | { id: string; ok: false; error: PouchDB.Core.Error };

/** The books' winning revision of a document; `doc` is `undefined` when it is a tombstone. */
interface Winner {
  rev: string;
  doc: BooksDoc | undefined;
}

/**
 * Documents per `bulkDocs` call of `writeExpecting`. PouchDB's LevelDB adapter appends each
 * document's operations to its transaction with `Array#concat` (`LevelTransaction.batch`,
 * pouchdb-node 9.0.0 lib/index.js ~line 4897), copying all earlier ones every time: a bulk write
 * of n documents makes O(n²) garbage (BENCHMARKS.md, Sync). Slices of 250 make a quarter of it.
 */
const EXPECTED_SLICE = 250;

const MOVE_PREFIX = idPrefix('move');

/** Placeholder for a document `createAbsent` has written (lets the caller's copy be collected). */
const RELEASED = Object.freeze({}) as BooksDoc;

/**
 * The winning revision (and live document) of each of `ids` the books have: straight from the
 * LevelDB (`readWinningDocs`), or through PouchDB's `allDocs` for a record only it can decode.
 */
export async function readWinners(
  books: BatchTarget,
  ids: readonly string[],
): Promise<Map<string, Winner>> {
  try {
    const fast = await readWinningDocs(books.level, ids);
    if (fast) return fast as Map<string, Winner>;
    return await readWinnersThroughPouch(books.db, ids);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(
      'STORE_IO',
      `cannot read the stored documents: ${describeError(err).message}`,
      { cause: err },
    );
  }
}

async function readWinnersThroughPouch(
  db: PouchDB.Database,
  ids: readonly string[],
): Promise<Map<string, Winner>> {
  const out = new Map<string, Winner>();
  if (ids.length === 0) return out;
  const res = await db.allDocs({ keys: [...ids], include_docs: true });
  for (const row of res.rows as Array<{
    key: string;
    value?: { rev: string; deleted?: boolean };
    doc?: object | null;
  }>) {
    if (!row.value) continue;
    out.set(row.key, {
      rev: row.value.rev,
      doc: row.value.deleted || !row.doc ? undefined : (row.doc as BooksDoc),
    });
  }
  return out;
}

/**
 * Writes each document over `expectedRev` when that is still the books' winning revision (see
 * `isMoveId`), after the ledger check against that stored revision (`keepTimestamps`: a pulled `updated_at` is the
 * remote writer's). Nothing is stamped: a replicated revision is stored as its writer made it.
 * Creations (`expectedRev` null) of ids the books never held are stored straight into LevelDB
 * (`storeDocs`); for an id they hold, PouchDB answers: 409 when a live document exists.
 */
export async function writeExpecting(
  books: BatchTarget,
  writes: readonly ExpectedWrite[],
): Promise<ExpectedWriteResult[]> {
  const results = new Array<ExpectedWriteResult>(writes.length);
  for (let from = 0; from < writes.length; from += EXPECTED_SLICE) {
    const slice = writes.slice(from, from + EXPECTED_SLICE);
    await books.lock.hold(
      slice.map((w) => w.doc._id),
      async () => {
        const replaced = slice.flatMap((w) =>
          w.expectedRev !== null && isMoveId(w.doc._id) ? [w.doc._id] : [],
        );
        const winners = await readWinners(books, replaced);
        const toWrite: WrittenDoc[] = [];
        const slots: number[] = [];
        slice.forEach((w, k) => {
          const id = w.doc._id;
          let stored: BooksDoc | undefined;
          if (w.expectedRev !== null && isMoveId(id)) {
            const winner = winners.get(id);
            if (winner?.rev !== w.expectedRev) {
              results[from + k] = { id, ok: false, conflict: true };
              return;
            }
            stored = winner.doc;
          }
          const next = w.doc._deleted
            ? ({ _id: id, _deleted: true } as DeletionStub)
            : (w.doc as unknown as BooksDoc);
          try {
            const opts: WriteOptions = {
              keepTimestamps: true,
              ...(w.override ? { override: w.override } : {}),
            };
            validateWrite(next, stored, opts);
          } catch (err) {
            const d = describeError(err);
            results[from + k] = {
              id,
              ok: false,
              conflict: false,
              code: d.code,
              message: d.message,
            };
            return;
          }
          toWrite.push(bodyOver(w));
          slots.push(from + k);
        });
        if (toWrite.length === 0) return;
        const res = await storeDocs(books, toWrite);
        res.forEach((r, j) => {
          const i = slots[j];
          const id = writes[i].doc._id;
          const e = r as PouchDB.Core.Error;
          if ('ok' in r && r.ok) results[i] = { id, ok: true, rev: r.rev };
          else if (e.status === 409) results[i] = { id, ok: false, conflict: true };
          else
            results[i] = {
              id,
              ok: false,
              conflict: false,
              code: 'STORE_WRITE',
              message: String(e.message ?? e.name),
            };
        });
      },
    );
  }
  return results;
}

type BulkAnswer = PouchDB.Core.Response | PouchDB.Core.Error;

/**
 * `bulkDocs(docs)` as PouchDB answers it, with the documents new to the books stored straight into
 * its LevelDB (level-creates.ts) and the others, including an id the books already hold, through
 * `bulkDocs` after them.
 */
async function storeDocs(books: BatchTarget, docs: readonly WrittenDoc[]): Promise<BulkAnswer[]> {
  const internals = books.internals;
  const creates = internals ? docs.flatMap((doc, i) => (isPlainCreate(doc) ? [i] : [])) : [];
  if (!internals || creates.length === 0)
    return books.db.bulkDocs(docs as unknown as PouchDB.Core.PutDocument<object>[]);
  const revs = await storeCreates(
    internals,
    books.level,
    creates.map((i) => docs[i]),
  );
  const answers = new Array<BulkAnswer | undefined>(docs.length);
  creates.forEach((i, k) => {
    const rev = revs[k];
    if (rev !== null) answers[i] = { ok: true, id: docs[i]._id, rev };
  });
  const rest = docs.flatMap((_, i) => (answers[i] === undefined ? [i] : []));
  if (rest.length > 0) {
    const res = await books.db.bulkDocs(
      rest.map((i) => docs[i]) as unknown as PouchDB.Core.PutDocument<object>[],
    );
    res.forEach((r, k) => (answers[rest[k]] = r));
  }
  return answers as BulkAnswer[];
}

/**
 * The ledger's check reads the stored document only to protect a posted move (invariants.ts), and
 * a document whose id is not a move's is never a move (`docProblems` holds type and id prefix
 * together). So `writeExpecting` reads only moves: their winner must be the expected revision
 * (a replicated branch may have outgrown it, which PouchDB's `_rev` check alone would let pass),
 * and the check runs against its body. Other documents rely on PouchDB's `_rev` check.
 */
function isMoveId(id: string): boolean {
  return id.startsWith(MOVE_PREFIX);
}

/** The body PouchDB gets: `doc` over `expectedRev`, or without any `_rev` when created. */
function bodyOver(w: ExpectedWrite): WrittenDoc {
  // No `delete` on the body: it would turn the object into a slow dictionary for PouchDB's work.
  if (w.expectedRev !== null) return { ...w.doc, _rev: w.expectedRev };
  if (w.doc._rev === undefined) return w.doc;
  return Object.fromEntries(Object.entries(w.doc).filter(([key]) => key !== '_rev')) as WrittenDoc;
}

/**
 * Writes a client's documents as CouchDB's `_bulk_docs` would, with the ledger check in place of
 * validate_doc_update: every document but a `_local/` one (not books, written as given) is checked
 * against the books' winning revision. With `newEdits` (an edit) a live document is stamped
 * (`updated_at`, `created_at`, `posted_at`) so `newest-wins` sees the edit; without (replication)
 * the revision is stored exactly as sent. One id may come more than once (revisions of one
 * document); each is checked against the winner as it was before the batch.
 */
export async function writeRevisions(
  books: BatchTarget,
  docs: readonly WrittenDoc[],
  opts: { newEdits: boolean; now: Date },
): Promise<RevisionWriteResult[]> {
  const { newEdits, now } = opts;
  const ids = [...new Set(docs.map((d) => d._id))];
  return books.lock.hold(ids, async () => {
    const winners = await readWinners(
      books,
      ids.filter((id) => !isLocalId(id)),
    );
    const results = new Array<RevisionWriteResult>(docs.length);
    const toWrite: WrittenDoc[] = [];
    const slots: number[] = [];
    docs.forEach((doc, i) => {
      let next = doc;
      if (!isLocalId(doc._id)) {
        const winner = winners.get(doc._id);
        const deletion = doc._deleted === true;
        if (newEdits && !deletion)
          next = stampDoc(doc as unknown as BooksDoc, winner?.doc, now) as unknown as WrittenDoc;
        if (!deletion || touchesWinner(doc, winner, newEdits)) {
          try {
            validateWrite(next as unknown as BooksDoc | DeletionStub, winner?.doc);
          } catch (err) {
            if (!(err instanceof LedgerError)) throw err;
            results[i] = { id: doc._id, ok: false, refused: err };
            return;
          }
        }
      }
      toWrite.push(next);
      slots.push(i);
    });
    if (toWrite.length === 0) return results;
    const written = await books.db.bulkDocs(
      toWrite as unknown as PouchDB.Core.PutDocument<object>[],
      { new_edits: newEdits },
    );
    slots.forEach((slot, j) => {
      const r = written[j] as (PouchDB.Core.Response & PouchDB.Core.Error) | undefined;
      const id = toWrite[j]._id;
      // With `new_edits: false` PouchDB may answer for fewer documents: the rest were stored.
      if (r === undefined || r.ok)
        results[slot] = { id, ok: true, rev: r?.rev ?? revOf(toWrite[j]) };
      else results[slot] = { id, ok: false, error: r };
    });
    return results;
  });
}

function isLocalId(id: string): boolean {
  return id.startsWith('_local/');
}

function revOf(doc: WrittenDoc): string {
  return typeof doc._rev === 'string' ? doc._rev : '';
}

/**
 * Whether a deletion would take away the visible document. A tombstone never outranks a live
 * leaf, so deleting another leaf (resolving a conflict) leaves the winner as it is and needs no
 * ledger check; deleting the winner itself (or a path through it) does.
 */
function touchesWinner(doc: WrittenDoc, winner: Winner | undefined, newEdits: boolean): boolean {
  if (winner === undefined || winner.doc === undefined) return false;
  if (newEdits) return doc._rev === undefined || doc._rev === winner.rev;
  const path = revisionPath(doc);
  return path === undefined || path.includes(winner.rev);
}

/** The revisions a replicated document carries (`_revisions`), newest first; `undefined` when absent. */
function revisionPath(doc: WrittenDoc): string[] | undefined {
  const revs = doc._revisions as { start?: unknown; ids?: unknown } | undefined;
  if (!revs || typeof revs.start !== 'number' || !Array.isArray(revs.ids)) return undefined;
  const start = revs.start;
  return revs.ids.map((hash, i) => `${start - i}-${String(hash)}`);
}

/**
 * Creates documents the writer knows to be absent, in batches of `batchSize` without reading the
 * books first: every document is checked up front (one invalid, nothing written), then each batch
 * is stamped and written holding its ids. A document that exists meanwhile is left as stored
 * (PouchDB answers 409) and its id returned. With `releaseWritten`, each batch's slots of `docs`
 * are cleared once written, so a large import holds one batch's documents, not all of them.
 */
export async function createAbsent(
  books: BatchTarget,
  docs: BooksDoc[],
  opts: { now: Date; batchSize: number; signal?: AbortSignal; releaseWritten?: boolean },
): Promise<string[]> {
  const problems: LedgerProblem[] = [];
  for (const doc of docs) problems.push(...writeProblems(doc, undefined).problems);
  if (problems.length > 0) throw new LedgerError(problems);
  const existing: string[] = [];
  const size = Math.max(1, opts.batchSize);
  for (let i = 0; i < docs.length; i += size) {
    opts.signal?.throwIfAborted();
    const batch = docs.slice(i, i + size);
    if (opts.releaseWritten) docs.fill(RELEASED, i, i + size);
    await books.lock.hold(
      batch.map((d) => d._id),
      () => createBatch(books.db, batch, opts.now, existing),
    );
  }
  return existing;
}

async function createBatch(
  db: PouchDB.Database,
  docs: BooksDoc[],
  now: Date,
  existing: string[],
): Promise<void> {
  // Stamped batch by batch: memory holds one batch's copies.
  const batch = docs.map((doc) => stampDoc(doc, undefined, now));
  let results: Array<PouchDB.Core.Response | PouchDB.Core.Error>;
  try {
    results = await db.bulkDocs(batch as unknown as PouchDB.Core.PutDocument<object>[]);
  } catch (err) {
    throw new StoreError(
      'STORE_WRITE',
      `cannot write ${batch.length} document(s): ${describeError(err).message}`,
      { cause: err },
    );
  }
  const failed: string[] = [];
  results.forEach((r, j) => {
    if (!('error' in r && r.error)) return;
    if (r.status === 409) existing.push(batch[j]._id);
    else failed.push(`${batch[j]._id} (${r.message ?? r.name})`);
  });
  if (failed.length > 0)
    throw new StoreError(
      'STORE_WRITE',
      `cannot write ${failed.slice(0, 5).join(', ')}${failed.length > 5 ? ` and ${failed.length - 5} more` : ''}`,
      { details: { count: failed.length } },
    );
}

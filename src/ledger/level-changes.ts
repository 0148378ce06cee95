import { getMany, readRange, type LevelDown } from '../shared/leveldown';
import { StoreError } from './errors';

/**
 * Reads the books' changes feed straight from PouchDB's LevelDB layout, a page at a time in a few
 * thread-pool round trips: one iterator over `by-sequence`, one `getMany` of the documents'
 * metadata, and (only when some document's winner is not the body written at its last seq) one
 * `getMany` of winning bodies. PouchDB's own `changes()` on LevelDB does one `docStore.get` per
 * change, each a libuv thread-pool round trip, which made the push read of 20,000 documents cost
 * 1-2 s of CPU; this reader does the same work in about a quarter of that.
 *
 * Everything here mirrors pouchdb-node 9.0.0 (`node_modules/pouchdb-node/lib/index.js`) with
 * leveldown 6.1.1; line numbers below are of that file. The reader only reads; the one write that
 * skips PouchDB's `bulkDocs` is a new document's first revision (level-creates.ts), through the
 * adapter's own stores and write queue. package.json therefore pins pouchdb-node exactly (no range), and
 * test/unit/dependency-pins.test.ts checks that the pin, the lockfile and the installed package
 * agree: moving to another PouchDB means checking this file against it first.
 */

/** A document body as stored in `by-sequence` (`_deleted: true` on a deletion). */
export interface StoredDoc {
  _id: string;
  _rev: string;
  _deleted?: boolean;
  _attachments?: Record<string, Record<string, unknown>>;
  [field: string]: unknown;
}

/** One change as `db.changes({ include_docs: true, style: 'main_only' })` reports it. */
export interface BooksChange {
  id: string;
  seq: number;
  /** The document's winning revision at read time (a tombstone for a deleted document). */
  doc: StoredDoc;
}

export interface BooksChangesPage {
  /** In sequence order; each document at most once. */
  changes: BooksChange[];
  /**
   * The last sequence read (a valid checkpoint: everything up to it is covered). It can be past the
   * last change's seq, since entries a later write superseded are read but not reported.
   */
  lastSeq: number;
  /** The page read `limit` entries: more may follow. */
  more: boolean;
}

/** Reads the changes of the books after a sequence number; see `LevelChangesReader`. */
export interface BooksChangesReader {
  /**
   * Up to `limit` entries of the sequence index after `since`, reported as PouchDB's changes
   * feed would. `null` when this reader cannot serve the page (a `since` that is not a sequence
   * number PouchDB's LevelDB adapter wrote, or a record only PouchDB can decode): read that page
   * through `db.changes` instead.
   */
  readChanges(since: number, limit: number): Promise<BooksChangesPage | null>;
}

/** A node of a revision tree: [rev hash, { status, deleted }, child branches] (pouchdb-merge). */
type RevTreeNode = [string, { status?: string; deleted?: boolean }, RevTreeNode[]];

/** One root of a revision tree: its generation and the node at that generation. */
export interface RevTreePath {
  pos: number;
  ids: RevTreeNode;
}

/** A `document-store` record (written by the adapter's `writeDoc`, ~line 5463). */
interface DocMetadata {
  id: string;
  rev_tree: RevTreePath[];
  /** Revision -> the seq its body is stored under in `by-sequence`. */
  rev_map: Record<string, number>;
  /** Seq of the document's latest write. */
  seq: number;
  /** Cached winner (PouchDB >= 6 writes it; older records lack it). */
  winningRev?: string;
}

// Sublevel keys are '\xff' + store name + '\xff' + key (the adapter's `precodec`, ~line 4409).
const BY_SEQ = '\xffby-sequence\xff';
export const DOC_STORE = '\xffdocument-store\xff';
/**
 * Upper bound of the seq keys: ':' sorts right after '9'. Old PouchDB versions kept
 * `_local_last_update_seq` and `_local_doc_count` rows in `by-sequence` (comment above
 * `UPDATE_SEQ_KEY`, ~line 4943); they sort after every digit and stay out of the range.
 */
const BY_SEQ_END = BY_SEQ + ':';
const LOCAL_PREFIX = '_local/';
/**
 * How much the LevelDB iterator reads per thread-pool round trip. The page is read whole anyway;
 * at leveldown's default 16 KiB a page of 1000 ~1 KB documents takes ~60 round trips, and reading
 * it in one or two makes the push read cheaper (BENCHMARKS.md, Sync).
 */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;

/** The adapter's `formatSeq` (~line 5235): seqs are keys zero-padded to 16 digits. */
export function formatSeq(seq: number): string {
  return ('0000000000000000' + seq).slice(-16);
}

/** Seqs PouchDB's LevelDB adapter writes: 1, 2, 3 ... (0 = before the first write). */
function isSeq(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n < 1e16;
}

/**
 * PouchDB's `winningRev` (~line 805): the winner is the deepest leaf that is not deleted; among
 * equally deep leaves the greatest rev hash; deleted leaves win only when every leaf is deleted.
 * Only needed for metadata written before PouchDB cached `winningRev` on it.
 */
export function winningRev(revTree: readonly RevTreePath[]): string {
  let winningId: string | undefined;
  let winningPos = 0;
  let winningDeleted = false;
  const toVisit: Array<{ pos: number; ids: RevTreeNode }> = revTree.slice();
  let node: { pos: number; ids: RevTreeNode } | undefined;
  while ((node = toVisit.pop())) {
    const [id, opts, branches] = node.ids;
    if (branches.length > 0) {
      for (const branch of branches) toVisit.push({ pos: node.pos + 1, ids: branch });
      continue;
    }
    const deleted = !!opts.deleted;
    // The same comparison as PouchDB, term for term: deleted first, then depth, then rev hash.
    if (
      winningId === undefined ||
      (winningDeleted !== deleted
        ? winningDeleted
        : winningPos !== node.pos
          ? winningPos < node.pos
          : winningId < id)
    ) {
      winningId = id;
      winningPos = node.pos;
      winningDeleted = deleted;
    }
  }
  return `${winningPos}-${winningId}`;
}

/** The adapter's `getWinningRev` (~line 4962): the cached winner when there is one. */
function getWinningRev(metadata: DocMetadata): string {
  return 'winningRev' in metadata && metadata.winningRev !== undefined
    ? metadata.winningRev
    : winningRev(metadata.rev_tree);
}

/** Parses a `document-store` record, or `null` when it is not plain JSON (see below). */
function parseMetadata(value: string): DocMetadata | null {
  // The adapter writes metadata with `safeJsonStringify` (~line 4829), which falls back to
  // vuvuzela's encoding when JSON.stringify throws (a revision tree deep enough to overflow the
  // stack). Such a record is left to PouchDB, which has the decoder.
  try {
    return JSON.parse(value) as DocMetadata;
  } catch {
    return null;
  }
}

/**
 * `BooksChangesReader` over the LevelDB handle PouchDB opened for the books. It reproduces the
 * adapter's `api._changes` (~line 5870) with `processChange` (~line 1316) and `filterChange`
 * (~line 570) for `{ include_docs: true, style: 'main_only' }`:
 *
 * - an entry at seq S of document X is reported only if X's metadata says S is its latest write
 *   (`metadata.seq !== seq` -> skip: a later entry supersedes it);
 * - the reported body is the entry's own if its rev is the winner, else the winning leaf's body
 *   read from `by-sequence` at `metadata.rev_map[winner]`;
 * - attachments come as stubs (`stub: true` on each, as `filterChange` sets without
 *   `attachments: true`);
 * - `_local/` documents are not reported (they live in `local-store`, never in `by-sequence`; the
 *   adapter still checks for them, ~line 6005, and so does this).
 *
 * Consistency: the iterator is a snapshot, `getMany` reads the current state. A document written
 * again after the snapshot has a metadata seq beyond every entry of the page, so its old entry is
 * skipped here and its new one is read by a later page; `metadata.seq === S` therefore always
 * means the body reported is the document's current winner, as with PouchDB's own feed.
 */
export class LevelChangesReader implements BooksChangesReader {
  constructor(private readonly level: LevelDown) {}

  async readChanges(since: number, limit: number): Promise<BooksChangesPage | null> {
    if (!isSeq(since) || !Number.isSafeInteger(limit) || limit < 1) return null;
    // leveldown 6's iterator does not check that the database is open (getMany does).
    if (this.level.status !== 'open')
      throw new StoreError(
        'STORE_IO',
        `cannot read the books' changes: the database is ${this.level.status}`,
      );
    try {
      return await this.readPage(since, limit);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'STORE_IO',
        `cannot read the books' changes after seq ${since}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  private async readPage(since: number, limit: number): Promise<BooksChangesPage | null> {
    const entries = await readRange(this.level, {
      gt: BY_SEQ + formatSeq(since),
      lt: BY_SEQ_END,
      limit,
      highWaterMark: READ_AHEAD_BYTES,
    });
    const more = entries.length >= limit;
    if (entries.length === 0) return { changes: [], lastSeq: since, more };
    const lastSeq = Number(entries[entries.length - 1][0].slice(BY_SEQ.length));

    const bodies = new Map<number, StoredDoc>();
    const ids = new Set<string>();
    const order: Array<{ seq: number; doc: StoredDoc }> = [];
    for (const [key, value] of entries) {
      const seq = Number(key.slice(BY_SEQ.length));
      const doc = JSON.parse(value) as StoredDoc;
      bodies.set(seq, doc);
      ids.add(doc._id);
      order.push({ seq, doc });
    }

    const idList = [...ids];
    const values = await getMany(
      this.level,
      idList.map((id) => DOC_STORE + id),
    );
    const metadataOf = new Map<string, DocMetadata | undefined>();
    for (let i = 0; i < idList.length; i++) {
      const value = values[i];
      if (value === undefined) {
        // No metadata, no document (PouchDB's get says 404); the LevelDB adapter has no purge, so
        // this does not happen with books PouchDB wrote. PouchDB's feed would throw on it.
        metadataOf.set(idList[i], undefined);
        continue;
      }
      const metadata = parseMetadata(value);
      if (metadata === null) return null;
      metadataOf.set(idList[i], metadata);
    }

    const reported: Array<{ seq: number; metadata: DocMetadata; winner: string; doc: StoredDoc }> =
      [];
    const missing = new Set<number>();
    for (const { seq, doc } of order) {
      const metadata = metadataOf.get(doc._id);
      if (!metadata || metadata.seq !== seq || metadata.id.startsWith(LOCAL_PREFIX)) continue;
      const winner = getWinningRev(metadata);
      reported.push({ seq, metadata, winner, doc });
      if (winner !== doc._rev) {
        const winnerSeq = metadata.rev_map[winner];
        if (!bodies.has(winnerSeq)) missing.add(winnerSeq);
      }
    }
    if (missing.size > 0) {
      const seqs = [...missing];
      const winners = await getMany(
        this.level,
        seqs.map((s) => BY_SEQ + formatSeq(s)),
      );
      seqs.forEach((s, i) => {
        const value = winners[i];
        if (value !== undefined) bodies.set(s, JSON.parse(value) as StoredDoc);
      });
    }

    const changes: BooksChange[] = [];
    for (const { seq, metadata, winner, doc } of reported) {
      let body = doc;
      if (winner !== doc._rev) {
        const winnerSeq = metadata.rev_map[winner];
        const stored = bodies.get(winnerSeq);
        // The winner is a leaf, and compaction only drops bodies of non-leaf revisions; PouchDB's
        // feed would report `undefined` as the document here.
        if (stored === undefined) {
          throw new StoreError(
            'STORE_IO',
            `the books are inconsistent: ${metadata.id} has no body for its winning revision ${winner} (seq ${winnerSeq})`,
            {
              details: { doc_id: metadata.id, rev: winner, seq: winnerSeq },
            },
          );
        }
        // Not copied: the winner's own entry (if in this page) is never reported, its seq not being
        // the document's latest, and only one entry per document is.
        body = stored;
      }
      if (body._attachments) {
        for (const name of Object.keys(body._attachments)) body._attachments[name].stub = true;
      }
      changes.push({ id: metadata.id, seq, doc: body });
    }
    return { changes, lastSeq, more };
  }
}

/** A document's winning revision as `allDocs({ keys, include_docs: true })` reports it. */
export interface WinningDoc {
  rev: string;
  /** The winning body; `undefined` when the winner is a tombstone. */
  doc: StoredDoc | undefined;
}

/**
 * The winning revision (and its body when live) of each of `ids` the books hold, read from the
 * books' LevelDB in two `getMany` round trips: the `document-store` metadata, then the winners'
 * bodies in `by-sequence`. PouchDB's `allDocs({ keys })` runs one range query per key, several
 * times dearer for a batch. `null` when some record is one only PouchDB can decode (see
 * `parseMetadata`): read through `allDocs` then. `_local/` ids are not books and not read here.
 */
export async function readWinningDocs(
  level: LevelDown,
  ids: readonly string[],
): Promise<Map<string, WinningDoc> | null> {
  const out = new Map<string, WinningDoc>();
  if (ids.length === 0) return out;
  const values = await getMany(
    level,
    ids.map((id) => DOC_STORE + id),
  );
  const live: Array<{ id: string; rev: string; seq: number }> = [];
  for (let i = 0; i < ids.length; i++) {
    const value = values[i];
    if (value === undefined) continue;
    const metadata = parseMetadata(value);
    if (metadata === null) return null;
    const rev = getWinningRev(metadata);
    if (isDeletedLeaf(metadata.rev_tree, rev)) out.set(ids[i], { rev, doc: undefined });
    else live.push({ id: ids[i], rev, seq: metadata.rev_map[rev] });
  }
  const bodies = await getMany(
    level,
    live.map((l) => BY_SEQ + formatSeq(l.seq)),
  );
  for (let i = 0; i < live.length; i++) {
    const value = bodies[i];
    // A winning leaf always keeps its body (compaction drops only non-leaf ones).
    if (value === undefined) return null;
    const doc = JSON.parse(value) as StoredDoc;
    doc._id = live[i].id;
    doc._rev = live[i].rev;
    // As `allDocs` without `attachments: true` reports them (stubs).
    if (doc._attachments) {
      for (const name of Object.keys(doc._attachments)) doc._attachments[name].stub = true;
    }
    out.set(live[i].id, { rev: live[i].rev, doc });
  }
  return out;
}

/** Whether the leaf `rev` of the tree is a deletion. */
function isDeletedLeaf(revTree: readonly RevTreePath[], rev: string): boolean {
  const dash = rev.indexOf('-');
  const pos = Number(rev.slice(0, dash));
  const hash = rev.slice(dash + 1);
  const toVisit: Array<{ pos: number; ids: RevTreeNode }> = revTree.slice();
  let node: { pos: number; ids: RevTreeNode } | undefined;
  while ((node = toVisit.pop())) {
    const [id, opts, branches] = node.ids;
    if (node.pos === pos && id === hash) return !!opts.deleted;
    if (node.pos < pos)
      for (const branch of branches) toVisit.push({ pos: node.pos + 1, ids: branch });
  }
  return false;
}

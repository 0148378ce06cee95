import { mkdirSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { KeyedLock } from '../shared/keyed-lock';
import { coalesceGets, leveldown, type LevelDown } from '../shared/leveldown';
import type { Logger } from '../shared/logger';
import {
  LedgerError,
  StoreConflictError,
  StoreError,
  StoreLockedError,
  type LedgerProblem,
} from './errors';
import {
  createAbsent,
  writeExpecting,
  type BatchTarget,
  writeRevisions,
  type ExpectedWrite,
  type ExpectedWriteResult,
  type RevisionWriteResult,
  type WrittenDoc,
} from './batch-writes';
import { writeProblems, type WriteOptions } from './invariants';
import { LevelChangesReader, type BooksChangesReader } from './level-changes';
import { BooksPouchDB, levelInternals, type LevelInternals } from './pouch-level';
import { DOC_TYPES, idPrefix, type BooksDoc, type DeletionStub, type DocType } from './model';
import { stampDoc } from './stamp';

export type { WriteOptions } from './invariants';
export { validateWrite } from './invariants';

export interface StoreOptions {
  logger: Logger;
  /** The clock writers stamp `updated_at` / `created_at` / `posted_at` with; tests freeze it. */
  clock?: () => Date;
}

/** Folders open in this process (resolved paths). */
const openInProcess = new Set<string>();

type Stored<T> = T & { _rev: string };

/**
 * The local books: one PouchDB database on the LevelDB adapter in its own folder, and the one way
 * to write them. Every write is checked by the ledger (shape, balance, posted-move immutability;
 * src/ledger/invariants.ts) against the stored document and written while the store holds the
 * document's id in its lock, so no other write lands between a check and its write:
 *
 * - `put` / `putMany` / `remove`: the daemon's own edits, stamped (`updated_at`, `created_at`,
 *   `posted_at`); an override with a reason is logged (`ledger.override`).
 * - `writeExpecting`: revisions written over the revision their writer read (the sync pull, an
 *   admin's conflict resolution), stored as given.
 * - `writeRevisions`: a client's `_bulk_docs` through the local API, edits and replicated
 *   revisions (`new_edits: false`).
 * - `createAbsent`: documents known to be absent (a bank import), written without a read.
 *
 * `db` is for reads (and the changes feed); nothing outside src/ledger writes through it
 * (docs/ARCHITECTURE.md, "Invariants"; a unit test greps the sources for it).
 *
 * One process owns the folder (LevelDB's LOCK file). A second `open` of the same folder, from
 * another process or from this one, fails fast with `StoreLockedError` (`STORE_LOCKED`): within a
 * process PouchDB would otherwise hand out a shared LevelDB handle that the first `close` shuts
 * under the other user's feet.
 */
export class BooksStore {
  readonly db: PouchDB.Database;
  readonly dir: string;
  /**
   * The changes feed read straight from the books' LevelDB (same answers as
   * `db.changes({ include_docs: true, style: 'main_only' })`, at a quarter of the cost); the sync
   * engine's push reads through it. Closed with the books.
   */
  readonly changesReader: BooksChangesReader;
  private readonly log: Logger;
  private readonly clock: () => Date;
  /** Held per document id from a write's read of the stored document to its write. */
  private readonly lock = new KeyedLock();
  private closed = false;
  private rawLevel!: LevelDown;
  /** The LevelDB adapter's state, for `writeExpecting`'s creations (level-creates.ts); null: all through `bulkDocs`. */
  private internals: LevelInternals | null = null;

  private constructor(
    db: PouchDB.Database,
    dir: string,
    changesReader: BooksChangesReader,
    opts: StoreOptions,
  ) {
    this.db = db;
    this.dir = dir;
    this.changesReader = changesReader;
    this.log = opts.logger.child({ component: 'ledger.store' });
    this.clock = opts.clock ?? (() => new Date());
  }

  /** Opens (creating if needed) the books in `dir`. Throws `StoreLockedError` if it is in use. */
  static async open(dir: string, opts: StoreOptions): Promise<BooksStore> {
    let resolved = path.resolve(dir);
    try {
      mkdirSync(resolved, { recursive: true });
      resolved = realpathSync(resolved); // one folder, one entry, however it was named
    } catch (err) {
      throw new StoreError(
        'STORE_OPEN',
        `cannot create the books folder ${resolved}: ${(err as Error).message}`,
        { cause: err, details: { dir: resolved } },
      );
    }
    if (openInProcess.has(resolved)) {
      throw new StoreLockedError(`the books in ${resolved} are already open in this process`, {
        details: { dir: resolved },
      });
    }
    openInProcess.add(resolved);
    // PouchDB's LevelDB adapter builds its LevelDB with the `db` option, a leveldown factory
    // (LevelPouch, pouchdb-node 9.0.0 lib/index.js ~line 5038: `leveldown(name)`); this one keeps
    // the handle for the changes reader. The adapter caches open databases by the factory's
    // function name, then by path (`dbStores`, ~line 5041): a named function gives the books one
    // slot of their own, and `openInProcess` above means that slot is empty for this path, so the
    // factory does run.
    const opened: { level?: LevelDown } = {};
    const booksLeveldown = (location: string): LevelDown =>
      (opened.level = coalesceGets(leveldown(location)));
    // `db.destroy()` deletes the files through the factory's `destroy` (`callDestroy`, ~line 6381).
    booksLeveldown.destroy = leveldown.destroy;
    // Random revision ids, not PouchDB's default md5 of each written body: books revisions never
    // go to the cloud (it keeps its own; docs/ARCHITECTURE.md, "A sync cycle") and nothing here
    // needs two writers of the same edit to get the same id, while hashing every body slows every
    // write.
    const db = new BooksPouchDB(resolved, {
      adapter: 'leveldb',
      db: booksLeveldown,
      deterministic_revs: false,
    } as PouchDB.Configuration.DatabaseConfiguration);
    try {
      // PouchDB opens LevelDB lazily; info() forces the open so a lock fails here, not on first use.
      await db.info();
    } catch (err) {
      openInProcess.delete(resolved);
      if (isLockError(err)) {
        throw new StoreLockedError(
          `another booksync process is using ${resolved} (LevelDB lock held); stop it or choose another state directory`,
          {
            cause: err,
            details: { dir: resolved },
          },
        );
      }
      throw new StoreError(
        'STORE_OPEN',
        `cannot open the books in ${resolved}: ${(err as Error).message}`,
        { cause: err, details: { dir: resolved } },
      );
    }
    if (opened.level === undefined) {
      // Unreachable while only BooksStore opens PouchDB with `booksLeveldown`; closing `db` here
      // would close a handle someone else uses.
      openInProcess.delete(resolved);
      throw new StoreLockedError(
        `the books in ${resolved} are already open in this process (PouchDB handed out a cached LevelDB)`,
        { details: { dir: resolved } },
      );
    }
    const store = new BooksStore(db, resolved, new LevelChangesReader(opened.level), opts);
    store.rawLevel = opened.level;
    store.internals = levelInternals(db);
    store.log.debug('books opened', { event: 'ledger.open', dir: resolved });
    return store;
  }

  /** The books' LevelDB under PouchDB, for a backup's snapshot (read it only: PouchDB owns the layout). */
  get level(): LevelDown {
    return this.rawLevel;
  }

  /** The document with `id`, or `undefined` when there is none (or it was deleted). */
  async get<T extends BooksDoc>(id: string): Promise<T | undefined> {
    try {
      return (await this.db.get(id)) as unknown as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storeError(err, `cannot read ${id}`);
    }
  }

  /**
   * Validates `doc` against the stored document, stamps it and writes it. The stored `_rev` is
   * used when `doc` has none (an upsert); a stale `_rev` fails with `StoreConflictError`.
   */
  async put<T extends BooksDoc>(doc: T, opts: WriteOptions = {}): Promise<Stored<T>> {
    const [written] = await this.putMany([doc], opts);
    return written;
  }

  /**
   * Validates every document first; if any is invalid nothing is written and one `LedgerError`
   * lists every problem. Then writes them in a single `bulkDocs`; revision conflicts throw
   * `StoreConflictError` naming the ids (the other documents of the batch are written: PouchDB's
   * `_bulk_docs` is not a transaction). A batch may delete too: a `{ _id, _deleted: true }` stub
   * (its `_rev` filled from the stored document when absent) is checked like `remove`.
   */
  async putMany<D extends BooksDoc | DeletionStub>(
    docs: D[],
    opts: WriteOptions = {},
  ): Promise<Array<Stored<D>>> {
    if (docs.length === 0) return [];
    const ids = docs.map((d) => d?._id);
    const seen = new Set<unknown>();
    const dup = ids.find((id) => seen.size === seen.add(id).size);
    if (dup !== undefined) {
      throw new LedgerError([
        {
          doc_id: String(dup),
          code: 'LEDGER_INVALID_DOC',
          rule: 'duplicate_in_batch',
          field: '_id',
          message: `${dup}: appears twice in one batch`,
        },
      ]);
    }
    return this.lock.hold(ids.filter(isString), () => this.checkAndWrite(docs, opts));
  }

  /** `putMany` holding the batch's ids. */
  private async checkAndWrite<D extends BooksDoc | DeletionStub>(
    docs: D[],
    opts: WriteOptions,
  ): Promise<Array<Stored<D>>> {
    const currents = await this.currentDocs(docs.map((d) => d?._id).filter(isString));
    const now = this.clock();
    const problems: LedgerProblem[] = [];
    const toWrite: D[] = [];
    const overrides: Array<{ id: string; rules: string[] }> = [];
    for (const doc of docs) {
      const current = typeof doc?._id === 'string' ? currents.get(doc._id) : undefined;
      let next: D = doc;
      if (doc !== null && typeof doc === 'object') {
        next = (
          isDeletionStub(doc) ? { ...doc } : stampDoc(doc, current, now, opts.keepTimestamps)
        ) as D;
        if (next._rev === undefined && current?._rev) next._rev = current._rev;
      }
      const check = writeProblems(next, current, opts);
      problems.push(...check.problems);
      if (check.overridden.length > 0) overrides.push({ id: next._id, rules: check.overridden });
      toWrite.push(next);
    }
    if (problems.length > 0) throw new LedgerError(problems);
    const results = await this.bulk(toWrite);
    this.logOverrides(overrides, opts);
    return toWrite.map((doc, i) => ({ ...doc, _rev: (results[i] as PouchDB.Core.Response).rev }));
  }

  /** Deletes `id` (no-op when absent). A posted move is refused with `LEDGER_POSTED_IMMUTABLE`. */
  async remove(id: string, opts: WriteOptions = {}): Promise<void> {
    await this.lock.hold([id], async () => {
      const current = await this.get(id);
      if (current === undefined) return;
      const stub: DeletionStub = { _id: id, _rev: current._rev, _deleted: true };
      const check = writeProblems(stub, current, opts, true);
      await this.bulk([stub]);
      this.logOverrides(check.overridden.length > 0 ? [{ id, rules: check.overridden }] : [], opts);
    });
  }

  /**
   * Writes each document over the revision its writer read, if that is still the winning one
   * (else `conflict`), after the ledger check against it; nothing is stamped (a pulled revision
   * keeps the remote writer's timestamps). One result per write, in order; throws only when the
   * store fails. An override is the caller's to log. See batch-writes.ts.
   */
  writeExpecting(writes: readonly ExpectedWrite[]): Promise<ExpectedWriteResult[]> {
    return writeExpecting(this.batchTarget(), writes);
  }

  /**
   * Writes a client's documents as CouchDB's `_bulk_docs` would (`newEdits` false: replicated
   * revisions, stored as sent; true: edits, stamped with `now`), each checked against the
   * winning revision; `_local/` documents are written as given. One result per document, in
   * order; throws only when the store fails. See batch-writes.ts.
   */
  writeRevisions(
    docs: readonly WrittenDoc[],
    opts: { newEdits: boolean; now?: Date },
  ): Promise<RevisionWriteResult[]> {
    return writeRevisions(this.batchTarget(), docs, {
      newEdits: opts.newEdits,
      now: opts.now ?? this.clock(),
    });
  }

  /**
   * Creates documents known to be absent, without reading the books: all are checked first (one
   * invalid, `LedgerError` and nothing written), then they are stamped with `now` and written
   * in batches of `batchSize`. Returns the ids that existed meanwhile (left as stored). With
   * `releaseWritten`, each batch's slots of `docs` are cleared once written. See batch-writes.ts.
   */
  createAbsent(
    docs: BooksDoc[],
    opts: { now?: Date; batchSize?: number; signal?: AbortSignal; releaseWritten?: boolean } = {},
  ): Promise<string[]> {
    return createAbsent(this.batchTarget(), docs, {
      ...opts,
      now: opts.now ?? this.clock(),
      batchSize: opts.batchSize ?? Math.max(1, docs.length),
    });
  }

  private batchTarget(): BatchTarget {
    return { db: this.db, level: this.rawLevel, lock: this.lock, internals: this.internals };
  }

  /** Every document of `type`, in id order (an `allDocs` range on the id prefix). */
  async allOfType<T extends BooksDoc>(type: DocType): Promise<T[]> {
    const prefix = idPrefix(type);
    try {
      const res = await this.db.allDocs({
        include_docs: true,
        startkey: prefix,
        endkey: `${prefix}\uffff`,
      });
      return res.rows.flatMap((r) => (r.doc ? [r.doc as unknown as T] : []));
    } catch (err) {
      throw storeError(err, `cannot list ${type} documents`);
    }
  }

  /** Number of documents per type (every type present, 0 when none). */
  async countByType(): Promise<Record<DocType, number>> {
    const out = {} as Record<DocType, number>;
    await Promise.all(
      DOC_TYPES.map(async (type) => {
        const prefix = idPrefix(type);
        const res = await this.db.allDocs({ startkey: prefix, endkey: `${prefix}\uffff` });
        out[type] = res.rows.length;
      }),
    );
    return Object.fromEntries(DOC_TYPES.map((t) => [t, out[t]])) as Record<DocType, number>;
  }

  /** Closes the database and releases the LevelDB lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.db.close();
    } finally {
      openInProcess.delete(this.dir);
    }
    this.log.debug('books closed', { event: 'ledger.close', dir: this.dir });
  }

  private async currentDocs(ids: string[]): Promise<Map<string, BooksDoc>> {
    const out = new Map<string, BooksDoc>();
    if (ids.length === 0) return out;
    let res: PouchDB.Core.AllDocsWithKeysResponse<object>;
    try {
      res = await this.db.allDocs({ keys: ids, include_docs: true });
    } catch (err) {
      throw storeError(err, 'cannot read the stored documents');
    }
    for (const row of res.rows) {
      const r = row as { id?: string; doc?: object | null };
      if (r.doc && r.id) out.set(r.id, r.doc as BooksDoc);
    }
    return out;
  }

  private async bulk(
    docs: Array<BooksDoc | DeletionStub>,
  ): Promise<Array<PouchDB.Core.Response | PouchDB.Core.Error>> {
    let results: Array<PouchDB.Core.Response | PouchDB.Core.Error>;
    try {
      results = await this.db.bulkDocs(docs as unknown as PouchDB.Core.PutDocument<object>[]);
    } catch (err) {
      throw storeError(err, `cannot write ${docs.length} document(s)`);
    }
    const conflicts: string[] = [];
    const failures: PouchDB.Core.Error[] = [];
    results.forEach((r, i) => {
      if ('error' in r && r.error) {
        if (r.status === 409) conflicts.push(docs[i]._id);
        else failures.push({ ...r, id: docs[i]._id });
      }
    });
    if (conflicts.length > 0) throw new StoreConflictError(conflicts, { cause: results });
    if (failures.length > 0) {
      throw new StoreError(
        'STORE_WRITE',
        `cannot write ${failures.map((f) => `${f.id} (${f.message ?? f.name})`).join(', ')}`,
        {
          cause: failures,
          details: { ids: failures.map((f) => f.id) },
        },
      );
    }
    return results;
  }

  private logOverrides(
    overrides: Array<{ id: string; rules: string[] }>,
    opts: WriteOptions,
  ): void {
    for (const o of overrides) {
      this.log.warn(`override: ${o.rules.join(', ')} bypassed for ${o.id}`, {
        event: 'ledger.override',
        doc_id: o.id,
        rules: o.rules,
        reason: opts.override?.reason,
      });
    }
  }
}

/**
 * LevelDB reports a held lock as an `OpenError` "IO error: lock <dir>/LOCK: Resource temporarily
 * unavailable"; level-errors gives no code, so the LOCK path in the message is the only signal.
 */
function isLockError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'OpenError' && /\block\b/i.test(err.message);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isDeletionStub(doc: BooksDoc | DeletionStub): doc is DeletionStub {
  return (doc as DeletionStub)._deleted === true;
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { status?: number }).status === 404;
}

function storeError(err: unknown, what: string): StoreError {
  const message =
    err instanceof Error ? err.message : String((err as { message?: unknown })?.message ?? err);
  return new StoreError('STORE_IO', `${what}: ${message}`, { cause: err });
}

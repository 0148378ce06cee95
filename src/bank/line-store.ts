import {
  idPrefix,
  type BooksDoc,
  type BooksStore,
  type DeletionStub,
  type StatementLineDoc,
} from '../ledger';

/** Lines written per `putMany` when a fetch brings more (see {@link StatementLineStore.writeLines}). */
export const DEFAULT_WRITE_BATCH = 1_000;
/** Above this many changed lines since the last run, lines are re-read in one range instead of by key. */
const STALE_REREAD_LIMIT = 2_000;
/** Stored lines read per `allDocs` request: one page's documents at a time, kept slim. */
const READ_PAGE = 2_000;

/** What the line store needs from the books. */
export type LineBooks = Pick<BooksStore, 'putMany' | 'createAbsent' | 'db'>;

/**
 * What the dedup plan reads of a stored line that is not pending (pending lines are kept whole:
 * they are updated in place). A re-run over 100,000 stored lines holds this much of each.
 */
const SLIM_FIELDS = [
  '_id',
  '_rev',
  'type',
  'connection',
  'account_id',
  'date',
  'amount',
  'currency',
  'payee',
  'memo',
  'provider_id',
  'pending',
  'state',
  'move',
  'replaced_by',
  'vanished_at',
] as const;

/** Fields whose few distinct values repeat over every line: each kept once (see {@link slimLine}). */
const REPEATED_FIELDS = new Set<string>([
  'type',
  'connection',
  'account_id',
  'date',
  'currency',
  'state',
]);

/**
 * A stored line as the plan keeps it: whole when pending, else only {@link SLIM_FIELDS}, with
 * the values of {@link REPEATED_FIELDS} shared through `shared` (every parsed document has its own
 * copy of the same account id, date and currency).
 */
function slimLine(doc: StatementLineDoc, shared: Map<string, string>): StatementLineDoc {
  if (doc.pending) return doc;
  const slim: Record<string, unknown> = {};
  for (const key of SLIM_FIELDS) {
    let value = doc[key];
    if (value === undefined) continue;
    if (typeof value === 'string' && REPEATED_FIELDS.has(key)) {
      const known = shared.get(value);
      if (known === undefined) shared.set(value, value);
      else value = known;
    }
    slim[key] = value;
  }
  return slim as unknown as StatementLineDoc;
}

/** Every stored line has `imported_at`; a slim one does not (see {@link slimLine}). */
function isSlim(doc: StatementLineDoc | DeletionStub): boolean {
  return (
    !(doc as DeletionStub)._deleted &&
    (doc as { _rev?: string })._rev !== undefined &&
    (doc as StatementLineDoc).imported_at === undefined
  );
}

/**
 * Reads and writes a connection's statement lines for the fetch loop: reads keep of each stored
 * line what the plan needs, writes put the planned changes of a slim line back onto the stored
 * document, and large imports are written in batches.
 */
export class StatementLineStore {
  private readonly cache = new Map<string, Map<string, StatementLineDoc>>();

  constructor(
    private readonly store: LineBooks,
    readonly writeBatchSize: number,
    private readonly cacheMax: number,
  ) {}

  /**
   * Every stored line of a connection (any state). The first read of a connection takes the whole
   * `allDocs` range with documents, a page at a time; later reads list only ids and revisions and
   * fetch the documents whose revision changed (the ledger posted or reconciled them, a user
   * deleted them) or that are new, so a daily run over years of history reads a few documents,
   * not all of them. Connections with more than `cacheMax` lines are read in full every time.
   */
  async linesOf(connection: string): Promise<StatementLineDoc[]> {
    const prefix = `${idPrefix('statement_line')}${connection}:`;
    const range = { startkey: prefix, endkey: `${prefix}\uffff` };
    const cached = this.cache.get(connection);
    if (!cached) {
      const lines = await this.readRange(prefix);
      if (lines.length <= this.cacheMax)
        this.cache.set(connection, new Map(lines.map((l) => [l._id, l])));
      return lines;
    }
    const res = await this.store.db.allDocs(range);
    const next = new Map<string, StatementLineDoc>();
    const stale: string[] = [];
    for (const row of res.rows) {
      const hit = cached.get(row.id);
      if (hit && hit._rev === row.value.rev) next.set(row.id, hit);
      else stale.push(row.id);
    }
    if (stale.length > STALE_REREAD_LIMIT) {
      // Mostly new to us (a large import since): one range read is cheaper than that many key reads
      // (PouchDB resolves `keys` one lookup each, all at once).
      this.cache.delete(connection);
      return this.linesOf(connection);
    }
    const shared = new Map<string, string>();
    for (let i = 0; i < stale.length; i += 500) {
      const fetched = await this.store.db.allDocs({
        keys: stale.slice(i, i + 500),
        include_docs: true,
      });
      for (const row of fetched.rows as Array<{ id?: string; doc?: object | null }>) {
        if (row.id && row.doc)
          next.set(row.id, slimLine(row.doc as unknown as StatementLineDoc, shared));
      }
    }
    if (next.size <= this.cacheMax) this.cache.set(connection, next);
    else this.cache.delete(connection);
    return [...next.values()];
  }

  /** The lines under `prefix`, page by page, each kept slim. */
  private async readRange(prefix: string): Promise<StatementLineDoc[]> {
    const lines: StatementLineDoc[] = [];
    const shared = new Map<string, string>();
    let startkey = prefix;
    for (;;) {
      const res = await this.store.db.allDocs({
        include_docs: true,
        startkey,
        endkey: `${prefix}\uffff`,
        limit: READ_PAGE,
      });
      for (const row of res.rows)
        if (row.doc) lines.push(slimLine(row.doc as unknown as StatementLineDoc, shared));
      if (res.rows.length < READ_PAGE) return lines;
      startkey = `${res.rows[res.rows.length - 1].id}\u0000`;
    }
  }

  /**
   * Writes new lines, known to be absent, in one `bulkDocs` (`BooksStore.createAbsent`: checked
   * and stamped there, no read first). A line that exists meanwhile means the same line arrived
   * (same id, same content) and is not an error.
   */
  async writeFresh(docs: BooksDoc[], now: Date): Promise<void> {
    await this.store.createAbsent(docs, { now });
  }

  /**
   * Writes the plan. Up to `writeBatchSize` documents go in ONE `putMany` (validated all or
   * nothing, one `bulkDocs`). A larger first import (a 100,000-line file) writes its new lines
   * through `createAbsent`: every new line is checked up front, then they go in batches of that
   * size without `putMany`'s read of the current documents (they are known to be absent); the
   * few updates and removals go through `putMany`. The new lines are staged (staging.ts): a
   * batch failing half-way leaves the earlier ones invisible until the run's import is rolled
   * back. A new line that exists meanwhile is the same line arriving from another site (same
   * id, same content).
   */
  async writeLines(
    writes: Array<StatementLineDoc | DeletionStub>,
    now: Date,
    signal: AbortSignal,
  ): Promise<void> {
    if (writes.length === 0) return;
    await this.unslim(writes);
    const docs = writes as unknown as BooksDoc[];
    if (docs.length <= this.writeBatchSize) {
      await this.store.putMany(docs);
      return;
    }
    const fresh: BooksDoc[] = [];
    const others: BooksDoc[] = [];
    for (const doc of docs) {
      const isNew =
        (doc as { _rev?: string })._rev === undefined && !(doc as unknown as DeletionStub)._deleted;
      (isNew ? fresh : others).push(doc);
    }
    writes.length = 0;
    await this.store.createAbsent(fresh, {
      now,
      batchSize: this.writeBatchSize,
      signal,
      releaseWritten: true,
    });
    for (let i = 0; i < others.length; i += this.writeBatchSize) {
      await this.store.putMany(others.slice(i, i + this.writeBatchSize));
    }
  }

  /**
   * Puts each planned update of a slim line onto its stored document (read again here), so the
   * fields the plan did not keep are written back unchanged. A document changed since the read
   * keeps the slim update, whose stale `_rev` then fails the write as a conflict.
   */
  private async unslim(writes: Array<StatementLineDoc | DeletionStub>): Promise<void> {
    const slim = writes.flatMap((w, i) => (isSlim(w) ? [i] : []));
    for (let from = 0; from < slim.length; from += 500) {
      const part = slim.slice(from, from + 500);
      const res = await this.store.db.allDocs({
        keys: part.map((i) => writes[i]._id),
        include_docs: true,
      });
      res.rows.forEach((row, j) => {
        const stored = (row as { doc?: StatementLineDoc | null }).doc;
        const planned = writes[part[j]] as StatementLineDoc;
        if (stored && stored._rev === planned._rev) writes[part[j]] = { ...stored, ...planned };
      });
    }
  }
}

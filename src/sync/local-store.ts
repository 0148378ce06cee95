import {
  validateWrite,
  type BooksChangesReader,
  type BooksDoc,
  type DeletionStub,
  type WriteOptions,
} from '../ledger';
import { describeError } from '../shared/errors';

/** A document of the local books as the engine sees it (a tombstone is `{_id, _rev, _deleted:true}`). */
export interface LocalDoc {
  _id: string;
  _rev: string;
  _deleted?: boolean;
  [field: string]: unknown;
}

export interface LocalChange {
  id: string;
  seq: unknown;
  doc: LocalDoc;
}

export interface LocalChangesPage {
  changes: LocalChange[];
  lastSeq: unknown;
  /** True when the page was full (more changes may follow). */
  more: boolean;
}

/** One write into the books: `doc` replaces `current` (null when the books have no such document). */
export interface LocalWrite {
  doc: Record<string, unknown> & { _id: string; _deleted?: boolean };
  current: LocalDoc | null;
  /** Bypass posted-move immutability (an admin resolving a conflict); the reason is logged by the caller. */
  override?: { reason: string };
}

export type LocalWriteResult =
  | { id: string; ok: true; rev: string }
  | { id: string; ok: false; conflict: true }
  | { id: string; ok: false; conflict: false; code: string; message: string };

/**
 * The narrow view of the local books the engine needs: changes since a sequence, bulk read, bulk
 * write through the ledger's invariants. `BooksStore` (its `db`) is the production one.
 */
export interface LocalStore {
  changesSince(since: unknown, limit: number): Promise<LocalChangesPage>;
  /** Calls `onChange` on every local write after now; returns a function that stops the feed. */
  watch(onChange: () => void): () => void;
  /** Current documents (tombstones included); ids never seen are absent from the map. */
  current(ids: readonly string[]): Promise<Map<string, LocalDoc>>;
  /** Validates every write against its `current` (ledger invariants) and writes the valid ones in bulk requests. */
  write(writes: readonly LocalWrite[]): Promise<LocalWriteResult[]>;
  /** The store's latest sequence (for `pending_push`). */
  updateSeq(): Promise<unknown>;
  /** The attachments of a document's current revision, with their data in base64 (none: `{}`). */
  attachments(id: string): Promise<Record<string, { content_type: string; data: string }>>;
  /** Live documents in the books (re-walk progress). */
  docCount(): Promise<number>;
  /** Every live document whose id starts with `prefix`, in id order (audit records). */
  withPrefix(prefix: string): Promise<LocalDoc[]>;
}

/**
 * Documents per `bulkDocs` call. PouchDB's LevelDB adapter appends each document's operations to
 * its transaction with `Array#concat` (`LevelTransaction.batch`, pouchdb-node 9.0.0 lib/index.js
 * ~line 4897), copying all earlier ones every time: a bulk write of n documents makes O(n²)
 * garbage, a large share of what a pull allocates (BENCHMARKS.md, Sync). Slices of 250 make a
 * quarter of it. Each document's write stands alone either way
 * (PouchDB answers per document, and the engine records a base only for a write that succeeded).
 */
const WRITE_SLICE = 250;

/**
 * LocalStore over the books' PouchDB (`BooksStore.db`). Writes keep the documents' own
 * timestamps (a pulled `updated_at` is the remote writer's, which `newest-wins` needs) and go
 * through `validateWrite`: a document the ledger refuses is reported, not written.
 *
 * Changes are read through `changesReader` when given (`BooksStore.changesReader`: the same feed
 * read straight from LevelDB, ~4x cheaper), else, and for any page it cannot serve (a checkpoint
 * that is not a LevelDB seq number), through `db.changes`.
 */
export class PouchLocalStore implements LocalStore {
  constructor(
    private readonly db: PouchDB.Database,
    private readonly changesReader?: BooksChangesReader,
    /** Ids among a page's documents that must not leave yet (lines of a staged bank import). */
    private readonly held?: (docs: LocalDoc[]) => Promise<ReadonlySet<string>>,
  ) {}

  /**
   * A page of changes, cut before the first held document: the push (and its checkpoint) stops
   * there until the document is released, so what follows it waits too, and nothing is skipped.
   */
  async changesSince(since: unknown, limit: number): Promise<LocalChangesPage> {
    const page = await this.readPage(since, limit);
    if (!this.held || page.changes.length === 0) return page;
    const held = await this.held(page.changes.map((c) => c.doc));
    const cut = held.size === 0 ? -1 : page.changes.findIndex((c) => held.has(c.id));
    if (cut < 0) return page;
    return {
      changes: page.changes.slice(0, cut),
      lastSeq: cut === 0 ? since : page.changes[cut - 1].seq,
      more: false,
    };
  }

  private async readPage(since: unknown, limit: number): Promise<LocalChangesPage> {
    const from = since ?? 0;
    if (this.changesReader && typeof from === 'number') {
      const page = await this.changesReader.readChanges(from, limit);
      if (page) return page;
    }
    const res = await this.db.changes({
      since: from as number,
      limit,
      include_docs: true,
      style: 'main_only',
    });
    const changes: LocalChange[] = [];
    for (const r of res.results) {
      const doc = (r.doc ?? {
        _id: r.id,
        _rev: r.changes[0]?.rev,
        _deleted: r.deleted === true,
      }) as unknown as LocalDoc;
      changes.push({ id: r.id, seq: r.seq, doc });
    }
    return { changes, lastSeq: res.last_seq, more: res.results.length >= limit };
  }

  watch(onChange: () => void): () => void {
    const feed = this.db.changes({
      since: 'now',
      live: true,
      return_docs: false,
    });
    // The feed is also a promise of its end; `on` returns the feed, which is not awaited here.
    void feed.on('change', () => onChange());
    void feed.on('error', () => undefined);
    return () => feed.cancel();
  }

  async current(ids: readonly string[]): Promise<Map<string, LocalDoc>> {
    const out = new Map<string, LocalDoc>();
    if (ids.length === 0) return out;
    const res = await this.db.allDocs({ keys: [...ids], include_docs: true });
    for (const row of res.rows as Array<{
      key: string;
      value?: { rev: string; deleted?: boolean };
      doc?: LocalDoc | null;
    }>) {
      if (!row.value) continue;
      if (row.value.deleted)
        out.set(row.key, { _id: row.key, _rev: row.value.rev, _deleted: true });
      else if (row.doc) out.set(row.key, row.doc);
    }
    return out;
  }

  async write(writes: readonly LocalWrite[]): Promise<LocalWriteResult[]> {
    const results = new Array<LocalWriteResult>(writes.length);
    const toWrite: Array<Record<string, unknown>> = [];
    const slots: number[] = [];
    writes.forEach((w, i) => {
      const current =
        w.current && !w.current._deleted ? (w.current as unknown as BooksDoc) : undefined;
      const next = w.doc._deleted
        ? ({ _id: w.doc._id, _deleted: true } as DeletionStub)
        : (w.doc as unknown as BooksDoc);
      try {
        const opts: WriteOptions = {
          keepTimestamps: true,
          ...(w.override ? { override: w.override } : {}),
        };
        validateWrite(next, current, opts);
      } catch (err) {
        const d = describeError(err);
        results[i] = {
          id: w.doc._id,
          ok: false,
          conflict: false,
          code: d.code,
          message: d.message,
        };
        return;
      }
      // No `delete` on the body: it would turn the object into a slow dictionary for PouchDB's work.
      let body: Record<string, unknown> = w.doc;
      if (w.current) body = { ...w.doc, _rev: w.current._rev };
      else if (w.doc._rev !== undefined) {
        const { _rev: _dropped, ...rest } = w.doc;
        body = rest;
      }
      toWrite.push(body);
      slots.push(i);
    });
    for (let from = 0; from < toWrite.length; from += WRITE_SLICE) {
      const slice = toWrite.slice(from, from + WRITE_SLICE);
      const res = await this.db.bulkDocs(slice as unknown as PouchDB.Core.PutDocument<object>[]);
      res.forEach((r, k) => {
        const i = slots[from + k];
        const id = writes[i].doc._id;
        if ('ok' in r && r.ok) results[i] = { id, ok: true, rev: r.rev };
        else if ((r as PouchDB.Core.Error).status === 409)
          results[i] = { id, ok: false, conflict: true };
        else
          results[i] = {
            id,
            ok: false,
            conflict: false,
            code: 'STORE_WRITE',
            message: String((r as PouchDB.Core.Error).message ?? (r as PouchDB.Core.Error).name),
          };
      });
    }
    return results;
  }

  async withPrefix(prefix: string): Promise<LocalDoc[]> {
    const res = await this.db.allDocs({
      include_docs: true,
      startkey: prefix,
      endkey: `${prefix}\uffff`,
    });
    return res.rows.flatMap((r) => (r.doc ? [r.doc as unknown as LocalDoc] : []));
  }

  async updateSeq(): Promise<unknown> {
    return (await this.db.info()).update_seq;
  }

  async attachments(id: string): Promise<Record<string, { content_type: string; data: string }>> {
    const doc = (await this.db.get(id, { attachments: true }).catch(() => null)) as {
      _attachments?: Record<string, { content_type?: string; data?: string }>;
    } | null;
    return inlineAttachments(doc?._attachments);
  }

  async docCount(): Promise<number> {
    return (await this.db.info()).doc_count;
  }
}

/** Inline attachments (`attachments=true`) as content type and base64 data by name. */
export function inlineAttachments(
  atts: Record<string, { content_type?: string; data?: unknown }> | undefined,
): Record<string, { content_type: string; data: string }> {
  const out: Record<string, { content_type: string; data: string }> = {};
  for (const [name, a] of Object.entries(atts ?? {})) {
    if (typeof a.data === 'string')
      out[name] = { content_type: a.content_type ?? 'application/octet-stream', data: a.data };
  }
  return out;
}

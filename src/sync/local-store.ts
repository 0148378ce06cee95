import type { BooksChangesReader, BooksStore, ExpectedWriteResult } from '../ledger';

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

export type LocalWriteResult = ExpectedWriteResult;

/** What the engine reads and writes of the books: reads through `db`, writes through the store. */
export type SyncBooks = Pick<BooksStore, 'db' | 'writeExpecting'>;

/**
 * The narrow view of the local books the engine needs: changes since a sequence, bulk read, bulk
 * write through the ledger's invariants. `PouchLocalStore` over `BooksStore` is the production one.
 */
export interface LocalStore {
  changesSince(since: unknown, limit: number): Promise<LocalChangesPage>;
  /** Calls `onChange` on every local write after now; returns a function that stops the feed. */
  watch(onChange: () => void): () => void;
  /** Current documents (tombstones included); ids never seen are absent from the map. */
  current(ids: readonly string[]): Promise<Map<string, LocalDoc>>;
  /**
   * Writes each document over its `current` if that is still the books' winning revision (else
   * `conflict`), after the ledger check against it; the valid ones go in bulk requests.
   */
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
 * LocalStore over the books (`BooksStore`). Writes go through `BooksStore.writeExpecting`: they
 * keep the documents' own timestamps (a pulled `updated_at` is the remote writer's, which
 * `newest-wins` needs), and a document the ledger refuses is reported, not written.
 *
 * Changes are read through `changesReader` when given (`BooksStore.changesReader`: the same feed
 * read straight from LevelDB, ~4x cheaper), else, and for any page it cannot serve (a checkpoint
 * that is not a LevelDB seq number), through `db.changes`.
 */
export class PouchLocalStore implements LocalStore {
  private readonly db: PouchDB.Database;

  constructor(
    private readonly books: SyncBooks,
    private readonly changesReader?: BooksChangesReader,
    /** Ids among a page's documents that must not leave yet (lines of a staged bank import). */
    private readonly held?: (docs: LocalDoc[]) => Promise<ReadonlySet<string>>,
  ) {
    this.db = books.db;
  }

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

  write(writes: readonly LocalWrite[]): Promise<LocalWriteResult[]> {
    return this.books.writeExpecting(
      writes.map((w) => ({
        doc: w.doc,
        expectedRev: w.current ? w.current._rev : null,
        ...(w.override ? { override: w.override } : {}),
      })),
    );
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

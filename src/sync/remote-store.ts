/**
 * The engine's view of the cloud. The engine knows no transport: CouchDB over HTTP is one adapter
 * (`couchdb/`); tests could plug an in-memory one. Modelled on RxDB's replication protocol
 * (`types/replication-protocol.d.ts`), adapted to CouchDB revisions.
 *
 * `seq` values are opaque: never parse or compare them (CouchDB 3 cluster sequences are strings
 * that can go back), only hand the last one back as `since`. The one exception is integer seqs
 * (CouchDB 1.x, PouchDB Server), which read-ahead.ts uses to ask for reads in parallel.
 */
export interface RemoteDoc {
  _id: string;
  _rev: string;
  _deleted?: boolean;
  _conflicts?: string[];
  [field: string]: unknown;
}

export interface RemoteChange {
  id: string;
  /** Null when the server left it out (`seqInterval`): not a place to resume from. */
  seq: unknown;
  /** Current winning revision (with `_conflicts` when other leaves exist). */
  doc: RemoteDoc;
}

export interface RemoteChangesPage {
  changes: RemoteChange[];
  /** Opaque; pass back as `since`. */
  lastSeq: unknown;
  /** How many changes remain after this page (a server that gives no count: 1 when the page was full, else 0). */
  pending: number;
  /** Size of the page on the wire, when known (sizes the next read). */
  bytes?: number;
  /**
   * The server held a long-poll past the timeout it was given and our own timer ended it (servers
   * that ignore `timeout`; they also hold one on a database deleted meanwhile, so the engine then
   * checks the cloud's identity again).
   */
  heldOpen?: boolean;
}

export interface ChangesOptions {
  limit: number;
  /** > 0: long-poll, the server holds the request until a change arrives or this many ms pass. */
  waitMs?: number;
  signal?: AbortSignal;
  /**
   * The server may give a `seq` on only every this-many-th change, the first included (CouchDB
   * 2.1+'s `seq_interval`; `last_seq` always comes): it saves the server packing a cluster seq per
   * row (docs/PROTOCOLS.md, "Changes feed options").
   */
  seqInterval?: number;
}

/** Current state of one remote document as `_all_docs` reports it. */
export type RemoteCurrent =
  { exists: false } | { exists: true; rev: string; deleted: boolean; doc: RemoteDoc | null };

/** A document to write: `_rev` is the revision the engine believes current (absent for a create). */
export type RemoteWrite = {
  _id: string;
  _rev?: string;
  _deleted?: boolean;
  [field: string]: unknown;
};

export type RemoteWriteResult =
  | { id: string; ok: true; rev: string }
  | { id: string; ok: false; conflict: true }
  | { id: string; ok: false; conflict: false; error: string; reason: string };

/** What the database's own document says (`GET /{db}`). */
export interface RemoteDbInfo {
  /** The database's `update_seq`, as opaque as any seq (null when the database was just created). */
  updateSeq: unknown;
  /** This call created the database (it holds nothing, no `_local` document either). */
  created?: boolean;
}

export interface RemoteStore {
  /** The database URL without credentials (for logs and the identity record). */
  readonly url: string;
  /** Creates the database if it is missing. */
  ensureDb(): Promise<RemoteDbInfo>;
  /** One page of `_changes` after `since` (docs and conflict leaves included). */
  changesSince(since: unknown, options: ChangesOptions): Promise<RemoteChangesPage>;
  /** Current revisions (and bodies) of `ids`; ids never seen are `{exists:false}`. */
  current(ids: readonly string[]): Promise<Map<string, RemoteCurrent>>;
  /** Bodies of specific revisions (conflict leaves). Missing revisions are left out. */
  revisions(refs: ReadonlyArray<{ id: string; rev: string }>): Promise<RemoteDoc[]>;
  /**
   * `_bulk_docs` (new_edits=true), in requests of a bounded size (and at most `maxBytes`), several
   * in flight when no id repeats (couchdb/bulk-requests.ts): a stale `_rev` yields
   * `{conflict:true}` for that doc, never a branch. Results are in the order of `docs`.
   */
  write(
    docs: readonly RemoteWrite[],
    options?: { maxBytes?: number },
  ): Promise<RemoteWriteResult[]>;
  /** The attachments of a document's current (or `rev`) revision, with their data in base64. */
  attachments(
    id: string,
    rev?: string,
  ): Promise<Record<string, { content_type: string; data: string }>>;
  /** A `_local/<id>` document (never replicated), or null when there is none. */
  getLocal(id: string): Promise<Record<string, unknown> | null>;
  /** Writes `_local/<id>` over `rev` (or, on a 409, over whatever revision it has); returns the new revision. */
  putLocal(id: string, body: Record<string, unknown>, rev?: string): Promise<string>;
}

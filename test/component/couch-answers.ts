import { call } from '../helpers/local-api-harness';

/**
 * The shapes of the CouchDB HTTP answers the local API tests read
 * (https://docs.couchdb.org/en/stable/api/index.html); only the fields the tests look at.
 */
export interface CouchError {
  error: string;
  reason: string;
  /** The booksync error code, next to CouchDB's `error`. */
  code?: string;
}

/** One document as read back, with the fields a test asks for by name. */
export interface CouchDoc {
  _id: string;
  _rev: string;
  _revisions?: { start: number; ids: string[] };
  [field: string]: unknown;
}

/** A PUT/POST/DELETE answer, or one entry of a `_bulk_docs` answer. */
export interface DocWrite {
  ok?: boolean;
  id: string;
  rev: string;
  error?: string;
  reason?: string;
  code?: string;
}

/** One entry of an `open_revs` answer. */
export interface OpenRev {
  ok?: CouchDoc;
  missing?: string;
}

export interface AllDocs {
  total_rows: number;
  rows: Array<{ id: string; key: string; doc?: CouchDoc; error?: string }>;
}

export interface BulkGet {
  results: Array<{
    id: string;
    docs: Array<{ ok?: CouchDoc; error?: { id: string; rev: string; error: string } }>;
  }>;
}

export interface ChangeRow {
  id: string;
  seq: number;
  doc?: CouchDoc;
}

export interface Changes {
  results: ChangeRow[];
  last_seq: number;
}

/** `call` with the answer body read as the CouchDB shape `T` the request asks for. */
export async function callAs<T>(
  ...args: Parameters<typeof call>
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await call(...args);
  return { status: res.status, body: res.body as T, headers: res.headers };
}

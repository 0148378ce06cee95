/**
 * How one write of many documents is cut into `_bulk_docs` requests. Apache CouchDB's database
 * updater takes every update request waiting for it in one go and commits them together, so a
 * page written as a few smaller requests at once costs the server less work per document than one
 * large request (docs/PROTOCOLS.md, "Writing a page"; the push figures: BENCHMARKS.md, Sync).
 * @link https://docs.couchdb.org/en/stable/api/database/bulk-api.html#db-bulk-docs
 */

/** Most documents in one `_bulk_docs` request. */
export const WRITE_REQUEST_DOCS = 250;

/** Most `_bulk_docs` requests of one write in flight at once. */
export const WRITE_REQUESTS_IN_FLIGHT = 4;

/** A request's documents: `parts[from..to)`. */
export interface BulkRequest {
  from: number;
  to: number;
}

/**
 * Consecutive runs of `parts` (serialised documents) of at most {@link WRITE_REQUEST_DOCS}
 * documents and `maxBytes` of JSON; a document larger than `maxBytes` goes alone.
 */
export function bulkRequests(parts: readonly string[], maxBytes: number): BulkRequest[] {
  const requests: BulkRequest[] = [];
  let from = 0;
  while (from < parts.length) {
    let to = from;
    let bytes = 0;
    while (
      to < parts.length &&
      to - from < WRITE_REQUEST_DOCS &&
      (to === from || bytes + parts[to].length + 1 <= maxBytes)
    )
      bytes += parts[to++].length + 1;
    requests.push({ from, to });
    from = to;
  }
  return requests;
}

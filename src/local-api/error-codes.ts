import type { CodesRaisedAs, ErrorCatalog } from '../shared/errors';

/**
 * The stable codes of the local CouchDB-compatible API; listed in docs/ERRORS.md. A `CouchError`'s
 * code is `LOCAL_API_` and its CouchDB error name in capitals (the name is what a CouchDB client
 * sees in the body's `error`).
 * @link https://docs.couchdb.org/en/stable/api/basics.html#http-status-codes
 */
export const LOCAL_API_ERROR_CODES = {
  LOCAL_API_CONFIG: {
    raisedAs: 'LocalApiError',
    meaning: 'local_api is enabled without local_api.username and local_api.password',
  },
  LOCAL_API_LISTEN: {
    raisedAs: 'LocalApiError',
    meaning: 'the local API cannot listen on its host and port (in use, not allowed)',
  },
  LOCAL_API_SERVER_ID: {
    raisedAs: 'LocalApiError',
    meaning: "the server id document (the local API's CouchDB uuid) cannot be stored",
  },
  LOCAL_API_BAD_REQUEST: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 400 bad_request: the request or its body cannot be used',
  },
  LOCAL_API_INVALID_REQUEST: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 400 invalid_request (from PouchDB): the request was invalid',
  },
  LOCAL_API_QUERY_PARSE_ERROR: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 400 query_parse_error (from PouchDB): a query parameter is invalid',
  },
  LOCAL_API_DOC_VALIDATION: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 400 doc_validation: a document has a bad special (underscore) member',
  },
  LOCAL_API_ILLEGAL_DOCID: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 400 illegal_docid: only reserved document ids may start with an underscore',
  },
  LOCAL_API_UNAUTHORIZED: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 401 unauthorized: no or wrong name and password',
  },
  LOCAL_API_FORBIDDEN: {
    raisedAs: 'CouchError',
    meaning:
      'HTTP 403 forbidden: a ledger rule refused the write (body `code` names it), or the operation is not allowed',
  },
  LOCAL_API_NOT_FOUND: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 404 not_found: no such document, attachment or database',
  },
  LOCAL_API_METHOD_NOT_ALLOWED: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 405 method_not_allowed: the path does not take this method',
  },
  LOCAL_API_CONFLICT: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 409 conflict: the document changed (stale _rev)',
  },
  LOCAL_API_FILE_EXISTS: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 412 file_exists: the database exists already',
  },
  LOCAL_API_MISSING_ID: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 412 missing_id (from PouchDB): a document has no _id',
  },
  LOCAL_API_MISSING_STUB: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 412 missing_stub (from PouchDB): an attachment stub names no stored attachment',
  },
  LOCAL_API_PRECONDITION_FAILED: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 412 precondition_failed (from PouchDB): the database is not open',
  },
  LOCAL_API_TOO_LARGE: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 413 too_large: the request body is larger than the limit',
  },
  LOCAL_API_INVALID_URL: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 413 invalid_url (from PouchDB): the URL is invalid',
  },
  LOCAL_API_BAD_CONTENT_TYPE: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 415 bad_content_type: the body is not application/json in UTF-8',
  },
  LOCAL_API_TOO_MANY_REQUESTS: {
    raisedAs: 'CouchError',
    meaning: 'HTTP 429 too_many_requests: too many failed logins; try again later',
  },
} as const satisfies ErrorCatalog;

/** The local API codes that the class named `Raiser` raises. */
export type LocalApiCodeOf<Raiser extends string> = CodesRaisedAs<
  typeof LOCAL_API_ERROR_CODES,
  Raiser
>;

/** The CouchDB error names a `CouchError` carries (`LOCAL_API_NOT_FOUND` → `not_found`). */
export type CouchErrorName =
  LocalApiCodeOf<'CouchError'> extends `LOCAL_API_${infer Name}` ? Lowercase<Name> : never;

/** True when `name` is a CouchDB error name of the catalog (a PouchDB 4xx error's `name`). */
export function isCouchErrorName(name: string): name is CouchErrorName {
  const code = `LOCAL_API_${name.toUpperCase()}`;
  return (
    code in LOCAL_API_ERROR_CODES &&
    LOCAL_API_ERROR_CODES[code as keyof typeof LOCAL_API_ERROR_CODES].raisedAs === 'CouchError'
  );
}

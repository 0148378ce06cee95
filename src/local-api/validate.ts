import { CouchError, badRequest } from './errors';

/**
 * Shape checks for everything a client sends, run before any of it reaches PouchDB: a value of
 * the wrong type there can corrupt a revision tree or throw outside the request. Each failure
 * is a 400 naming the place (`docs[2]._revisions.ids[0]`).
 * @link https://docs.couchdb.org/en/stable/api/document/common.html
 * @link https://docs.couchdb.org/en/stable/replication/protocol.html#upload-batch-of-changed-documents
 */

/** A document's revision hash: lowercase hex, as CouchDB and PouchDB make them (MD5, 32 digits). */
const REV_HASH = /^[0-9a-f]{1,128}$/;
/** A revision `N-hash` with N a positive integer without leading zeros. */
const REV = /^([1-9][0-9]{0,15})-([0-9a-f]{1,128})$/;
/** A `_local` document's revision, `0-N`. */
const LOCAL_REV = /^0-[1-9][0-9]{0,15}$/;
/** Longest document id accepted (CouchDB has no fixed limit; LevelDB keys this long stay cheap). */
export const MAX_ID_LENGTH = 4096;
/** A lone UTF-16 surrogate (in `u` mode a valid pair is one code point and does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Members CouchDB accepts in a document body; the read-only ones it ignores are dropped. */
const SPECIAL_MEMBERS = new Set(['_id', '_rev', '_deleted', '_revisions', '_attachments']);
const IGNORED_MEMBERS = new Set(['_revs_info', '_conflicts', '_deleted_conflicts', '_local_seq']);

export function isRev(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = REV.exec(value);
  return m !== null && Number.isSafeInteger(Number(m[1]));
}

export function isLocalId(id: string): boolean {
  return id.startsWith('_local/');
}

/** A revision given as a parameter (`?rev=`, `If-Match`): 400 `bad_request` unless well formed. */
export function revParam(
  value: string | undefined,
  where: string,
  local = false,
): string | undefined {
  if (value === undefined) return undefined;
  if (local ? !LOCAL_REV.test(value) : !isRev(value))
    throw badRequest(`Invalid rev format in ${where}`);
  return value;
}

/** A list of revisions (`_revs_diff` values, `open_revs`, `atts_since`). */
export function revList(value: unknown, where: string, maxLength = 10_000): string[] {
  if (!Array.isArray(value)) throw badRequest(`${where} must be a JSON array of revisions`);
  if (value.length > maxLength) throw badRequest(`${where} lists more than ${maxLength} revisions`);
  value.forEach((rev, i) => {
    if (!isRev(rev)) throw badRequest(`Invalid rev format in ${where}[${i}]`);
  });
  return value as string[];
}

/** A document id: a non-empty string of well-formed UTF-16, not longer than MAX_ID_LENGTH. */
export function docId(value: unknown, where: string): string {
  if (typeof value !== 'string') throw badRequest(`${where} must be a string`);
  if (value === '') throw badRequest(`${where} must not be empty`);
  if (value.length > MAX_ID_LENGTH)
    throw badRequest(`${where} is longer than ${MAX_ID_LENGTH} characters`);
  if (LONE_SURROGATE.test(value)) throw badRequest(`${where} is not valid Unicode`);
  return value;
}

/** The JSON object a request body must be. */
export function jsonObject(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badRequest(`${what} must be a JSON object`);
  return body as Record<string, unknown>;
}

/**
 * A `PUT /books/<id>` body with the id from the URL and the revision from `?rev=` or `If-Match`
 * filled in; where the body names its own, they must agree.
 */
export function putBody(
  body: unknown,
  id: string,
  rev: string | undefined,
): Record<string, unknown> {
  const doc: Record<string, unknown> = { ...jsonObject(body, 'Document') };
  if (doc._id !== undefined && doc._id !== id) throw badRequest('Document id must match the URL');
  doc._id = id;
  if (rev !== undefined) {
    if (doc._rev !== undefined && doc._rev !== rev)
      throw badRequest('Document rev from request body and query string have different values');
    doc._rev = rev;
  }
  return doc;
}

export interface DocCheck {
  /** Replication (`new_edits: false`): `_rev` is required and `_revisions` says where it sits. */
  newEdits: boolean;
  /** Where the document sits in the request, for messages (`Document`, `docs[3]`). */
  where: string;
}

/**
 * Checks a document body a client wants written and returns a copy without the read-only
 * members CouchDB ignores. Throws a 400 CouchError naming the first bad member.
 */
export function checkDoc(input: unknown, check: DocCheck): Record<string, unknown> {
  const { where, newEdits } = check;
  const doc = { ...jsonObject(input, where) };
  for (const key of Object.keys(doc)) {
    if (!key.startsWith('_')) continue;
    if (IGNORED_MEMBERS.has(key)) delete doc[key];
    else if (!SPECIAL_MEMBERS.has(key))
      throw new CouchError(400, 'doc_validation', `Bad special document member: ${key}`);
  }
  if (doc._id !== undefined) docId(doc._id, `${where}._id`);
  else if (!newEdits) throw badRequest(`${where}._id is required when new_edits is false`);
  if (doc._deleted !== undefined && typeof doc._deleted !== 'boolean')
    throw badRequest(`${where}._deleted must be true or false`);
  if (typeof doc._id === 'string' && isLocalId(doc._id)) {
    checkLocalDoc(doc, where);
    return doc;
  }
  if (doc._rev !== undefined && !isRev(doc._rev))
    throw badRequest(`Invalid rev format in ${where}._rev`);
  if (!newEdits && doc._rev === undefined)
    throw badRequest(`${where}._rev is required when new_edits is false`);
  if (doc._revisions !== undefined) checkRevisions(doc._revisions, doc._rev, `${where}._revisions`);
  if (doc._attachments !== undefined) checkAttachments(doc._attachments, `${where}._attachments`);
  return doc;
}

/** `_local` documents (replication checkpoints) carry no history and no attachments. */
function checkLocalDoc(doc: Record<string, unknown>, where: string): void {
  if (doc._rev !== undefined && (typeof doc._rev !== 'string' || !LOCAL_REV.test(doc._rev))) {
    throw badRequest(`Invalid rev format in ${where}._rev (a _local document's rev is 0-N)`);
  }
  if (doc._revisions !== undefined)
    throw badRequest(`${where}._revisions is not allowed on a _local document`);
  if (doc._attachments !== undefined)
    throw badRequest(`${where}._attachments is not allowed on a _local document`);
}

/**
 * `_revisions` `{start, ids}`: `ids` the hashes newest first, `start` the generation of the first;
 * so `start` is a positive integer, there are at most `start` ids, and `_rev` is `start-ids[0]`.
 */
export function checkRevisions(value: unknown, rev: string | undefined, where: string): void {
  const revs = jsonObject(value, where);
  for (const key of Object.keys(revs)) {
    if (key !== 'start' && key !== 'ids')
      throw badRequest(`${where} has an unknown member ${JSON.stringify(key)}`);
  }
  const { start, ids } = revs;
  if (typeof start !== 'number' || !Number.isSafeInteger(start) || start < 1)
    throw badRequest(`${where}.start must be a positive integer`);
  if (!Array.isArray(ids) || ids.length === 0)
    throw badRequest(`${where}.ids must be a non-empty array`);
  if (ids.length > start)
    throw badRequest(`${where}.ids has ${ids.length} entries, more than start (${start}) allows`);
  ids.forEach((id, i) => {
    if (typeof id !== 'string' || !REV_HASH.test(id))
      throw badRequest(`${where}.ids[${i}] must be a lowercase hex string`);
  });
  if (new Set(ids).size !== ids.length) throw badRequest(`${where}.ids repeats a revision`);
  if (rev !== undefined && rev !== `${start}-${ids[0] as string}`)
    throw badRequest(`${where} does not end at _rev ${rev}`);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ATTACHMENT_MEMBERS = new Set([
  'content_type',
  'data',
  'stub',
  'digest',
  'length',
  'revpos',
  'encoding',
  'encoded_length',
]);

/**
 * Inline attachments: `{name: {content_type, data}}` with `data` strict base64, or a stub
 * (`{stub: true}`) of an attachment the parent revision has. `follows` (multipart) is not served.
 * @link https://docs.couchdb.org/en/stable/api/document/common.html#attachments
 */
export function checkAttachments(value: unknown, where: string): void {
  const atts = jsonObject(value, where);
  for (const [name, att] of Object.entries(atts)) {
    const at = `${where}[${JSON.stringify(name)}]`;
    if (name === '' || name.startsWith('_') || LONE_SURROGATE.test(name))
      throw badRequest(`Attachment name ${JSON.stringify(name)} is not allowed (${where})`);
    const meta = jsonObject(att, at);
    for (const key of Object.keys(meta)) {
      if (!ATTACHMENT_MEMBERS.has(key))
        throw badRequest(`${at} has an unsupported member ${JSON.stringify(key)}`);
    }
    if (meta.content_type !== undefined && typeof meta.content_type !== 'string')
      throw badRequest(`${at}.content_type must be a string`);
    if (meta.digest !== undefined && typeof meta.digest !== 'string')
      throw badRequest(`${at}.digest must be a string`);
    if (meta.stub !== undefined) {
      if (meta.stub !== true) throw badRequest(`${at}.stub must be true`);
      if (meta.data !== undefined) throw badRequest(`${at} is a stub and carries data`);
      continue;
    }
    if (typeof meta.data !== 'string') throw badRequest(`${at}.data must be a base64 string`);
    if (!BASE64.test(meta.data)) throw badRequest(`${at}.data is not valid base64`);
  }
}

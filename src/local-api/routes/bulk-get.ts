import { sendJson } from '../http';
import { badRequest, toCouchError } from '../errors';
import { revsInTree } from '../latest';
import { Params } from '../params';
import type { Route, RouteContext } from '../router';
import { docId, isRev, jsonObject, revList } from '../validate';

interface GetOptions {
  revs: boolean;
  latest: boolean;
  attachments: boolean;
}

/** One `docs[]` entry of the answer: `{ok: doc}` or `{error: {id, rev, error, reason}}`. */
type DocResult =
  { ok: unknown } | { error: { id: string | null; rev: string; error: string; reason: string } };

/** Documents fetched at once; the rest wait (PouchDB reads each with its own LevelDB calls). */
const CONCURRENCY = 8;
/** Most entries one `_bulk_get` may ask for. */
const MAX_ENTRIES = 10_000;

function entryError(
  id: string | null,
  rev: string | undefined,
  error: string,
  reason: string,
): DocResult {
  return { error: { id, rev: rev ?? 'undefined', error, reason } };
}

/**
 * One requested entry. A well-formed entry for a missing document or revision gets a per-entry
 * `not_found`; a malformed entry gets a per-entry `bad_request`; neither fails the request.
 */
async function fetchEntry(
  ctx: RouteContext,
  entry: unknown,
  index: number,
  opts: GetOptions,
): Promise<{ id: string | null; docs: DocResult[] }> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return {
      id: null,
      docs: [entryError(null, undefined, 'bad_request', `docs[${index}] must be a JSON object`)],
    };
  }
  const e = entry as { id?: unknown; rev?: unknown; atts_since?: unknown };
  if (typeof e.id !== 'string')
    return { id: null, docs: [entryError(null, undefined, 'bad_request', 'document id missed')] };
  const id = e.id;
  const rev = typeof e.rev === 'string' ? e.rev : undefined;
  try {
    docId(id, `docs[${index}].id`);
    if (e.rev !== undefined && !isRev(e.rev)) throw badRequest('Invalid rev format');
    if (e.atts_since !== undefined) revList(e.atts_since, `docs[${index}].atts_since`);
  } catch (err) {
    const couch = toCouchError(err);
    return {
      id,
      docs: [entryError(id, rev, couch?.error ?? 'bad_request', couch?.reason ?? 'invalid entry')],
    };
  }
  try {
    if (rev === undefined) return { id, docs: [{ ok: await ctx.db.get(id, opts) }] };
    if (opts.latest && !(await revsInTree(ctx.db, id, [rev])).has(rev))
      return { id, docs: [entryError(id, rev, 'not_found', 'missing')] };
    const found = await ctx.db.get(id, { ...opts, open_revs: [rev] });
    // A `_local` document has no revisions to choose from: PouchDB answers with the document.
    const list = Array.isArray(found)
      ? (found as Array<{ ok?: unknown; missing?: string }>)
      : [{ ok: found }];
    return {
      id,
      docs: list.map((d) =>
        'ok' in d ? { ok: d.ok } : entryError(id, rev, 'not_found', 'missing'),
      ),
    };
  } catch (err) {
    const couch = toCouchError(err);
    if (!couch) throw err;
    return { id, docs: [entryError(id, rev, couch.error, couch.reason)] };
  }
}

/**
 * `_bulk_get`: one result per requested entry, in request order, each `{id, docs: [...]}`; a
 * missing document or revision is an error inside its entry, and the answer is still 200.
 * @link https://docs.couchdb.org/en/stable/api/database/bulk-api.html#db-bulk-get
 */
export const bulkGetRoutes: Route[] = [
  {
    path: '/:db/_bulk_get',
    methods: ['POST'],
    handler: async (ctx, req, res) => {
      const q = new Params(req.query);
      const opts: GetOptions = {
        revs: q.bool('revs') ?? false,
        latest: q.bool('latest') ?? false,
        attachments: q.bool('attachments') ?? false,
      };
      const body = jsonObject(req.body, 'Request body');
      if (!Array.isArray(body.docs)) throw badRequest("Missing JSON list of 'docs'.");
      if (body.docs.length > MAX_ENTRIES)
        throw badRequest(`'docs' lists more than ${MAX_ENTRIES} entries`);
      const entries = body.docs as unknown[];
      const results = new Array<{ id: string | null; docs: DocResult[] }>(entries.length);
      for (let from = 0; from < entries.length; from += CONCURRENCY) {
        const batch = entries.slice(from, from + CONCURRENCY);
        const done = await Promise.all(
          batch.map((entry, j) => fetchEntry(ctx, entry, from + j, opts)),
        );
        done.forEach((r, j) => (results[from + j] = r));
      }
      sendJson(res, 200, { results });
    },
  },
];

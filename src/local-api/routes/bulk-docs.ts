import { badRequest } from '../errors';
import { sendJson } from '../http';
import type { Route } from '../router';
import { checkDoc, jsonObject } from '../validate';

/**
 * `_bulk_docs`: every document is checked before any is written, so a malformed one refuses the
 * whole request (400) and nothing of it lands; ledger refusals and conflicts are per document.
 * With `new_edits: false` (replication) only failures are listed, as CouchDB does.
 * @link https://docs.couchdb.org/en/stable/api/database/bulk-api.html#db-bulk-docs
 */
export const bulkDocsRoutes: Route[] = [
  {
    path: '/:db/_bulk_docs',
    methods: ['POST'],
    handler: async (ctx, req, res) => {
      const body = jsonObject(req.body, 'Request body');
      if (!Array.isArray(body.docs)) throw badRequest('POST body must include `docs` parameter.');
      if (body.new_edits !== undefined && typeof body.new_edits !== 'boolean')
        throw badRequest('`new_edits` parameter must be a boolean.');
      const newEdits = body.new_edits !== false;
      const docs = body.docs.map((d, i) => checkDoc(d, { newEdits, where: `docs[${i}]` }));
      const results = await ctx.writer.write(docs, newEdits);
      const out = results.flatMap((r): Array<Record<string, unknown>> => {
        if ('ok' in r) return newEdits ? [{ ok: true, id: r.id, rev: r.rev }] : [];
        const { status: _status, ...entry } = r;
        return [entry];
      });
      sendJson(res, 201, out);
    },
  },
];

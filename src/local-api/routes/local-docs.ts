import { ifMatch, sendJson, sendWrite } from '../http';
import { Params } from '../params';
import type { Route } from '../router';
import { checkDoc, docId, putBody, revParam } from '../validate';

/**
 * `_local` documents (replication checkpoints): not books, never replicated, written as given.
 * Their revisions are `0-N` and they keep no history or attachments.
 * @link https://docs.couchdb.org/en/stable/api/local.html
 */
export const localDocRoutes: Route[] = [
  {
    path: '/:db/_local/:name',
    methods: ['GET', 'PUT', 'DELETE'],
    handler: async (ctx, req, res, p) => {
      const id = docId(`_local/${p.name}`, 'Document id');
      const q = new Params(req.query);
      if (req.method === 'GET') {
        const doc = (await ctx.db.get(id)) as { _rev?: string };
        sendJson(res, 200, doc, doc._rev ? { ETag: `"${doc._rev}"` } : {});
        return;
      }
      const rev = revParam(q.str('rev') ?? ifMatch(req), 'rev', true);
      if (req.method === 'DELETE') {
        const [result] = await ctx.writer.write(
          [{ _id: id, ...(rev ? { _rev: rev } : {}), _deleted: true }],
          true,
        );
        sendWrite(res, result, 200);
        return;
      }
      const body = putBody(req.body, id, rev);
      const [result] = await ctx.writer.write(
        [checkDoc(body, { newEdits: true, where: 'Document' })],
        true,
      );
      sendWrite(res, result);
    },
  },
];

import { sendJson } from '../http';
import type { Route } from '../router';
import { docId, jsonObject, revList } from '../validate';

/**
 * `_revs_diff`: `{id: [rev, ...]}` → the revisions the books lack. Every value is checked to be a
 * list of well-formed revisions before PouchDB sees it.
 * @link https://docs.couchdb.org/en/stable/api/database/misc.html#db-revs-diff
 */
export const revsDiffRoutes: Route[] = [
  {
    path: '/:db/_revs_diff',
    methods: ['POST'],
    handler: async (ctx, req, res) => {
      const body = jsonObject(req.body, 'Request body');
      // A null-prototype map: an id such as `__proto__` stays an ordinary key.
      const query: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
      for (const [id, revs] of Object.entries(body)) {
        docId(id, 'Document id');
        query[id] = revList(revs, `Revisions of ${JSON.stringify(id)}`);
      }
      sendJson(res, 200, await ctx.db.revsDiff(query));
    },
  },
];

import { CouchError } from '../errors';
import { sendJson, sendWrite } from '../http';
import type { Route, RouteContext } from '../router';
import { checkDoc } from '../validate';

async function info(ctx: RouteContext): Promise<Record<string, unknown>> {
  const info = await ctx.db.info();
  return {
    db_name: ctx.dbName,
    doc_count: info.doc_count,
    update_seq: info.update_seq,
    purge_seq: 0,
    compact_running: false,
    instance_start_time: '0',
    disk_format_version: 8,
    props: {},
    cluster: { q: 1, n: 1, w: 1, r: 1 },
  };
}

/**
 * The database itself: its info, `POST` of a new document, `_ensure_full_commit`. The books
 * exist as long as the daemon does: they cannot be created or deleted through the API.
 * @link https://docs.couchdb.org/en/stable/api/database/common.html
 */
export const databaseRoutes: Route[] = [
  {
    path: '/:db',
    methods: ['GET', 'PUT', 'POST', 'DELETE'],
    handler: async (ctx, req, res) => {
      switch (req.method) {
        case 'PUT':
          throw new CouchError(
            412,
            'file_exists',
            'The database could not be created, the file already exists.',
          );
        case 'DELETE':
          throw new CouchError(
            403,
            'forbidden',
            'the books cannot be deleted through the local API',
          );
        case 'POST': {
          const doc = checkDoc(req.body, { newEdits: true, where: 'Document' });
          const [result] = await ctx.writer.write([doc], true);
          sendWrite(res, result);
          return;
        }
        default:
          sendJson(res, 200, await info(ctx));
      }
    },
  },
  {
    path: '/:db/_ensure_full_commit',
    methods: ['POST'],
    handler: (_ctx, _req, res) =>
      Promise.resolve(sendJson(res, 201, { ok: true, instance_start_time: '0' })),
  },
];

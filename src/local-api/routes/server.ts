import { randomUUID } from 'node:crypto';
import { badRequest } from '../errors';
import { sendJson } from '../http';
import { Params } from '../params';
import type { Route } from '../router';

/** The CouchDB version the welcome answer names: the API subset follows CouchDB 3.3. */
export const COUCHDB_VERSION = '3.3.3';

/** Most uuids one `_uuids` request may ask for (CouchDB's `[uuids] max_count`). */
const MAX_UUIDS = 1000;

/**
 * Server-level endpoints: the welcome answer, `_all_dbs`, `_up`, `_uuids`.
 * @link https://docs.couchdb.org/en/stable/api/server/common.html
 */
export const serverRoutes: Route[] = [
  {
    path: '/',
    methods: ['GET'],
    handler: (ctx, _req, res) => {
      sendJson(res, 200, {
        couchdb: 'Welcome',
        version: COUCHDB_VERSION,
        vendor: { name: 'booksync' },
        uuid: ctx.uuid,
        features: [],
      });
      return Promise.resolve();
    },
  },
  {
    path: '/_all_dbs',
    methods: ['GET'],
    handler: (ctx, _req, res) => Promise.resolve(sendJson(res, 200, [ctx.dbName])),
  },
  {
    path: '/_up',
    methods: ['GET'],
    handler: (_ctx, _req, res) => Promise.resolve(sendJson(res, 200, { status: 'ok' })),
  },
  {
    path: '/_uuids',
    methods: ['GET'],
    handler: (_ctx, req, res) => {
      const count = new Params(req.query).int('count') ?? 1;
      if (count > MAX_UUIDS) throw badRequest('count parameter too large');
      sendJson(res, 200, {
        uuids: Array.from({ length: count }, () => randomUUID().replace(/-/g, '')),
      });
      return Promise.resolve();
    },
  },
];

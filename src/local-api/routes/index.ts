import type { Route } from '../router';
import { allDocsRoutes } from './all-docs';
import { attachmentRoutes } from './attachments';
import { bulkDocsRoutes } from './bulk-docs';
import { bulkGetRoutes } from './bulk-get';
import { changesRoutes } from './changes';
import { databaseRoutes } from './database';
import { documentRoutes } from './documents';
import { localDocRoutes } from './local-docs';
import { revsDiffRoutes } from './revs-diff';
import { serverRoutes } from './server';
import { sessionRoutes } from './session';

/**
 * The route table: the CouchDB HTTP API subset that CouchDB clients and PouchDB replication
 * (both directions) use, serving the books as one database. First match wins, so the fixed
 * `/books/_…` paths come before `/books/<id>`.
 * @link https://docs.couchdb.org/en/stable/api/index.html
 * @link https://docs.couchdb.org/en/stable/replication/protocol.html
 */
export const ROUTES: readonly Route[] = [
  ...serverRoutes,
  ...sessionRoutes,
  ...databaseRoutes,
  ...allDocsRoutes,
  ...bulkDocsRoutes,
  ...bulkGetRoutes,
  ...changesRoutes,
  ...revsDiffRoutes,
  ...localDocRoutes,
  ...documentRoutes,
  ...attachmentRoutes,
];

export { COUCHDB_VERSION } from './server';
export { authGate, loginHandler, type LocalApiObserver, type LoginContext } from './session';

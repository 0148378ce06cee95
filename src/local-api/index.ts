/** The local access API: the books as a CouchDB-compatible database on 127.0.0.1. */
export { LocalApi, type LocalApiOptions, type LocalApiSettings } from './server';
export { LocalApiError, CouchError } from './errors';
export { COUCHDB_VERSION, type LocalApiObserver } from './routes';
export type { ThrottleOptions } from './throttle';

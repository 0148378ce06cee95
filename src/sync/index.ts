import * as path from 'node:path';
import { stagedAmong, type BooksChangesReader } from '../ledger';
import type { Logger } from '../shared/logger';
import { Bookkeeping } from './bookkeeping';
import { CouchDbRemote, type CouchAuth } from './couchdb/client';
import type { ResponseCompression } from './couchdb/net';
import { SyncEngine, type SyncEngineOptions } from './engine';
import { PouchLocalStore, type SyncBooks } from './local-store';

export * from './errors';
export * from './engine';
export * from './projection';
export * from './remote-store';
export * from './local-store';
export { Bookkeeping, type Base, type OpenConflict } from './bookkeeping';
export { CouchDbRemote, type CouchAuth, type CouchDbRemoteOptions } from './couchdb/client';
export { acceptEncodingFor, redactUrl, type ResponseCompression } from './couchdb/net';
export {
  STRATEGY_NAMES,
  TIE_BREAKER_NAMES,
  strategyNamed,
  type ConflictStrategy,
} from './conflicts';
export { BACKOFF_NAMES, backoffNamed, type Backoff } from './backoff';

/** What the daemon passes to `openSync`: plain values it builds from its Config. */
export interface SyncSetup extends Omit<
  SyncEngineOptions,
  'local' | 'remote' | 'bookkeeping' | 'logger'
> {
  /** The books (a `BooksStore`: reads through its `db`, writes through it; `changesReader` makes the push read cheap). */
  books: SyncBooks & { changesReader?: BooksChangesReader };
  /** Folder of the sync bookkeeping LevelDB (bases, checkpoints, open conflicts); e.g. `<state_dir>/sync`. Keep it next to the books: losing it only costs a full re-compare. */
  bookkeepingDir: string;
  cloud: {
    url: string | readonly string[];
    auth?: CouchAuth;
    requestTimeoutMs: number;
    compression?: ResponseCompression;
    fetch?: typeof fetch;
  };
  logger: Logger;
}

export interface SyncRuntime {
  engine: SyncEngine;
  remote: CouchDbRemote;
  /** The bookkeeping store (bases, checkpoints, open conflicts); open until `close()`. */
  bookkeeping: Bookkeeping;
  /** Stops the engine (drains batches in flight) and closes the bookkeeping store. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens the bookkeeping store and builds the engine. The daemon then calls `engine.start()`, reads
 * `engine.status()` / `engine.status$`, and on shutdown `runtime.close()` before closing the books.
 */
export async function openSync(setup: SyncSetup): Promise<SyncRuntime> {
  const { books, bookkeepingDir, cloud, logger, ...engineOptions } = setup;
  const log = logger.child({ component: 'sync' });
  const bookkeeping = await Bookkeeping.open(path.resolve(bookkeepingDir));
  const remote = new CouchDbRemote({
    url: cloud.url,
    auth: cloud.auth,
    requestTimeoutMs: cloud.requestTimeoutMs,
    compression: cloud.compression,
    fetch: cloud.fetch,
    logger: log,
  });
  let engine: SyncEngine;
  try {
    engine = new SyncEngine({
      ...engineOptions,
      local: new PouchLocalStore(books, books.changesReader, (docs) => stagedAmong(books, docs)),
      remote,
      bookkeeping,
      logger: log,
    });
  } catch (err) {
    await bookkeeping.close();
    throw err;
  }
  let closed = false;
  return {
    engine,
    remote,
    bookkeeping,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await engine.stop();
      } finally {
        await bookkeeping.close();
      }
    },
  };
}

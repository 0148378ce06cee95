import { readFileSync } from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';

/**
 * PouchDB with one line added to its LevelDB adapter: each database gets `__levelInternals()`,
 * which hands out the adapter's own state (its sublevel stores, write queue, cached update seq and
 * document count, and its changes notifier), so that `level-creates.ts` can store new documents
 * the way the adapter's `bulkDocs` does, under the same write queue, without its per-document
 * overhead. Everything else is pouchdb-node 9.0.0 as published.
 *
 * The line goes into a copy of `lib/index.js` compiled here: `node_modules` stays as installed,
 * and the books load this copy only (the embedded cloud and the tests keep the published one).
 * When the anchor is not found exactly once (another PouchDB than the pinned one), the published
 * module is used and `levelInternals` answers null: every write then goes through `bulkDocs`.
 * package.json pins pouchdb-node exactly; test/unit/dependency-pins.test.ts checks the pin and
 * test/component/ledger-level-creates.test.ts that the line is in.
 */

/** The adapter's state, as `LevelPouch` (pouchdb-node 9.0.0 lib/index.js ~line 5025) keeps it. */
export interface LevelInternals {
  /** The sublevel root: `batch(ops, cb)` writes ops whose `prefix` names a store; caches `_updateSeq`, `_docCount`. */
  db: LevelRoot;
  stores: { docStore: unknown; bySeqStore: unknown; metaStore: unknown };
  /**
   * Queues `fun` behind every read and write of this database (`writeLock`, ~line 5206); `fun`
   * gets the callback that releases the queue (and then calls the one the queued call was given).
   */
  writeLock(
    fun: (done: (err?: Error | null) => void) => void,
  ): (callback: (err?: Error | null) => void) => void;
  /** Wakes the live changes feeds of this database (`levelChanges.notify(name)`). */
  notify(): void;
}

export interface LevelRoot {
  _updateSeq: number;
  _docCount: number;
  batch(
    ops: Array<{ type: 'put'; prefix: unknown; key: string; value: unknown }>,
    cb: (err?: Error | null) => void,
  ): void;
}

/** The adapter's meta-store keys (~line 4945). */
export const UPDATE_SEQ_KEY = '_local_last_update_seq';
export const DOC_COUNT_KEY = '_local_doc_count';

const ANCHOR = '\n  api._remote = false;\n';
const EXPOSE =
  '  api.__levelInternals = function () {\n' +
  '    return { db: db, stores: stores, writeLock: writeLock,\n' +
  '      notify: function () { levelChanges.notify(name); } };\n' +
  '  };\n';

function loadPouchDB(): PouchDB.Static {
  const entry = require.resolve('pouchdb-node');
  const source = readFileSync(entry, 'utf8');
  if (source.split(ANCHOR).length !== 2) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the published module, unpatched
    return require('pouchdb-node') as PouchDB.Static;
  }
  const copy = new Module(entry, module);
  copy.filename = entry;
  copy.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(
    path.dirname(entry),
  );
  (copy as unknown as { _compile(code: string, file: string): void })._compile(
    source.replace(ANCHOR, ANCHOR + EXPOSE),
    entry,
  );
  return copy.exports as PouchDB.Static;
}

/** The PouchDB the books open their database with. */
export const BooksPouchDB: PouchDB.Static = loadPouchDB();

/** The adapter state of an open books database, or null (an unpatched PouchDB, or another adapter). */
export function levelInternals(db: PouchDB.Database): LevelInternals | null {
  const expose = (db as unknown as { __levelInternals?: () => LevelInternals }).__levelInternals;
  if (typeof expose !== 'function') return null;
  const internals = expose.call(db);
  return internals.db && internals.stores.docStore ? internals : null;
}

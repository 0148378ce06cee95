import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The books have one write path: `BooksStore` (src/ledger/store.ts), which checks every write and
 * holds the document's id from the check to the write (docs/ARCHITECTURE.md, "Invariants").
 * Outside src/ledger the raw PouchDB handle (`BooksStore.db`) and LevelDB (`BooksStore.level`)
 * are read, never written. This scan of the sources holds that line:
 *
 * - no PouchDB write method is called on a `db` (a variable, parameter or property of that name:
 *   `db.put(`, `this.store.db.bulkDocs(`, `ctx.db?.remove(`, across line breaks too);
 * - no LevelDB write method is called on a `level`;
 * - a PouchDB database is held under the name `db` only (`pouch: PouchDB.Database` would hide
 *   the handle from the first rule), and `<x>.db` is not copied into a variable of another name.
 *
 * Writes of other databases through other names stay free: the cloud client's `_bulk_docs`
 * requests, the sync bookkeeping's own LevelDB (`batch`), the embedded cloud.
 */

const SRC = path.resolve(__dirname, '../../../src');
const GUARDED = path.join(SRC, 'ledger');

/** PouchDB's methods that write (replication writes too). */
const POUCH_WRITES = [
  'put',
  'post',
  'bulkDocs',
  'remove',
  'putAttachment',
  'removeAttachment',
  'purge',
  'compact',
  'destroy',
  'viewCleanup',
  'replicate',
  'sync',
];
/** abstract-leveldown's methods that write. */
const LEVEL_WRITES = ['put', 'del', 'batch', 'clear'];

const RULES: Array<{ what: string; pattern: RegExp }> = [
  {
    what: 'PouchDB write on the raw books handle',
    pattern: new RegExp(
      String.raw`(?<![\w$])db\s*(?:\?\.|\.)\s*(?:${POUCH_WRITES.join('|')})\s*(?:\(|\.)`,
      'g',
    ),
  },
  {
    what: 'LevelDB write on the raw books LevelDB',
    pattern: new RegExp(
      String.raw`(?<![\w$])level\s*(?:\?\.|\.)\s*(?:${LEVEL_WRITES.join('|')})\s*\(`,
      'g',
    ),
  },
  {
    what: 'a PouchDB database held under another name than `db`',
    pattern: /(?<![\w$])(?!db\b)[\w$]+\??\s*:\s*PouchDB\.Database\b/g,
  },
  {
    what: 'the raw books handle copied under another name than `db`',
    pattern: /(?<![\w$.])(?!db\b)[\w$]+\s*=\s*[\w$.?]+\.db\s*[;,)\n]/g,
  },
];

/** `text` with comments blanked out (line breaks kept, so line numbers stay right). */
function withoutComments(text: string): string {
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  return text
    .replace(/\/\*[\s\S]*?\*\//g, blank)
    .replace(/(^|[^:\w'"`])\/\/[^\n]*/g, (m, lead: string) => lead + blank(m.slice(lead.length)));
}

/** Every rule break in `text`, as `file:line: what: code`. */
function violations(file: string, text: string): string[] {
  const code = withoutComments(text);
  const out: string[] = [];
  for (const rule of RULES) {
    for (const m of code.matchAll(rule.pattern)) {
      const line = code.slice(0, m.index).split('\n').length;
      out.push(`${file}:${line}: ${rule.what}: ${m[0].replace(/\s+/g, ' ').trim()}`);
    }
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return full === GUARDED ? [] : sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

describe('the books have one write path (unit, source scan)', function () {
  it('given the sources outside src/ledger, then none writes through the raw PouchDB handle or LevelDB', function () {
    const files = sourceFiles(SRC);
    assert.ok(files.length > 50, `found the sources in ${SRC}`);
    const found = files.flatMap((f) =>
      violations(path.relative(SRC, f), fs.readFileSync(f, 'utf8')),
    );
    assert.deepEqual(found, [], `write through BooksStore instead:\n${found.join('\n')}`);
  });

  it('given the forms a raw write takes, then the scan finds each, and leaves reads and other databases alone', function () {
    const flagged = [
      'await this.store.db.bulkDocs(docs);',
      'await books.db\n    .bulkDocs(stubs, { new_edits: false });',
      'await db.put({ _id: "_local/x" });',
      'await ctx.db?.remove(doc);',
      'await this.db.putAttachment(id, name, rev, data, type);',
      'db.replicate.to(remote);',
      'store.level.batch(ops, {}, cb);',
      'constructor(private readonly pouch: PouchDB.Database) {}',
      'const books = this.store.db;',
    ];
    for (const sample of flagged)
      assert.equal(violations('sample.ts', sample).length, 1, `flags: ${sample}`);
    const free = [
      'const res = await this.store.db.allDocs({ keys });',
      'const feed = ctx.db.changes({ since: "now", live: true });',
      'await this.ctx.remote.write(writes, { maxBytes });',
      "const answer = await this.request('POST', '_bulk_docs', { body });",
      'await this.db.batch(ops);'.replace('this.db', 'this.bookkeeping'),
      'await this.store.putMany(docs);',
      'constructor(private readonly db: PouchDB.Database) {}',
      'const db = this.store.db;',
      '// straight to db.bulkDocs(docs) before; now through the store',
      "const url = 'http://host/db.put(';".replace('db.put(', 'x'),
    ];
    for (const sample of free)
      assert.deepEqual(violations('sample.ts', sample), [], `leaves alone: ${sample}`);
  });
});

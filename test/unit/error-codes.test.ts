import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ERROR_CATALOGS, errorsDoc } from '../../scripts/gen-errors-doc';
import { BankAuthError, BankUnavailableError, RateLimitedError } from '../../src/bank';
import { PermanentError } from '../../src/shared/errors';

const ROOT = path.resolve(__dirname, '../../..');

/** The .ts files under `dir`, recursively. */
function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every `new XError('CODE'` and `class XError ... static readonly code = 'CODE'` in the sources. */
function codesInSource(files: string[]): { file: string; raisedAs: string; code: string }[] {
  const found: { file: string; raisedAs: string; code: string }[] = [];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    const rel = path.relative(ROOT, file);
    for (const m of text.matchAll(/new\s+(\w+Error)\(\s*'([A-Z][A-Z0-9_]*)'/g)) {
      found.push({ file: rel, raisedAs: m[1], code: m[2] });
    }
    for (const m of text.matchAll(
      /class\s+(\w+Error)\s+extends[^{]*\{\s*static\s+readonly\s+code\s*=\s*'([A-Z][A-Z0-9_]*)'/g,
    )) {
      found.push({ file: rel, raisedAs: m[1], code: m[2] });
    }
  }
  return found;
}

const catalog = new Map<string, { raisedAs: string; file: string }>();
for (const { file, catalog: entries } of ERROR_CATALOGS) {
  for (const [code, entry] of Object.entries(entries)) {
    assert.ok(!catalog.has(code), `${code} is in two catalogs`);
    catalog.set(code, { raisedAs: entry.raisedAs, file });
  }
}
const raisers = new Set([...catalog.values()].map((e) => e.raisedAs));
/** Classes whose code is not theirs: the client's view of a daemon error carries the daemon's code. */
const FORWARDING = new Set(['RemoteMethodError']);
/** Base classes that only their subclasses raise. */
const BASES = new Set(['BooksyncError', 'PermanentError']);
/** The folders whose error classes are all catalogued. */
const CATALOGUED = ['src'];

describe('error codes', () => {
  it('docs/ERRORS.md is generated from the catalogs (regenerate: npm run errors-doc)', () => {
    const shipped = fs.readFileSync(path.join(ROOT, 'docs/ERRORS.md'), 'utf8');
    assert.ok(shipped === errorsDoc(), 'docs/ERRORS.md is stale: run npm run errors-doc');
  });

  it('every error class is in a catalog, and the base classes are never raised themselves', () => {
    const files = CATALOGUED.flatMap((dir) => sources(path.join(ROOT, dir)));
    const classes = files.flatMap((file) =>
      [...fs.readFileSync(file, 'utf8').matchAll(/class\s+(\w+Error)\s+extends\s+(\w+)/g)]
        .filter((m) => m[2] !== 'Error')
        .map((m) => m[1]),
    );
    assert.ok(classes.length > 5, `only ${classes.length} classes found: the scan is broken`);
    assert.deepEqual(
      classes.filter((c) => !raisers.has(c) && !FORWARDING.has(c) && !BASES.has(c)),
      [],
    );
    const generic = codesInSource(sources(path.join(ROOT, 'src'))).filter(
      (f) => BASES.has(f.raisedAs) && CATALOGUED.some((dir) => f.file.startsWith(dir)),
    );
    assert.deepEqual(generic, []);
  });

  it('every code an error is constructed with is in a catalog, under the class that raises it', () => {
    const found = codesInSource(sources(path.join(ROOT, 'src')));
    assert.ok(found.length > 50, `only ${found.length} constructions found: the scan is broken`);
    const wrong = found.filter((f) => {
      if (!raisers.has(f.raisedAs)) return false;
      return catalog.get(f.code)?.raisedAs !== f.raisedAs;
    });
    assert.deepEqual(
      wrong.map(
        (w) =>
          `${w.file}: new ${w.raisedAs}('${w.code}') (catalog: ${catalog.get(w.code)?.raisedAs ?? 'missing'})`,
      ),
      [],
    );
  });

  it('every catalogued code is used in the sources (no dead entries)', () => {
    const catalogFiles = new Set(ERROR_CATALOGS.map((c) => path.join(ROOT, c.file)));
    const text = sources(path.join(ROOT, 'src'))
      .filter((f) => !catalogFiles.has(f))
      .map((f) => fs.readFileSync(f, 'utf8'))
      .join('\n');
    const pouch = pouchClientErrorNames();
    const unused = [...catalog].filter(([code, entry]) => {
      if (entry.raisedAs !== 'CouchError') return !text.includes(`'${code}'`);
      const name = code.replace(/^LOCAL_API_/, '').toLowerCase();
      return !text.includes(`'${name}'`) && !pouch.includes(name);
    });
    assert.deepEqual(
      unused.map(([code]) => code),
      [],
    );
  });

  it('every 4xx error name of pouchdb-node has its LOCAL_API_ code (the local API passes them on)', () => {
    const names = pouchClientErrorNames();
    assert.ok(names.length > 5, `only ${names.length} PouchDB errors found: the scan is broken`);
    assert.deepEqual(
      names.filter((name) => !catalog.has(`LOCAL_API_${name.toUpperCase()}`)),
      [],
    );
  });

  it('each class carries its own codes: a thrown error keeps its class, code and message', () => {
    const auth = new BankAuthError('OFX_LOCKED_OUT', 'locked out');
    assert.ok(auth instanceof PermanentError);
    assert.equal(auth.code, 'OFX_LOCKED_OUT');
    assert.ok(BankAuthError.codes.includes('OFX_LOCKED_OUT'));
    assert.ok(!BankAuthError.codes.includes('BANK_TIMEOUT' as never));
    assert.ok(BankUnavailableError.codes.includes('BANK_TIMEOUT'));
    const limited = new RateLimitedError('slow down', new Date('2026-01-01T00:00:00Z'));
    assert.equal(limited.code, RateLimitedError.code);
    assert.equal(limited.code, 'BANK_RATE_LIMITED');
  });
});

/** The names of pouchdb-node's 4xx errors (`new PouchError(404, 'not_found', ...)`). */
function pouchClientErrorNames(): string[] {
  const lib = fs.readFileSync(require.resolve('pouchdb-node'), 'utf8');
  return [...new Set([...lib.matchAll(/new PouchError\(4\d\d, '([a-z_]+)'/g)].map((m) => m[1]))];
}

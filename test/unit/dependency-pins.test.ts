import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const readJson = (file: string) =>
  JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8')) as {
    dependencies?: Record<string, string>;
    packages?: Record<string, { version?: string; dependencies?: Record<string, string> }>;
  };

describe('dependency pins', () => {
  it('pouchdb-node is pinned exactly, and package.json, the lockfile and node_modules agree (src/ledger/level-changes.ts, level-creates.ts and pouch-level.ts mirror its internals)', () => {
    const pin = readJson('package.json').dependencies?.['pouchdb-node'];
    assert.match(
      pin ?? '',
      /^\d+\.\d+\.\d+$/,
      `pouchdb-node must be an exact version, not '${pin}'`,
    );
    const lock = readJson('package-lock.json').packages ?? {};
    assert.equal(
      lock['']?.dependencies?.['pouchdb-node'],
      pin,
      'the lockfile records the same pin',
    );
    assert.equal(lock['node_modules/pouchdb-node']?.version, pin, 'the lockfile installs the pin');
    const installed = readJson('node_modules/pouchdb-node/package.json') as { version?: string };
    assert.equal(installed.version, pin, 'node_modules holds the pin (run npm ci)');
  });

  it('one cron implementation: every cron-parser in the lockfile is major 5, and node-schedule is gone', () => {
    const lock = readJson('package-lock.json').packages ?? {};
    const cronParsers = Object.entries(lock).filter(([key]) =>
      key.endsWith('node_modules/cron-parser'),
    );
    assert.ok(cronParsers.length >= 1);
    for (const [key, entry] of cronParsers) assert.match(entry.version ?? '', /^5\./, key);
    assert.deepEqual(
      Object.keys(lock).filter((key) => key.endsWith('node_modules/node-schedule')),
      [],
    );
  });
});

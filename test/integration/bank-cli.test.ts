import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunOutcome } from '../../src/bank/run-outcome';
import { readStatus } from '../../src/bank/status';
import { BooksStore } from '../../src/ledger';
import { memoryLogger } from '../helpers/cloud-server';
import { runCli } from '../helpers/daemon-process';

const REPO = path.resolve(__dirname, '../../..');

/** `booksync fetch NAME --since DATE` and `booksync bank duplicates` on the shipped demo, daemon stopped. */
describe('bank commands: fetch --since, bank duplicates (built CLI)', function () {
  this.timeout(120_000);
  let root: string;
  let config: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-bankcli-'));
    fs.mkdirSync(path.join(root, 'config'));
    for (const f of ['booksync.yaml', 'demo-company.yaml', 'booksync.schema.json'])
      fs.copyFileSync(path.join(REPO, 'config', f), path.join(root, 'config', f));
    // The whole demo folder: every connection's statements and the rates file.
    fs.cpSync(path.join(REPO, 'demo'), path.join(root, 'demo'), { recursive: true });
    config = path.join(root, 'config', 'booksync.yaml');
  });

  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  /** The demo connection's watermark, read from the books (no daemon runs). */
  async function watermark(): Promise<string | undefined> {
    const books = await BooksStore.open(path.join(root, 'var', 'books'), {
      logger: memoryLogger().logger,
    });
    try {
      return (await readStatus(books, 'demo'))?.watermark;
    } finally {
      await books.close();
    }
  }

  it('fetch NAME --since fetches that window again, imports nothing twice and leaves the watermark; bad uses exit 64', async () => {
    assert.equal((await runCli(['fetch', '--json', '--config', config])).code, 0);
    const before = await watermark();
    assert.ok(before);
    const since = await runCli([
      'fetch',
      'demo',
      '--since',
      '2023-12-01',
      '--json',
      '--config',
      config,
    ]);
    assert.equal(since.code, 0, since.stderr);
    const [outcome] = JSON.parse(since.stdout) as RunOutcome[];
    assert.equal(outcome.window?.from, '2023-12-01');
    assert.equal(outcome.counts.new, 0);
    assert.equal(outcome.counts.duplicates, 16, "all the demo current account's lines");
    assert.equal(await watermark(), before, 'the watermark did not move back');

    assert.equal(
      (await runCli(['fetch', '--since', '2023-12-01', '--config', config])).code,
      64,
      '--since needs a connection name',
    );
    assert.equal(
      (await runCli(['fetch', 'demo', '--since', '1.12.2023', '--config', config])).code,
      64,
    );
  });

  it('bank duplicates lists pairs as JSON or a table and changes nothing; a bad --days exits 64', async () => {
    assert.equal((await runCli(['fetch', '--config', config])).code, 0);
    const before: unknown = JSON.parse(
      (await runCli(['report', '--json', '--config', config])).stdout,
    );
    const listed = await runCli([
      'bank',
      'duplicates',
      '--days',
      '3',
      '--json',
      '--config',
      config,
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    const pairs = JSON.parse(listed.stdout) as Array<{ lines: Array<{ id: string }> }>;
    assert.ok(Array.isArray(pairs));
    for (const p of pairs) assert.notEqual(p.lines[0].id, p.lines[1].id);
    const text = await runCli(['bank', 'duplicates', '--config', config]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      pairs.length ? /pair\(s\) to review; nothing was changed/ : /no likely duplicates/,
    );
    assert.deepEqual(
      JSON.parse((await runCli(['report', '--json', '--config', config])).stdout),
      before,
      'the books are as they were',
    );

    assert.equal(
      (await runCli(['bank', 'duplicates', '--days', 'x', '--config', config])).code,
      64,
    );
    assert.equal((await runCli(['bank', 'frobnicate', '--config', config])).code, 64);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { RateDoc } from '../../src/ledger';
import type { RatesRun } from '../../src/rates';
import { DaemonProcess, runCli } from '../helpers/daemon-process';
import { EcbServer } from '../helpers/sim/ecb-server';

const REPO = path.resolve(__dirname, '../../..');

/**
 * `booksync rates fetch` and `booksync rates list` (docs/CURRENCIES.md, "Rates sources") on the
 * shipped demo config with an ECB simulator and a rates folder: with the daemon stopped (the books
 * opened directly) and through a running daemon's control socket.
 */
describe('rates commands: rates fetch, rates list (built CLI)', function () {
  this.timeout(120_000);
  let root: string;
  let config: string;
  let folder: string;
  let ecb: EcbServer;

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-ratescli-'));
    fs.mkdirSync(path.join(root, 'config'));
    for (const f of ['booksync.yaml', 'demo-company.yaml', 'booksync.schema.json'])
      fs.copyFileSync(path.join(REPO, 'config', f), path.join(root, 'config', f));
    // Every demo bank folder the shipped config names (its rates folder is replaced below).
    fs.cpSync(path.join(REPO, 'demo'), path.join(root, 'demo'), { recursive: true });
    folder = path.join(root, 'rates');
    fs.mkdirSync(folder);
    ecb = new EcbServer();
    ecb.days = {
      '2024-02-01': { USD: '1.0830', JPY: '160.87' },
      '2024-02-02': { USD: '1.0850', JPY: '161.20' },
    };
    const url = await ecb.start();
    config = path.join(root, 'config', 'booksync.yaml');
    const doc = parseDocument(fs.readFileSync(config, 'utf8'));
    // A schedule far away: the runs the test sees are the start run and the ones it asks for.
    doc.set('rates', { provider: 'ecb', url, folder, schedule: { every: '24h' } });
    fs.writeFileSync(config, doc.toString());
  });

  afterEach(async () => {
    await ecb.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  function dropCsv(name: string, text: string): void {
    fs.writeFileSync(path.join(folder, name), text);
  }

  async function fetchJson(): Promise<{ code: number | null; run: RatesRun; stderr: string }> {
    const res = await runCli(['rates', 'fetch', '--json', '--config', config]);
    return { code: res.code, run: JSON.parse(res.stdout) as RatesRun, stderr: res.stderr };
  }

  it('daemon stopped: fetch stores the ECB day and the CSV file and says what per pair; again stores nothing; list shows them', async () => {
    dropCsv(
      'kwd.csv',
      'date,base,quote,rate\n2024-02-01,EUR,KWD,0.33275\n2024-02-02,EUR,KWD,0.3330\n',
    );
    const first = await fetchJson();
    assert.equal(first.code, 0, first.stderr);
    // The daily file holds the newest day only.
    assert.deepEqual(first.run.stored, [
      { pair: 'EUR:JPY', first: '2024-02-02', last: '2024-02-02', count: 1 },
      { pair: 'EUR:KWD', first: '2024-02-01', last: '2024-02-02', count: 2 },
      { pair: 'EUR:USD', first: '2024-02-02', last: '2024-02-02', count: 1 },
    ]);
    assert.deepEqual(first.run.errors, []);
    assert.ok(fs.existsSync(path.join(folder, 'archive', 'kwd.csv')));

    const text = await runCli(['rates', 'fetch', '--config', config]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^stored 0 new rate document\(s\)$/m);
    assert.match(text.stdout, /^ecb: 0 new, 2 already stored, 0 skipped$/m);

    const listed = await runCli([
      'rates',
      'list',
      '--pair',
      'eur:kwd',
      '--json',
      '--config',
      config,
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    const rates = JSON.parse(listed.stdout) as RateDoc[];
    assert.deepEqual(
      rates.map((r) => [r.date, r.base, r.quote, r.rate]),
      [
        ['2024-02-01', 'EUR', 'KWD', '0.33275'],
        ['2024-02-02', 'EUR', 'KWD', '0.3330'],
      ],
    );
    const table = await runCli(['rates', 'list', '--config', config]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^2024-02-02 +EUR:USD +1\.0850 +ecb$/m);
    assert.equal(table.stdout.trim().split('\n').length, 1 + 4);
  });

  it('a failing source: exit 1 naming the source and the code; a refused file stores nothing of it', async () => {
    ecb.mode = 'status500';
    dropCsv(
      'bad.csv',
      'date,base,quote,rate\n2024-02-01,EUR,USD,1.0830\n2024-02-02,EUR,USD,1,0850\n',
    );
    const res = await runCli(['rates', 'fetch', '--config', config]);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /^error: ecb: .*HTTP 500 \[RATES_FETCH\]$/m);
    assert.match(
      res.stdout,
      /^refused: .*bad\.csv:3: 5 columns, the header has 4 \[RATES_MALFORMED\]$/m,
    );
    assert.ok(fs.existsSync(path.join(folder, 'rejected', 'bad.csv')));
    const listed = await runCli(['rates', 'list', '--json', '--config', config]);
    assert.deepEqual(JSON.parse(listed.stdout), []);
  });

  it('no source configured: fetch says so and exits 1', async () => {
    const doc = parseDocument(fs.readFileSync(config, 'utf8'));
    doc.set('rates', { provider: 'none' });
    fs.writeFileSync(config, doc.toString());
    const res = await runCli(['rates', 'fetch', '--config', config]);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /^no rates source is configured/);
  });

  it('bad uses exit 64', async () => {
    for (const args of [
      ['rates'],
      ['rates', 'frobnicate'],
      ['rates', 'list', '--pair', 'EURUSD'],
      ['rates', 'fetch', '--pair', 'EUR:USD'],
      ['rates', 'list', 'extra'],
    ]) {
      const res = await runCli([...args, '--config', config]);
      assert.equal(res.code, 64, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /usage: booksync rates fetch/);
    }
  });

  it('daemon running: fetch and list go through its control socket', async () => {
    const d = new DaemonProcess(['start', '--config', config]);
    try {
      await d.waitFor('daemon.ready');
      const start = await d.waitFor('rates.run');
      assert.equal(start.created, 2);
      const from = d.lines.length;
      dropCsv('usd.csv', 'date,base,quote,rate\n2024-01-31,EUR,USD,1.0800\n');
      // The daemon holds the books' lock: an answer can only come from it.
      const { code, run, stderr } = await fetchJson();
      assert.equal(code, 0, stderr);
      assert.deepEqual(run.stored, [
        { pair: 'EUR:USD', first: '2024-01-31', last: '2024-01-31', count: 1 },
      ]);
      const logged = await d.waitFor('rates.run', from);
      assert.equal(logged.created, 1);
      const listed = await runCli([
        'rates',
        'list',
        '--pair',
        'EUR:USD',
        '--json',
        '--config',
        config,
      ]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(
        (JSON.parse(listed.stdout) as RateDoc[]).map((r) => [r.date, r.rate, r.source]),
        [
          ['2024-01-31', '1.0800', 'csv:usd.csv'],
          ['2024-02-02', '1.0850', 'ecb'],
        ],
      );
    } finally {
      d.signal('SIGTERM');
      await d.exited;
    }
  });
});

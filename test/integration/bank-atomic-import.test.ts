import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { automateConnection } from '../../src/ledger/automation';
import { BooksStore, type StatementLineDoc } from '../../src/ledger';
import { readStatus } from '../../src/bank/status';
import { PouchLocalStore } from '../../src/sync';
import { stagedAmong } from '../../src/ledger';
import { generateCamt } from '../../scripts/bench-bank';
import { CloudServer, memoryLogger } from '../helpers/cloud-server';
import { DaemonProcess } from '../helpers/daemon-process';

const REPO = path.resolve(__dirname, '../../..');
/** Lines of the statement file: large enough to be streamed and written in many batches. */
const N = 10_000;

function siteConfig(cloudUrl: string): string {
  return [
    'state_dir: ./state',
    'log: { level: debug }',
    'cloud:',
    `  url: ${cloudUrl}`,
    'sync:',
    '  mode: live',
    '  default: { direction: none }',
    '  types:',
    '    statement_line:  { direction: push, conflict: local-wins }',
    '    move:            { direction: push, conflict: manual }',
    'bank:',
    '  connections:',
    '    - name: big',
    '      institution: demo-bank',
    '      provider: dropfolder',
    '      settings: { path: ./inbox, archive: ./archive, rejected: ./rejected }',
    '      journal: BNK1',
    '      history_days: 730',
    '      schedule: { every: 1h }',
    'ledger:',
    '  company: { name: Demo Company, currency: EUR }',
    '  chart: demo-company.yaml',
    '',
  ].join('\n');
}

/** Waits on the cloud's longpoll changes feed until `check` holds. */
async function cloudUntil(cloud: CloudServer, check: () => Promise<boolean>): Promise<void> {
  let since: unknown = 0;
  for (;;) {
    if (await check()) return;
    const res = await fetch(
      `${cloud.dbUrl('books')}/_changes?feed=longpoll&timeout=10000&since=${encodeURIComponent(String(since))}`,
    );
    since = ((await res.json()) as { last_seq: unknown }).last_seq;
  }
}

const isLine = (doc: Record<string, unknown>) => String(doc._id).startsWith('stl:');

describe('a statement file imports whole or not at all (daemon SIGKILLed mid-import)', function () {
  this.timeout(240_000);
  let cloud: CloudServer;
  let dir: string;
  const daemons: DaemonProcess[] = [];

  beforeEach(async () => {
    cloud = await CloudServer.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-atomic-'));
    fs.copyFileSync(
      path.join(REPO, 'config', 'demo-company.yaml'),
      path.join(dir, 'demo-company.yaml'),
    );
    fs.mkdirSync(path.join(dir, 'inbox'));
    generateCamt(path.join(dir, 'inbox', 'big.camt053.xml'), N, 11);
    fs.writeFileSync(path.join(dir, 'booksync.yaml'), siteConfig(cloud.dbUrl('books')));
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.kill()));
    await cloud.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function start(): DaemonProcess {
    const d = new DaemonProcess(['start', '--config', path.join(dir, 'booksync.yaml')]);
    daemons.push(d);
    return d;
  }

  it("given a kill while the file's lines are being stored, then no line reached the cloud or the ledger, and the restart imports the file exactly once", async () => {
    const first = start();
    await first.waitFor((l) => l.event === 'bank.import_progress' && Number(l.staged) >= N / 2);
    first.signal('SIGKILL');
    await first.exited;

    // What the kill left: part of the file stored, all of it staged.
    const { logger } = memoryLogger();
    const books = await BooksStore.open(path.join(dir, 'state', 'books'), { logger });
    try {
      const stored = await books.allOfType<StatementLineDoc>('statement_line');
      assert.ok(
        stored.length > 0 && stored.length < N,
        `the kill landed mid-import (${stored.length} of ${N} lines stored)`,
      );
      const status = await readStatus(books, 'big');
      assert.ok(status?.staged_import, 'the status document still names the unfinished import');
      assert.ok(
        stored.every((l) => l.import_id === status.staged_import!.id),
        'every stored line belongs to it',
      );
      // The ledger automation (run after every bank run, failed ones too) sees none of them. The
      // daemon here maps no ledger connection (posting every line of the file would only slow the
      // test down); the automation is run on the books the kill left.
      const automated = await automateConnection(books, 'big', {
        connections: [
          {
            connection: 'big',
            journal: 'BNK1',
            bank_account: '1010',
            suspense_account: '1099',
            currency: 'EUR',
          },
        ],
        rules: [],
        post_moves: 'posted',
        accounts: { receivable: '1200', payable: '2000', opening_balance: '3000' },
      });
      assert.equal(automated.posting?.posted.length ?? 0, 0, 'no staged line was posted');
      // The push reads no staged line either.
      const local = new PouchLocalStore(books, books.changesReader, (docs) =>
        stagedAmong(books, docs),
      );
      const page = await local.changesSince(0, N * 2);
      assert.equal(
        page.changes.filter((c) => c.id.startsWith('stl:')).length,
        0,
        'no staged line is offered to the push',
      );
    } finally {
      await books.close();
    }
    assert.equal(
      (await cloud.allRaw('books')).filter(isLine).length,
      0,
      'no line of the unfinished import reached the cloud',
    );
    assert.ok(
      fs.existsSync(path.join(dir, 'inbox', 'big.camt053.xml')),
      'the file is still in the inbox',
    );

    // The restart rolls the staged lines back, then imports the whole file once.
    const second = start();
    const rollback = await second.waitFor('bank.import_rollback');
    assert.ok(Number(rollback.lines) > 0);
    const run = await second.waitFor('bank.run');
    assert.equal(run.status, 'connected', JSON.stringify(run.error));
    assert.equal(run.new, N);
    await cloudUntil(cloud, async () => (await cloud.allRaw('books')).filter(isLine).length >= N);
    const lines = (await cloud.allRaw('books')).filter(isLine);
    assert.equal(lines.length, N, 'every line reached the cloud exactly once');
    assert.ok(fs.existsSync(path.join(dir, 'archive', 'big.camt053.xml')), 'the file is archived');
    second.signal('SIGTERM');
    assert.equal((await second.exited).code, 0);
  });
});

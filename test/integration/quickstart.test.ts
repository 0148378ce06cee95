import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunOutcome } from '../../src/bank/run-outcome';
import type { LedgerReport } from '../../src/ledger/automation/report';
import { DaemonProcess, runCli } from '../helpers/daemon-process';

/** The parts of `booksync status --json` the quickstart checks. */
interface QuickstartStatus {
  services: {
    bank: { connections: Array<{ status: string }> };
    ledger: { balances: Array<{ ok: boolean }> };
    sync: { open_conflicts: number };
  };
}

/** The parts of `booksync parse --json` the quickstart checks. */
interface ParsePreview {
  format: string;
  statements: Array<{
    transactions: Array<{
      bookingDate: string;
      amount: number;
      currency: string;
      providerId?: string;
    }>;
  }>;
}

const REPO = path.resolve(__dirname, '../../..');

/**
 * The quick start as a new user meets it: the shipped config (copied to a temp checkout layout so
 * the test writes nothing into the repo) runs the embedded cloud, syncs, and imports the demo
 * bank's statements into balanced, partly reconciled books; the CLI reads and acts on them.
 */
describe('quick start: shipped config, demo bank, CLI on the books', function () {
  this.timeout(120_000);
  let root: string;
  let config: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-qs-'));
    fs.mkdirSync(path.join(root, 'config'));
    for (const f of ['booksync.yaml', 'demo-company.yaml', 'booksync.schema.json'])
      fs.copyFileSync(path.join(REPO, 'config', f), path.join(root, 'config', f));
    fs.mkdirSync(path.join(root, 'demo'));
    fs.cpSync(path.join(REPO, 'demo', 'statements'), path.join(root, 'demo', 'statements'), {
      recursive: true,
    });
    config = path.join(root, 'config', 'booksync.yaml');
  });

  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("npm start's config: bank.run within seconds, moves posted and reconciled, books pushed to the embedded cloud", async () => {
    const d = new DaemonProcess(['start', '--config', config]);
    try {
      const ready = await d.waitFor('daemon.ready');
      assert.deepEqual(ready.services, [
        'ops',
        'cloud',
        'ledger',
        'rates',
        'sync',
        'local-api',
        'bank',
      ]);
      const run = await d.waitFor('bank.run');
      assert.equal(run.connection, 'demo');
      assert.equal(run.status, 'connected');
      assert.equal(run.new, 14);
      const auto = await d.waitFor('ledger.automate');
      assert.equal(auto.posted, 14);
      // 7 invoice and bill payments and the customer refund.
      assert.equal(auto.reconciled, 8, JSON.stringify(auto));
      // The customer refund: the credit note lowered INV/2024/0003 on load, Initech paid the full
      // 250.00, and the 50.00 sent back clears the overpaid rest.
      const applied = await d.waitFor('ledger.credit_note_applied');
      assert.deepEqual(
        [applied.credit_note, applied.invoice, applied.amount],
        ['invoice:RINV/2024/0001', 'invoice:INV/2024/0003', 5_000],
      );
      const refund = await d.waitFor('ledger.refund');
      assert.deepEqual(
        [refund.line, refund.counterpart_line, refund.amount],
        [
          'stl:demo:p:DE45120300001234567890:DEMO202402220001',
          'stl:demo:p:DE45120300001234567890:DEMO202402120001',
          5_000,
        ],
      );
      await d.waitFor(
        (l) => l.event === 'sync.cycle' && l.direction === 'push' && Number(l.docs) > 0,
      );

      const status = JSON.parse(
        (await runCli(['status', '--json', '--config', config])).stdout,
      ) as QuickstartStatus;
      assert.equal(status.services.bank.connections[0].status, 'connected');
      assert.equal(
        status.services.ledger.balances[0].ok,
        true,
        "the books' bank balance equals the bank's",
      );
      assert.equal(status.services.sync.open_conflicts, 0);
      // The statements are left in place (keep_files) and the repo's var/ is untouched.
      assert.ok(fs.existsSync(path.join(root, 'demo', 'statements', 'demo-2024-01.ofx')));

      d.signal('SIGTERM');
      assert.equal((await d.exited).code, 0);
    } finally {
      await d.kill();
    }
  });

  it('fetch, report, reconcile by hand and undo, on the books directly (daemon stopped)', async () => {
    const first = await runCli(['fetch', '--json', '--config', config]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((JSON.parse(first.stdout) as RunOutcome[])[0].counts.new, 14);
    const again = JSON.parse(
      (await runCli(['fetch', '--json', '--config', config])).stdout,
    ) as RunOutcome[];
    assert.equal(again[0].counts.new, 0, 'a re-run imports nothing twice');
    assert.equal(again[0].counts.duplicates, 14);

    const report = JSON.parse(
      (await runCli(['report', '--json', '--config', config])).stdout,
    ) as LedgerReport;
    assert.equal(report.trial_balance.balanced, true);
    const pending = JSON.parse(
      (await runCli(['reconcile', '--pending', '--json', '--config', config])).stdout,
    ) as Array<{ line: string; amount: number }>;
    assert.equal(pending.length, report.unreconciled.length);

    // Undo an automatic match, see the line back in suspense, then match it again by hand.
    const lines = JSON.parse(
      (await runCli(['report', '--json', '--config', config])).stdout,
    ) as LedgerReport;
    const reconciledLine = 'stl:demo:p:DE45120300001234567890:DEMO202401150001'; // ACME pays INV/2024/0001 (RF reference)
    assert.ok(!lines.unreconciled.some((l) => l.line === reconciledLine));
    const undo = await runCli(['reconcile', reconciledLine, '--undo', '--config', config]);
    assert.equal(undo.code, 0, undo.stderr);
    const afterUndo = JSON.parse(
      (await runCli(['reconcile', '--pending', '--json', '--config', config])).stdout,
    ) as Array<{ line: string }>;
    assert.ok(afterUndo.some((l) => l.line === reconciledLine));
    const redo = await runCli([
      'reconcile',
      reconciledLine,
      '--with',
      'INV/2024/0001',
      '--config',
      config,
    ]);
    assert.equal(redo.code, 0, redo.stderr);
    const afterRedo = JSON.parse(
      (await runCli(['reconcile', '--pending', '--json', '--config', config])).stdout,
    ) as Array<{ line: string }>;
    assert.ok(!afterRedo.some((l) => l.line === reconciledLine));
    assert.equal(
      (JSON.parse((await runCli(['report', '--json', '--config', config])).stdout) as LedgerReport)
        .trial_balance.balanced,
      true,
    );
  });

  it('parse previews a statement file and writes nothing; institutions searches the catalog', async () => {
    const file = path.join(root, 'demo', 'statements', 'demo-2024-01.ofx');
    const parsed = await runCli(['parse', file, '--json']);
    assert.equal(parsed.code, 0, parsed.stderr);
    const body = JSON.parse(parsed.stdout) as ParsePreview;
    assert.equal(body.format, 'ofx1');
    const tx = body.statements[0].transactions[0];
    assert.deepEqual(
      [tx.bookingDate, tx.amount, tx.currency, tx.providerId],
      ['2024-01-03', -125000, 'EUR', 'DEMO202401030001'],
    );
    assert.ok(!fs.existsSync(path.join(root, 'var')), 'parse wrote nothing');

    const bad = path.join(root, 'bad.ofx');
    fs.writeFileSync(
      bad,
      'OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR<BANKTRANLIST><STMTTRN><TRNAMT>abc',
    );
    const rejected = await runCli(['parse', bad]);
    assert.notEqual(rejected.code, 0);
    assert.match(rejected.stderr, /bad\.ofx/);

    const found = await runCli(['institutions', 'simplefin']);
    assert.equal(found.code, 0);
    assert.match(found.stdout, /SimpleFIN/i);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunOutcome } from '../../src/bank/run-outcome';
import type { LedgerReport } from '../../src/ledger/automation/report';
import { DaemonProcess, runCli } from '../helpers/daemon-process';

/**
 * What the quick start shows, per demo bank connection (config/booksync.yaml, the demo/ folder):
 * exact numbers. `imported`: lines of the statement files; `posted`: lines booked as moves;
 * `paid`: lines reconciled with an invoice or bill (a `ledger.reconcile` each); `refund`: lines
 * sending back an overpayment (a `ledger.refund` each); `transfer`: lines of the transfer from the
 * current account to savings (one `ledger.transfer`); `suspense`: the lines left in suspense;
 * `closing`: the bank's closing balance, which the books must equal (minor units).
 */
// prettier-ignore
const DEMO = {
  'demo':         { imported: 16, posted: 16, paid: 8, refund: 1, transfer: 1, suspense: 6, closing: 916299 },  // EUR
  'demo-usd':     { imported: 1,  posted: 1,  paid: 1, refund: 0, transfer: 0, suspense: 0, closing: 390000 },  // USD
  'demo-savings': { imported: 1,  posted: 1,  paid: 0, refund: 0, transfer: 1, suspense: 0, closing: 1200000 }, // EUR
} as const;
type DemoConnection = keyof typeof DEMO;
const CONNECTIONS = Object.keys(DEMO) as DemoConnection[];

/** The demo's special cases, in company-currency minor units (EUR). */
const CASES = {
  /** INV/2024/0007 (1500.00) paid 1485.00: 15.00 written off to 6270 Bank fees. */
  feeWriteOff: {
    line: 'stl:demo:p:DE45120300001234567890:DEMO202402260001',
    account: '6270',
    amount: 1500,
  },
  /** INV/2024/0006, 2400.00 USD at 1.0940 (2193.78 EUR) paid at 1.0743 (2234.01 EUR): 40.23 gained. */
  fxGain: {
    line: 'stl:demo-usd:p:DE18120300001234567891:DEMOUSD202402150001',
    account: '4900',
    amount: 4023,
  },
  /**
   * RINV/2024/0001 credits 50.00 of INV/2024/0003 on load; Initech pays the full 250.00 anyway,
   * and the 50.00 sent back on 2024-02-22 clears the overpaid rest.
   */
  refund: {
    creditNote: 'invoice:RINV/2024/0001',
    invoice: 'invoice:INV/2024/0003',
    line: 'stl:demo:p:DE45120300001234567890:DEMO202402220002',
    overpaid: 'stl:demo:p:DE45120300001234567890:DEMO202402120001',
    amount: 5_000,
  },
  /** 2,000.00 EUR from the current account to savings, through the liquidity-transfer account. */
  transfer: {
    from: 'stl:demo:p:DE45120300001234567890:DEMO202402220001',
    account: '1090',
  },
  /** The EUR/USD rates of demo/rates/. */
  rates: 14,
} as const;

/** Counts per demo connection, in table order. */
function perConnection(count: (c: DemoConnection) => number): Record<string, number> {
  return Object.fromEntries(CONNECTIONS.map((c) => [c, count(c)]));
}

/** The connection of a statement line id (`stl:<connection>:...`). */
function connectionOf(line: unknown): string {
  return String(line).split(':')[1];
}

/** The parts of `booksync status --json` the quickstart checks. */
interface QuickstartStatus {
  services: {
    bank: { connections: Array<{ name: string; status: string }> };
    ledger: { balances: Array<{ connection: string; bank: number; ok: boolean }> };
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
    fs.cpSync(path.join(REPO, 'demo'), path.join(root, 'demo'), { recursive: true });
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
      const rates = await d.waitFor('rates.run');
      assert.deepEqual([rates.created, rates.errors], [CASES.rates, 0]);
      const runs = await Promise.all(
        CONNECTIONS.map((c) => d.waitFor((l) => l.event === 'bank.run' && l.connection === c)),
      );
      assert.deepEqual(
        runs.map((r) => [r.status, r.new]),
        CONNECTIONS.map((c) => ['connected', DEMO[c].imported]),
      );
      await Promise.all(
        CONNECTIONS.map((c) =>
          d.waitFor((l) => l.event === 'ledger.automate' && l.connection === c),
        ),
      );
      // The USD line is paid by the run that finds both it and its invoice posted: the bank run, or
      // the reaction to the rates arriving (docs/CURRENCIES.md, "A missing rate"). Either ends
      // after its balance check with one of these two events.
      await d.waitFor((l) => l.event === 'ledger.reconcile' && l.line === CASES.fxGain.line);
      await d.waitFor(
        (l) =>
          (l.event === 'ledger.automate' && l.connection === 'demo-usd' && Number(l.posted) > 0) ||
          (l.event === 'ledger.rates_arrived' && Number(l.posted) > 0),
      );
      await d.waitFor(
        (l) => l.event === 'sync.cycle' && l.direction === 'push' && Number(l.docs) > 0,
      );

      const events = (name: string) => d.lines.filter((l) => l.event === name);
      assert.deepEqual(
        perConnection((c) =>
          events('ledger.post')
            .filter((l) => l.connection === c)
            .reduce((n, l) => n + Number(l.posted), 0),
        ),
        perConnection((c) => DEMO[c].posted),
        'lines posted',
      );
      const payments = events('ledger.reconcile');
      assert.deepEqual(
        perConnection((c) => payments.filter((l) => connectionOf(l.line) === c).length),
        perConnection((c) => DEMO[c].paid),
        'lines paid',
      );
      assert.deepEqual(
        payments.find((l) => l.line === CASES.feeWriteOff.line)?.write_off,
        { account: CASES.feeWriteOff.account, amount: CASES.feeWriteOff.amount, currency: 'EUR' },
        'the bank fee is written off',
      );
      assert.deepEqual(
        payments.find((l) => l.line === CASES.fxGain.line)?.exchange_difference,
        { account: CASES.fxGain.account, amount: CASES.fxGain.amount, currency: 'EUR' },
        'the exchange gain is booked and logged',
      );
      const refunds = events('ledger.refund');
      assert.deepEqual(
        perConnection((c) => refunds.filter((l) => connectionOf(l.line) === c).length),
        perConnection((c) => DEMO[c].refund),
        'overpayments sent back',
      );
      assert.deepEqual(
        [refunds[0].line, refunds[0].counterpart_line, refunds[0].amount],
        [CASES.refund.line, CASES.refund.overpaid, CASES.refund.amount],
      );
      const applied = events('ledger.credit_note_applied');
      assert.deepEqual(
        applied.map((l) => [l.credit_note, l.invoice, l.amount]),
        [[CASES.refund.creditNote, CASES.refund.invoice, CASES.refund.amount]],
        'the credit note lowers its invoice',
      );
      const transfers = events('ledger.transfer');
      assert.equal(transfers.length, 1, 'one transfer between own accounts');
      assert.deepEqual(
        perConnection(
          (c) =>
            [transfers[0].from, transfers[0].to].filter((line) => connectionOf(line) === c).length,
        ),
        perConnection((c) => DEMO[c].transfer),
      );
      assert.equal(transfers[0].from, CASES.transfer.from);
      assert.deepEqual(events('ledger.balance_mismatch'), []);

      const status = JSON.parse(
        (await runCli(['status', '--json', '--config', config])).stdout,
      ) as QuickstartStatus;
      assert.deepEqual(
        status.services.bank.connections.map((c) => [c.name, c.status]).sort(),
        CONNECTIONS.map((c) => [c, 'connected']).sort(),
      );
      assert.deepEqual(
        status.services.ledger.balances.map((b) => [b.connection, b.bank, b.ok]).sort(),
        CONNECTIONS.map((c) => [c, DEMO[c].closing, true]).sort(),
        "each connection's books balance equals the bank's",
      );
      assert.equal(status.services.sync.open_conflicts, 0);
      await checkBooks(config);
      // The statements are left in place (keep_files) and the repo's var/ is untouched.
      assert.ok(fs.existsSync(path.join(root, 'demo', 'statements', 'demo-2024-01.ofx')));
      assert.ok(fs.existsSync(path.join(root, 'demo', 'rates', 'ecb-eur-usd-2024.csv')));

      d.signal('SIGTERM');
      assert.equal((await d.exited).code, 0);
    } finally {
      await d.kill();
    }
  });

  it('fetch, report, reconcile by hand and undo, on the books directly (daemon stopped)', async () => {
    const first = await runCli(['fetch', '--json', '--config', config]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      (JSON.parse(first.stdout) as RunOutcome[]).map((o) => [o.connection, o.counts.new]),
      CONNECTIONS.map((c) => [c, DEMO[c].imported]),
    );
    const again = JSON.parse(
      (await runCli(['fetch', '--json', '--config', config])).stdout,
    ) as RunOutcome[];
    assert.deepEqual(
      again.map((o) => [o.connection, o.counts.new, o.counts.duplicates]),
      CONNECTIONS.map((c) => [c, 0, DEMO[c].imported]),
      'a re-run imports nothing twice',
    );
    // Without a daemon, fetch reads the rates too: the books are those of `npm start`.
    await checkBooks(config);

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

  /** The books after the demo's first run: suspense per connection, the fee and the exchange difference, balanced. */
  async function checkBooks(configFile: string): Promise<void> {
    const report = JSON.parse(
      (await runCli(['report', '--json', '--config', configFile])).stdout,
    ) as LedgerReport;
    assert.equal(report.trial_balance.balanced, true);
    const pending = JSON.parse(
      (await runCli(['reconcile', '--pending', '--json', '--config', configFile])).stdout,
    ) as Array<{ line: string; connection: string }>;
    assert.deepEqual(
      perConnection((c) => pending.filter((l) => l.connection === c).length),
      perConnection((c) => DEMO[c].suspense),
      'lines left in suspense',
    );
    assert.deepEqual(
      report.unreconciled.map((l) => [l.line, l.status]),
      pending.map((l) => [l.line, 'unmatched']),
      'nothing is left unposted',
    );
    const row = (code: string, currency: string) =>
      report.trial_balance.rows.find((r) => r.code === code && r.currency === currency);
    assert.equal(row(CASES.feeWriteOff.account, 'EUR')?.balance, CASES.feeWriteOff.amount);
    assert.equal(row(CASES.fxGain.account, 'USD')?.company_balance, -CASES.fxGain.amount);
    assert.equal(row('1020', 'USD')?.balance, DEMO['demo-usd'].closing);
    assert.equal(
      row(CASES.transfer.account, 'EUR')?.balance ?? 0,
      0,
      'the transfer account is cleared',
    );
  }

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

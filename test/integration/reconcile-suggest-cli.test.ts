import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LedgerReport } from '../../src/ledger/automation/report';
import type { SuggestedLine } from '../../src/ledger/automation';
import { DaemonProcess, runCli } from '../helpers/daemon-process';

/**
 * `booksync reconcile --pending` with explained suggestions, `--accept N` and `--with --write-off`
 * through the built CLI, on a small company of its own (README, "Explained suggestions"): on the
 * books directly, and through the running daemon's control socket.
 */

const COMPANY = `company: { name: Test Shop, currency: EUR }
roles: { receivable: "1200", payable: "2000", opening_balance: "3000", income: "4000", expense: "6000", fx_gain: "4900", fx_loss: "6900", sale_journal: SAL, purchase_journal: PUR }
accounts:
  - { code: "1010", name: Bank, kind: asset }
  - { code: "1099", name: Bank suspense, kind: asset, reconcile: true }
  - { code: "1200", name: Accounts receivable, kind: asset, reconcile: true }
  - { code: "2000", name: Accounts payable, kind: liability, reconcile: true }
  - { code: "3000", name: Opening balance equity, kind: equity }
  - { code: "4000", name: Sales, kind: income }
  - { code: "4900", name: Exchange gains, kind: income }
  - { code: "6000", name: Expenses, kind: expense }
  - { code: "6270", name: Bank fees, kind: expense }
  - { code: "6900", name: Exchange losses, kind: expense }
journals:
  - { code: BNK1, name: Bank, kind: bank, currency: EUR, default_account: "1010", suspense_account: "1099" }
  - { code: SAL, name: Sales, kind: sale, currency: EUR, default_account: "4000" }
  - { code: PUR, name: Purchases, kind: purchase, currency: EUR, default_account: "6000" }
partners:
  - { id: acme, name: ACME SA, bank_accounts: [] }
invoices:
  - { number: INV/T/0001, kind: out_invoice, partner: acme, date: 2024-03-01, due_date: 2024-03-31, total: "100.00" }
  - { number: INV/T/0002, kind: out_invoice, partner: acme, date: 2024-03-01, due_date: 2024-03-31, total: "250.00" }
  - { number: INV/T/0003, kind: out_invoice, partner: acme, date: 2024-03-01, due_date: 2024-03-31, total: "50.00" }
`;

function transaction(day: string, amount: string, id: string, name: string, memo: string): string {
  return `<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>202402${day}120000.000[+1:CET]\n<TRNAMT>${amount}\n<FITID>${id}\n<NAME>${name}\n<MEMO>${memo}\n</STMTTRN>`;
}

/** 99.00 for INV/T/0001 (1.00 short), 250.00 from ACME, 47.00 for INV/T/0003 (3.00 short). */
const STATEMENT = [
  'OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n',
  '<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20240205080000.000[+1:CET]<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>',
  '<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>EUR',
  '<BANKACCTFROM><BANKID>12030000<ACCTID>DE45120300001234567890<ACCTTYPE>CHECKING</BANKACCTFROM>',
  '<BANKTRANLIST><DTSTART>20240201000000.000[+1:CET]<DTEND>20240205235959.000[+1:CET]',
  transaction('01', '99.00', 'T1', 'ACME SA', 'INV/T/0001'),
  transaction('02', '250.00', 'T2', 'ACME SA', 'thanks'),
  transaction('03', '47.00', 'T3', 'ACME SA', 'INV/T/0003'),
  '</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>',
].join('\n');

/** The candidate fields the README documents for `--pending --json`. */
const CANDIDATE_KEYS = [
  'amount',
  'currency',
  'date',
  'due_date',
  'kind',
  'label',
  'n',
  'partner',
  'reasons',
  'score',
  'source',
  'target',
];

describe('reconcile --pending suggestions, --accept and --write-off (built CLI)', function () {
  this.timeout(120_000);
  let dir: string;
  let config: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-suggest-'));
    fs.mkdirSync(path.join(dir, 'statements'));
    fs.writeFileSync(path.join(dir, 'statements', 'feb.ofx'), STATEMENT);
    fs.writeFileSync(path.join(dir, 'company.yaml'), COMPANY);
    config = path.join(dir, 'booksync.yaml');
    fs.writeFileSync(
      config,
      [
        'state_dir: ./state',
        'local_api: { enabled: false }',
        'cloud: { url: embedded }',
        'bank:',
        '  connections:',
        '    - { name: shop, institution: demo-bank, provider: dropfolder, journal: BNK1, schedule: { every: 1h },',
        '        settings: { path: ./statements, keep_files: true, archive: ./archive, rejected: ./rejected } }',
        'ledger:',
        '  company: { name: Test Shop, currency: EUR }',
        '  chart: company.yaml',
        '  connections:',
        '    shop: { journal: BNK1, bank_account: "1010", suspense_account: "1099", currency: EUR }',
        '  reconcile:',
        '    rules: [{ kind: amount_window, tolerance: "2.00", days: 0, write_off: "6270" }]',
        '',
      ].join('\n'),
    );
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cli = (...args: string[]) => runCli([...args, '--config', config]);

  async function pending(): Promise<SuggestedLine[]> {
    const r = await cli('reconcile', '--pending', '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as SuggestedLine[];
  }

  const byMemo = (lines: SuggestedLine[], memo: string) => {
    const found = lines.find((l) => l.memo === memo);
    assert.ok(found, memo);
    return found;
  };

  it('on the books directly: lists explained candidates, refuses a stale number, accepts, writes off by hand', async () => {
    const fetched = await cli('fetch', '--json');
    assert.equal(fetched.code, 0, fetched.stderr);
    const lines = await pending();
    assert.equal(
      lines.length,
      3,
      'nothing matched automatically: every invoice is dated after its line',
    );
    const [short, thanks, shorter] = ['INV/T/0001', 'thanks', 'INV/T/0003'].map((m) =>
      byMemo(lines, m),
    );
    assert.deepEqual(
      Object.keys(short.candidates[0]).sort(),
      [...CANDIDATE_KEYS, 'write_off'].sort(),
    );
    assert.deepEqual(short.candidates[0].write_off, {
      account: '6270',
      amount: 100,
      limit: '2.00',
    });
    assert.deepEqual(
      thanks.candidates.map((c) => [c.n, c.target]),
      [
        [1, 'invoice:INV/T/0002'],
        [2, 'invoice:INV/T/0001'],
        [3, 'invoice:INV/T/0003'],
      ],
    );
    assert.deepEqual(Object.keys(thanks.candidates[0]).sort(), CANDIDATE_KEYS);
    for (const c of thanks.candidates)
      for (const r of c.reasons) {
        assert.equal(typeof r.text, 'string');
        assert.ok(Number.isInteger(r.points) && r.points >= 0, JSON.stringify(r));
      }

    const human = await cli('reconcile', '--pending');
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stdout,
      /1\.\s+score \d+\s+INV\/T\/0002 ACME SA\s+250\.00 EUR open\s+invoice:INV\/T\/0002/,
    );
    assert.match(human.stdout, /invoice number INV\/T\/0001 in the memo \(\+30\)/);
    assert.match(human.stdout, /accepting writes off 1\.00 EUR to 6270/);
    assert.ok(human.stdout.includes(`take one: booksync reconcile ${thanks.line} --accept N`));

    const wrong = await cli('reconcile', thanks.line, '--accept', '1', '--expect', 'INV/T/0003');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /suggestion 1 is invoice:INV\/T\/0002, not INV\/T\/0003/);
    const taken = await cli('reconcile', thanks.line, '--accept', '1');
    assert.equal(taken.code, 0, taken.stderr);
    assert.match(taken.stdout, /accepted suggestion 1: reconciled .* with invoice:INV\/T\/0002/);

    const withFee = await cli('reconcile', short.line, '--accept', '1', '--json');
    assert.equal(withFee.code, 0, withFee.stderr);
    assert.deepEqual(
      (JSON.parse(withFee.stdout) as { reconciliation: { payment: { write_off: unknown } } })
        .reconciliation.payment.write_off,
      { account: '6270', amount: 100, currency: 'EUR' },
    );

    const tooLarge = await cli(
      'reconcile',
      shorter.line,
      '--with',
      'INV/T/0003',
      '--write-off',
      '6270',
      '--write-off-limit',
      '2.00',
    );
    assert.equal(tooLarge.code, 1);
    assert.match(tooLarge.stderr, /difference 3\.00 EUR is above the write-off limit 2\.00/);
    const lonely = await cli(
      'reconcile',
      shorter.line,
      '--with',
      'INV/T/0003',
      '--write-off-limit',
      '9',
    );
    assert.equal(lonely.code, 64);
    const written = await cli(
      'reconcile',
      shorter.line,
      '--with',
      'INV/T/0003',
      '--write-off',
      '6270',
    );
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /3\.00 EUR written off to 6270/);

    assert.deepEqual(await pending(), []);
    const report = JSON.parse((await cli('report', '--json')).stdout) as LedgerReport;
    assert.equal(report.trial_balance.balanced, true);
    const fees = report.trial_balance.rows.find((r) => r.code === '6270');
    assert.equal(fees?.balance, 400, '1.00 and 3.00 written off');
  });

  it('through the running daemon: the same listing, and --accept N', async () => {
    const d = new DaemonProcess(['start', '--config', config]);
    try {
      await d.waitFor('ledger.automate');
      const lines = await pending();
      const thanks = byMemo(lines, 'thanks');
      assert.equal(thanks.candidates[0].target, 'invoice:INV/T/0002');
      const taken = await cli('reconcile', thanks.line, '--accept', '1', '--expect', 'INV/T/0002');
      assert.equal(taken.code, 0, taken.stderr);
      assert.deepEqual((await pending()).map((l) => l.memo).sort(), ['INV/T/0001', 'INV/T/0003']);
      d.signal('SIGTERM');
      assert.equal((await d.exited).code, 0);
    } finally {
      await d.kill();
    }
  });
});

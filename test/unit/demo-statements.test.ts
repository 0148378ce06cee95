import { strict as assert } from 'node:assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseStatement } from '../../src/bank/formats';
import type { BankAccountStatement } from '../../src/bank/provider';
import { formatAmount, parseAmount } from '../../src/shared/money';
import { findOfxdump, findOfxparsePython, requireOracle } from '../helpers/oracles';

const DEMO = path.resolve(__dirname, '../../../demo');

/**
 * The demo bank's statement files (README, "What the demo shows"), one folder per connection:
 * the account they belong to, the balance before their first line (what the books book as the
 * opening balance) and the bank's last closing balance (what the balance check compares), in
 * minor units.
 */
// prettier-ignore
const FOLDERS = {
  statements: { account: 'DE45120300001234567890', currency: 'EUR', opening: 1_000_000, closing: 916_299 },
  'statements-usd': { account: 'DE18120300001234567891', currency: 'USD', opening: 150_000, closing: 390_000 },
  'statements-savings': { account: 'DE88120300001234567892', currency: 'EUR', opening: 1_000_000, closing: 1_200_000 },
} as const;

function statementsOf(folder: string): Array<{ file: string; statement: BankAccountStatement }> {
  const dir = path.join(DEMO, folder);
  return readdirSync(dir)
    .sort()
    .flatMap((file) => {
      const parsed = parseStatement(readFileSync(path.join(dir, file)), { fileName: file });
      assert.deepEqual(parsed.warnings, [], `${folder}/${file}: no warnings`);
      return parsed.statements.map((statement) => ({ file, statement }));
    });
}

function demoOfxFiles(): string[] {
  return Object.keys(FOLDERS).flatMap((folder) =>
    readdirSync(path.join(DEMO, folder))
      .filter((f) => f.endsWith('.ofx'))
      .map((f) => path.join(DEMO, folder, f)),
  );
}

describe('demo statements', () => {
  for (const [folder, expected] of Object.entries(FOLDERS)) {
    it(`demo/${folder}: one account, and its balances agree with its lines from the opening to the closing balance`, () => {
      let running: number = expected.opening;
      for (const { file, statement } of statementsOf(folder)) {
        const where = `${folder}/${file}`;
        assert.deepEqual(
          [statement.accountId, statement.currency],
          [expected.account, expected.currency],
          where,
        );
        const ledger = statement.balances.filter((b) => b.kind === 'ledger');
        for (const b of ledger.filter((b) => b.date === statement.from))
          assert.equal(b.amount, running, `${where}: opening balance`);
        running += statement.transactions.reduce((sum, tx) => sum + tx.amount, 0);
        const closing = ledger.filter((b) => b.date === statement.to);
        assert.equal(closing.length, 1, `${where}: one closing balance`);
        assert.equal(closing[0].amount, running, `${where}: closing balance`);
      }
      assert.equal(running, expected.closing);
    });
  }

  it('the demo OFX files read the same with libofx (ofxdump): amounts and FITIDs', function () {
    const bin = findOfxdump();
    requireOracle(this, bin !== undefined, 'libofx (ofxdump)', 'ofx');
    if (!bin) return;
    for (const file of demoOfxFiles()) {
      const out: SpawnSyncReturns<string> = spawnSync(bin, [file], { encoding: 'latin1' });
      const theirs: Array<Array<string | undefined>> = out.stdout
        .split('ofx_proc_transaction():')
        .slice(1)
        .map((block) => [
          /Total money amount: (\S+)/.exec(block)?.[1],
          /Financial institution's ID for this transaction: (.*)/.exec(block)?.[1]?.trim(),
        ]);
      const [st] = parseStatement(readFileSync(file), { fileName: file }).statements;
      assert.deepEqual(
        st.transactions.map((tx) => [tx.amount, tx.providerId]),
        theirs.map(([amount, id]) => [parseAmount(String(amount), st.currency), id]),
        file,
      );
    }
  });

  it('the demo OFX files read the same with python3-ofxparse: account, currency, ids, amounts, dates', function () {
    const python = findOfxparsePython();
    requireOracle(this, python !== undefined, 'python3-ofxparse', 'python3-ofxparse');
    if (!python) return;
    const script = [
      'import json, sys, warnings',
      "warnings.filterwarnings('ignore')",
      'import ofxparse',
      "a = ofxparse.OfxParser.parse(open(sys.argv[1], 'rb')).account",
      "print(json.dumps([a.account_id, a.statement.currency.upper(), [[t.id, str(t.amount), t.date.strftime('%Y-%m-%d')] for t in a.statement.transactions]]))",
    ].join('\n');
    for (const file of demoOfxFiles()) {
      const out: SpawnSyncReturns<string> = spawnSync(python, ['-c', script, file], {
        encoding: 'utf8',
      });
      assert.equal(out.status, 0, `${file}: ${out.stderr}`);
      const [st] = parseStatement(readFileSync(file), { fileName: file }).statements;
      assert.deepEqual(
        JSON.parse(out.stdout),
        [
          st.accountId,
          st.currency,
          st.transactions.map((tx) => [
            tx.providerId,
            formatAmount(tx.amount, tx.currency),
            tx.bookingDate,
          ]),
        ],
        file,
      );
    }
  });
});

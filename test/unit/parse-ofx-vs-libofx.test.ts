import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseStatement } from '../../src/bank/formats';
import { parseAmount } from '../../src/shared/money';
import { findOfxdump, requireOracle } from '../helpers/oracles';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');

/**
 * Known, intended differences (file → 1-based line numbers): libofx reads an amount with a space
 * after the sign or a currency symbol as 0.00 (C strtod stops at the first odd character), and its
 * OFX 1.6 DTD drops a line's FITID when the line holds EXTDNAME (an OFX 2.x element) in a 1.02 file.
 */
const LIBOFX_DIFFERS: Readonly<Record<string, readonly number[]>> = {
  'quirk-amount-forms.ofx': [2, 3],
  'quirk-payee-checknum.ofx': [2],
};

interface DumpedLine {
  amount: string;
  id: string;
}

/** The transactions `ofxdump` prints, in file order: amount and FITID. */
function ofxdump(bin: string, file: string): DumpedLine[] {
  const out = spawnSync(bin, [file], { encoding: 'latin1', maxBuffer: 16 << 20 });
  const lines: DumpedLine[] = [];
  for (const block of out.stdout.split('ofx_proc_transaction():').slice(1)) {
    const amount = /Total money amount: (\S+)/.exec(block)?.[1];
    const id =
      /Financial institution's ID for this transaction: (.*)/.exec(block)?.[1]?.trim() ?? '';
    if (amount !== undefined) lines.push({ amount, id });
  }
  return lines;
}

describe('OFX parser agrees with libofx (ofxdump) on the OFX fixtures', function () {
  const bin = findOfxdump();

  it('given libofx, then every fixture gives the same lines in the same order: amounts and FITIDs, empty elements included', function () {
    requireOracle(this, bin !== undefined, 'libofx (ofxdump)', 'ofx');
    if (!bin) return;
    const files = readdirSync(FIXTURES)
      .filter((f) => /\.(ofx|qfx)$/.test(f) && !f.startsWith('malformed-'))
      .sort();
    assert.ok(
      files.includes('quirk-empty-elements.ofx') && files.includes('quirk-empty-curdef-sgml.ofx'),
    );
    for (const name of files) {
      const theirs = ofxdump(bin, path.join(FIXTURES, name));
      const ours = parseStatement(readFileSync(path.join(FIXTURES, name)), {
        fileName: name,
        defaultCurrency: 'USD',
      });
      const lines = ours.statements.flatMap((st) => st.transactions);
      assert.equal(lines.length, theirs.length, `${name}: line count`);
      lines.forEach((tx, k) => {
        if (LIBOFX_DIFFERS[name]?.includes(k + 1)) return;
        const t = theirs[k];
        assert.equal(
          tx.amount,
          parseAmount(t.amount, tx.currency),
          `${name} line ${k + 1}: amount`,
        );
        assert.equal(tx.providerId ?? '', t.id, `${name} line ${k + 1}: FITID`);
      });
    }
  });
});

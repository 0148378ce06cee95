import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseStatement } from '../../src/bank/formats';
import { parseAmount } from '../../src/shared/money';
import { findOfxparsePython, requireOracle } from '../helpers/oracles';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');

/** Dumps what python3-ofxparse reads from each file as one JSON line per file. */
const DUMP = `
import json, sys, warnings
warnings.filterwarnings('ignore')
import ofxparse
for name in sys.argv[1:]:
    try:
        with open(name, 'rb') as fh:
            ofx = ofxparse.OfxParser.parse(fh)
        accounts = []
        for a in ofx.accounts:
            txs = [{'id': t.id, 'amount': str(t.amount), 'date': t.date.strftime('%Y-%m-%d'), 'payee': t.payee or ''} for t in a.statement.transactions]
            accounts.append({'id': a.account_id, 'currency': (a.statement.currency or '').upper(), 'txs': txs})
        print(json.dumps({'file': name, 'accounts': accounts}))
    except Exception as e:
        print(json.dumps({'file': name, 'error': type(e).__name__ + ': ' + str(e)}))
`;

/** Files that declare CHARSET:1252 but hold UTF-8: we read the bytes, ofxparse trusts the header. */
const TRUSTS_DECLARED_CHARSET = new Set(['quirk-declared-1252-is-utf8.ofx']);

interface Dumped {
  file: string;
  error?: string;
  accounts?: {
    id: string;
    currency: string;
    txs: { id: string; amount: string; date: string; payee: string }[];
  }[];
}

describe('OFX parser agrees with python3-ofxparse on the OFX fixtures', function () {
  const python = findOfxparsePython();

  it('given python3-ofxparse, then every fixture it can read gives the same accounts, ids, amounts, dates and payees', function () {
    requireOracle(this, python !== undefined, 'python3-ofxparse', 'python3-ofxparse');
    if (!python) return;
    const files = readdirSync(FIXTURES)
      .filter((f) => /\.(ofx|qfx)$/.test(f) && !f.startsWith('malformed-'))
      .sort();
    const tmp = mkdtempSync(path.join(tmpdir(), 'booksync-ofxparse-'));
    try {
      const script = path.join(tmp, 'dump.py');
      writeFileSync(script, DUMP);
      const out = spawnSync(python, [script, ...files.map((f) => path.join(FIXTURES, f))], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      assert.equal(out.status, 0, out.stderr);
      const dumped = out.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Dumped);
      const compared: string[] = [];
      const refused: string[] = [];
      for (const d of dumped) {
        const name = path.basename(d.file);
        if (d.error) {
          refused.push(`${name} (${d.error.split('\n')[0]})`);
          continue;
        }
        const ours = parseStatement(readFileSync(d.file), { fileName: name });
        assert.equal(ours.statements.length, d.accounts!.length, `${name}: statement count`);
        ours.statements.forEach((st, i) => {
          const theirs = d.accounts![i];
          assert.equal(st.accountId, theirs.id, `${name}: account`);
          assert.equal(st.transactions.length, theirs.txs.length, `${name}: line count`);
          st.transactions.forEach((tx, k) => {
            const t = theirs.txs[k];
            const where = `${name} line ${k + 1}`;
            assert.equal(tx.providerId ?? '', t.id, `${where}: id`);
            assert.equal(tx.amount, parseAmount(t.amount, st.currency), `${where}: amount`);
            assert.equal(tx.bookingDate, t.date, `${where}: date`);
            if (t.payee === '') return;
            if (TRUSTS_DECLARED_CHARSET.has(name)) {
              // Known, intended difference: ofxparse decodes with the declared (wrong) charset.
              assert.equal(
                t.payee,
                new TextDecoder('windows-1252').decode(Buffer.from(tx.payee ?? '', 'utf8')),
                `${where}: payee mojibake`,
              );
            } else {
              assert.equal(tx.payee, t.payee, `${where}: payee`);
            }
          });
        });
        compared.push(name);
      }
      // ofxparse refuses some quirks we accept (empty FITIDs, CHARSET:NONE, impossible dates).
      if (refused.length > 0)
        process.stdout.write(`      (ofxparse could not read: ${refused.join('; ')})\n`);
      assert.ok(
        compared.length >= 8,
        `compared only ${compared.length} files: ${compared.join(', ')}`,
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

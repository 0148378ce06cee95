import { strict as assert } from 'node:assert';
import { likelyDuplicates } from '../../src/bank/duplicates';
import type { StatementLineDoc } from '../../src/ledger';

let n = 0;
function line(fields: Partial<StatementLineDoc>): StatementLineDoc {
  n += 1;
  return {
    _id: `stl:c:h:ACC:${n}`,
    type: 'statement_line',
    connection: 'c',
    account_id: 'DE89 3704 0044 0532 0130 00',
    date: '2024-03-10',
    amount: -1250,
    currency: 'EUR',
    dedup_key: `h:ACC:${n}`,
    pending: false,
    state: 'new',
    imported_at: `2024-03-${10 + n}T00:00:00.000Z`,
    ...fields,
  };
}

describe('bank duplicates (likely duplicate lines for review)', function () {
  it('given a bank that changed its ids between two imports, then the old and new line of one payment are a pair', function () {
    const pairs = likelyDuplicates([
      line({ provider_id: 'OLD-7' }),
      line({ provider_id: 'NEW-7', date: '2024-03-11', account_id: 'DE89370400440532013000' }),
    ]);
    assert.equal(pairs.length, 1);
    assert.equal(
      pairs[0].account,
      'DE89370400440532013000',
      'the same account however it is spaced',
    );
    assert.deepEqual(
      pairs[0].lines.map((l) => l.provider_id),
      ['OLD-7', 'NEW-7'],
    );
  });

  it('given two identical coffees of one import, then they are not a pair (the bank listed both)', function () {
    const same = { imported_at: '2024-03-10T08:00:00.000Z', import_id: 'run-1' };
    assert.deepEqual(likelyDuplicates([line(same), line(same)]), []);
  });

  it('given another amount, another currency, another account, more days apart, or a deleted, pending or replaced line, then no pair', function () {
    const base = line({});
    for (const other of [
      line({ amount: -1251 }),
      line({ currency: 'USD' }),
      line({ account_id: 'GB33BUKB20201555555555' }),
      line({ date: '2024-03-14' }),
      line({ state: 'deleted' }),
      line({ pending: true }),
      line({ replaced_by: 'stl:c:x' }),
    ]) {
      assert.deepEqual(likelyDuplicates([base, other], 3), [], JSON.stringify(other));
    }
  });

  it('given --days that is not a whole number of days, then a clear error', function () {
    assert.throws(
      () => likelyDuplicates([], -1),
      (e: unknown) => (e as { code?: string }).code === 'BANK_DUPLICATES_DAYS',
    );
  });
});

import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { planStatementLines } from '../../src/bank/dedup';
import type {
  BankAccountStatement,
  BankTransaction,
  StatementStream,
} from '../../src/bank/provider';
import {
  dropSharedProviderIds,
  warningText,
  type StatementWarning,
} from '../../src/bank/formats/common';
import { checkStream, collectStream, needsArrays, StreamPlanner } from '../../src/bank/stream-plan';
import type { StatementLineDoc } from '../../src/ledger';

const WINDOW = { from: '2024-03-01', to: '2024-03-31' };
const IMPORTED_AT = '2024-04-01T06:00:00.000Z';

/** A stream over statements held in memory, handing lines over `chunk` at a time as a parser does. */
export function memoryStream(
  name: string,
  statements: readonly BankAccountStatement[],
  chunk = 3,
): StatementStream & { reads: number } {
  const stream = {
    name,
    reads: 0,
    async read(sink: Parameters<StatementStream['read']>[0]) {
      stream.reads += 1;
      let n = 0;
      for (const [i, s] of statements.entries()) {
        for (const t of s.transactions) {
          sink.transaction({ ...t }, i);
          if (++n % chunk === 0) await sink.drain();
        }
        const { transactions, ...rest } = s;
        sink.statement({ ...rest, transactionCount: transactions.length }, i);
      }
      await sink.drain();
      return { warnings: [] };
    },
  };
  return stream;
}

/** What a parser hands over for `statements`: copies with provider ids shared inside a statement dropped. */
function parsed(
  statements: readonly BankAccountStatement[],
  file: string,
): { statements: BankAccountStatement[]; warnings: string[] } {
  const warnings: string[] = [];
  const copies = statements.map((s) => ({
    ...s,
    transactions: s.transactions.map((t) => ({ ...t })),
  }));
  const found: StatementWarning[] = [];
  for (const s of copies) dropSharedProviderIds(s, file, found);
  warnings.push(...found.map(warningText));
  return { statements: copies, warnings };
}

async function streamedPlan(
  statements: BankAccountStatement[],
  existing: StatementLineDoc[],
  includePending: boolean,
  batchSize = 2,
) {
  const stream = memoryStream('feed.xml', statements);
  const input = { stream, connection: 'acme', includePending, checkAborted: () => undefined };
  const storedIds = new Set(existing.flatMap((l) => (l.provider_id ? [l.provider_id] : [])));
  const check = await checkStream(input, storedIds);
  const why = needsArrays([check], new Set(), existing);
  const written: StatementLineDoc[][] = [];
  const planner = new StreamPlanner({
    connection: 'acme',
    includePending,
    importedAt: IMPORTED_AT,
    existing,
    batchSize,
    write: (docs) => {
      written.push(docs);
      return Promise.resolve();
    },
  });
  if (why === undefined) await planner.store(check);
  return { why, check, planner, written, stream };
}

// Small pools, so that duplicates, shared ids, same content and id collisions are common.
const txArb: fc.Arbitrary<BankTransaction> = fc
  .record({
    providerId: fc.option(fc.constantFrom('A', 'B', ' B', 'C', 'D'), { nil: undefined }),
    bookingDate: fc.constantFrom('2024-03-10', '2024-03-11', '2024-03-14'),
    amount: fc.constantFrom(-350, -350, 1200, -9999),
    currency: fc.constantFrom('EUR', 'eur '),
    payee: fc.option(fc.constantFrom('Café', ' Café', 'Globex'), { nil: undefined }),
    memo: fc.option(fc.constantFrom('x', 'INV/1'), { nil: undefined }),
    pending: fc.boolean(),
  })
  .map((t) => {
    const out: BankTransaction = {
      bookingDate: t.bookingDate,
      amount: t.amount,
      currency: t.currency,
      pending: t.pending,
    };
    if (t.providerId !== undefined) out.providerId = t.providerId;
    if (t.payee !== undefined) out.payee = t.payee;
    if (t.memo !== undefined) out.memo = t.memo;
    return out;
  });
const statementArb = fc
  .record({
    account: fc.constantFrom('DE01 0001', 'DE010001', 'DE02'),
    txs: fc.array(txArb, { maxLength: 12 }),
  })
  .map(({ account, txs }): BankAccountStatement => ({
    accountId: account,
    currency: 'EUR',
    transactions: txs,
    balances: [],
  }));

describe('streamed statement planning (stream-plan.ts)', function () {
  it('property: a feed planned line by line while streamed writes exactly what planStatementLines plans, in batches', async function () {
    let streamedRuns = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(statementArb, { minLength: 1, maxLength: 3 }),
        fc.array(statementArb, { maxLength: 2 }),
        fc.boolean(),
        fc.array(
          fc.constantFrom<StatementLineDoc['state']>('new', 'posted', 'reconciled', 'deleted'),
          { maxLength: 30 },
        ),
        async (feed, history, includePending, states) => {
          // Stored lines: an earlier import of `history`, some since posted, reconciled or deleted.
          const earlier = planStatementLines({
            connection: 'acme',
            statements: parsed(history, 'old.xml').statements,
            includePending: false,
            window: WINDOW,
            existing: [],
            importedAt: IMPORTED_AT,
          });
          const existing = (earlier.writes as StatementLineDoc[]).map((d, i) => ({
            ...d,
            _rev: `1-${i}`,
            state: states[i] ?? d.state,
          }));
          const expected = planStatementLines({
            connection: 'acme',
            statements: parsed(feed, 'feed.xml').statements,
            includePending,
            window: WINDOW,
            existing,
            importedAt: IMPORTED_AT,
          });
          const { why, planner, written, check } = await streamedPlan(
            feed,
            existing,
            includePending,
          );
          assert.deepEqual(check.warnings, parsed(feed, 'feed.xml').warnings);
          if (why !== undefined) {
            // The feeds a stream cannot plan are read into arrays: the same statements the parser would give.
            assert.deepEqual(await collectStream(check), parsed(feed, 'feed.xml').statements);
            return;
          }
          streamedRuns += 1;
          // The same documents; the array planner groups them by account, a stream keeps input order.
          const byId = (a: { _id: string }, b: { _id: string }) =>
            a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
          assert.deepEqual(
            written.flat().sort(byId),
            [...(expected.writes as StatementLineDoc[])].sort(byId),
          );
          assert.ok(written.every((batch) => batch.length <= 2));
          assert.deepEqual([...planner.newIds].sort(), [...expected.newIds].sort());
          assert.deepEqual(planner.counts, expected.counts);
        },
      ),
      { numRuns: 400 },
    );
    assert.ok(streamedRuns > 100, `only ${streamedRuns} of 400 feeds were planned streaming`);
  });

  it('given a stored line claimed by provider id whose content comes twice more, then the new lines get the occurrence numbers planStatementLines gives', async function () {
    // The stored h:…:0 line is taken by X (same id, same money), so the two identical coffees after
    // it move to :1 and :2, the second past the first's new id, not onto it.
    const coffee = {
      bookingDate: '2024-03-10',
      amount: -350,
      currency: 'EUR',
      payee: 'Café',
      pending: false,
    };
    const history: BankAccountStatement[] = [
      {
        accountId: 'DE01',
        currency: 'EUR',
        balances: [],
        transactions: [{ ...coffee, providerId: 'P' }],
      },
      {
        accountId: 'DE01',
        currency: 'EUR',
        balances: [],
        transactions: [{ ...coffee, amount: 1200, payee: 'Globex', providerId: 'P' }],
      },
    ];
    const earlier = planStatementLines({
      connection: 'acme',
      statements: history,
      includePending: false,
      window: WINDOW,
      existing: [],
      importedAt: IMPORTED_AT,
    });
    const existing = (earlier.writes as StatementLineDoc[]).map((d) => ({ ...d, _rev: '1-a' }));
    const feed: BankAccountStatement[] = [
      {
        accountId: 'DE01',
        currency: 'EUR',
        balances: [],
        transactions: [
          { ...coffee, payee: 'Other', providerId: 'P' },
          { ...coffee },
          { ...coffee },
        ],
      },
    ];
    const expected = planStatementLines({
      connection: 'acme',
      statements: feed,
      includePending: false,
      window: WINDOW,
      existing,
      importedAt: IMPORTED_AT,
    });
    const { why, planner } = await streamedPlan(feed, existing, false);
    assert.equal(why, undefined);
    assert.deepEqual(planner.newIds, expected.newIds);
    assert.deepEqual(
      planner.newIds.map((id) => id.slice(-2)),
      [':1', ':2'],
    );
  });

  it('given a feed with an OFX correction or stored pending lines, then it is read into arrays instead', async function () {
    const correction: BankTransaction = {
      providerId: 'N2',
      bookingDate: '2024-03-10',
      amount: -100,
      currency: 'EUR',
      pending: false,
      corrects: { providerId: 'N1', action: 'REPLACE' },
    };
    assert.match(
      (
        await streamedPlan(
          [{ accountId: 'DE01', currency: 'EUR', transactions: [correction], balances: [] }],
          [],
          false,
        )
      ).why ?? '',
      /corrections/,
    );
    const pendingLine = {
      _id: 'stl:acme:h:DE01:x:0',
      type: 'statement_line',
      connection: 'acme',
      account_id: 'DE01',
      date: '2024-03-09',
      amount: -5,
      currency: 'EUR',
      dedup_key: 'h:DE01:x:0',
      pending: true,
      state: 'new',
      imported_at: IMPORTED_AT,
    } as StatementLineDoc;
    const plain: BankTransaction = {
      bookingDate: '2024-03-10',
      amount: -5,
      currency: 'EUR',
      pending: false,
    };
    assert.match(
      (
        await streamedPlan(
          [{ accountId: 'DE01', currency: 'EUR', transactions: [plain], balances: [] }],
          [pendingLine],
          false,
        )
      ).why ?? '',
      /pending/,
    );
  });

  it('given a transaction the books cannot store as the very last line, then the checking pass fails naming it and nothing was planned', async function () {
    const good: BankTransaction = {
      bookingDate: '2024-03-10',
      amount: -5,
      currency: 'EUR',
      pending: false,
    };
    const txs = [
      ...Array.from({ length: 50 }, (_, i) => ({ ...good, amount: -5 - i })),
      { ...good, amount: 1.5 },
    ];
    await assert.rejects(
      () =>
        checkStream(
          {
            stream: memoryStream('big.xml', [
              { accountId: 'DE01', currency: 'EUR', transactions: txs, balances: [] },
            ]),
            connection: 'acme',
            includePending: false,
            checkAborted: () => undefined,
          },
          new Set(),
        ),
      (err: Error & { code?: string }) =>
        err.code === 'BANK_MALFORMED' &&
        /big\.xml: statement 1, transaction 51: amount 1\.5 is not an integer/.test(err.message),
    );
  });

  it('given a stream that gives other lines on its second read, then storing fails instead of planning against the first read', async function () {
    const good: BankTransaction = {
      bookingDate: '2024-03-10',
      amount: -5,
      currency: 'EUR',
      pending: false,
    };
    let reads = 0;
    const stream: StatementStream = {
      name: 'moving.xml',
      async read(sink) {
        reads += 1;
        const n = reads === 1 ? 3 : 4;
        for (let i = 0; i < n; i++) sink.transaction({ ...good, amount: -1 - i }, 0);
        sink.statement(
          { accountId: 'DE01', currency: 'EUR', balances: [], transactionCount: n },
          0,
        );
        await sink.drain();
        return { warnings: [] };
      },
    };
    const check = await checkStream(
      { stream, connection: 'acme', includePending: false, checkAborted: () => undefined },
      new Set(),
    );
    const planner = new StreamPlanner({
      connection: 'acme',
      includePending: false,
      importedAt: IMPORTED_AT,
      existing: [],
      batchSize: 10,
      write: () => Promise.resolve(),
    });
    await assert.rejects(
      () => planner.store(check),
      (err: Error & { code?: string }) => err.code === 'BANK_BAD_RESULT',
    );
  });
});

import { strict as assert } from 'node:assert';
import {
  accountId,
  type AccountDoc,
  type JournalDoc,
  type MoveDoc,
  type StatementLineDoc,
} from '../../src/ledger';
import { balanceProblems } from '../../src/ledger/invariants';
import {
  AutomationError,
  demoCompanyFile,
  ensureChart,
  ensureCompany,
  loadCompanyFile,
  parseCompany,
  postStatementLines,
  postingMoveId,
  postingMove,
} from '../../src/ledger/automation';
import { resolveMapping } from '../../src/ledger/automation/books';
import {
  MAPPING,
  balanceOf,
  clock,
  get,
  openBooks,
  snapshot,
  stl,
  type Books,
} from './ledger-auto-helpers';

describe('ledger automation: statement lines become balanced moves', () => {
  let books: Books;
  const demo = loadCompanyFile(demoCompanyFile());

  beforeEach(async () => {
    books = await openBooks();
    await ensureCompany(books.store, demo);
  });
  afterEach(async () => {
    await books.close();
  });

  describe('chart', () => {
    it('given a fresh store, when the demo company is loaded twice, then the second load creates nothing', async () => {
      const again = await ensureCompany(books.store, demo);
      assert.deepEqual(again.created, []);
      assert.ok(
        again.kept.includes('account:1010') &&
          again.kept.includes('journal:BNK1') &&
          again.kept.includes('invoice:INV/2024/0001'),
      );
      const journal = await get<JournalDoc>(books.store, 'journal:BNK1');
      assert.deepEqual(
        [journal.currency, journal.default_account, journal.suspense_account],
        ['EUR', '1010', '1099'],
      );
    });

    it('given an admin renamed an account, when the chart is ensured again, then the edit is kept', async () => {
      const acc = await get<AccountDoc>(books.store, accountId('1099'));
      await books.store.put({ ...acc, name: 'Transit (renamed)' });
      const res = await ensureChart(books.store, demo.chart);
      assert.deepEqual(res.created, []);
      assert.equal(
        (await get<AccountDoc>(books.store, accountId('1099'))).name,
        'Transit (renamed)',
      );
    });

    it('given the demo invoices, then each has its balanced posted move in SAL or PUR', async () => {
      const moves = await books.store.allOfType<MoveDoc>('move');
      assert.equal(moves.length, demo.invoices.length);
      for (const m of moves) {
        assert.deepEqual(balanceProblems(m), []);
        assert.ok(['SAL', 'PUR'].includes(m.journal));
      }
      // Receivable = the sales invoices' totals net of credit notes; payable = the bills'.
      const sales = demo.invoices
        .filter((i) => i.kind === 'out_invoice' || i.kind === 'out_refund')
        .reduce((s, i) => s + (i.kind === 'out_refund' ? -i.total : i.total), 0);
      const bills = demo.invoices
        .filter((i) => i.kind === 'in_invoice')
        .reduce((s, i) => s + i.total, 0);
      assert.equal(await balanceOf(books.store, '1200'), sales);
      assert.equal(await balanceOf(books.store, '2000'), -bills);
    });

    it('given a company file with a journal naming an unknown account, then it is refused naming the field', () => {
      const text =
        'company: { name: X, currency: EUR }\nroles: { receivable: "1", payable: "1", opening_balance: "1", income: "1", expense: "1", sale_journal: S, purchase_journal: S }\naccounts: [{ code: "1", name: A, kind: asset }]\njournals: [{ code: S, name: S, kind: sale, default_account: "9" }]\n';
      assert.throws(
        () => parseCompany(text, 'x.yaml'),
        (err: unknown) =>
          err instanceof AutomationError &&
          err.code === 'LEDGER_CHART_INVALID' &&
          /journals\[0\]\.default_account/.test(err.message),
      );
    });
  });

  describe('posting', () => {
    it('given money in and money out, when posted, then one balanced move each: bank against suspense, linked both ways', async () => {
      const lineIn = stl({ key: 'in', amount: 12_345, payee: 'ACME SA', memo: 'thanks' });
      const lineOut = stl({ key: 'out', amount: -2_000, payee: 'CloudHost Ltd' });
      await books.store.putMany([lineIn, lineOut]);
      const res = await postStatementLines(books.store, 'all', MAPPING, { logger: books.logger });
      assert.deepEqual(res.posted.map((p) => p.line).sort(), [lineIn._id, lineOut._id].sort());
      assert.deepEqual(res.refused, []);

      const moveIn = await get<MoveDoc>(books.store, postingMoveId('BNK1', lineIn._id));
      assert.equal(moveIn.state, 'posted');
      assert.equal(moveIn.statement_line, lineIn._id);
      assert.equal(moveIn.date, lineIn.date);
      assert.deepEqual(
        moveIn.lines.map((l) => [l.account, l.debit, l.credit, l.currency]),
        [
          ['1010', 12_345, 0, 'EUR'],
          ['1099', 0, 12_345, 'EUR'],
        ],
      );
      const moveOut = await get<MoveDoc>(books.store, postingMoveId('BNK1', lineOut._id));
      assert.deepEqual(
        moveOut.lines.map((l) => [l.account, l.debit, l.credit]),
        [
          ['1010', 0, 2_000],
          ['1099', 2_000, 0],
        ],
      );
      for (const m of [moveIn, moveOut]) assert.deepEqual(balanceProblems(m), []);

      const storedIn = await get<StatementLineDoc>(books.store, lineIn._id);
      assert.equal(storedIn.state, 'posted');
      assert.equal(storedIn.move, moveIn._id);
      assert.equal(await balanceOf(books.store, '1010'), 10_345);
      assert.equal(await balanceOf(books.store, '1099'), -10_345);
      assert.ok(books.entries.some((e) => e.event === 'ledger.post' && e.posted === 2));
    });

    it('given post_moves draft, then the moves are drafts', async () => {
      const line = stl({ amount: 500 });
      await books.store.put(line);
      await postStatementLines(books.store, [line._id], MAPPING, { post_moves: 'draft' });
      assert.equal(
        (await get<MoveDoc>(books.store, postingMoveId('BNK1', line._id))).state,
        'draft',
      );
    });

    it('given posted lines, when posting runs again (twice), then nothing changes', async () => {
      await books.store.putMany([
        stl({ amount: 100 }),
        stl({ amount: -250 }),
        stl({ amount: 999 }),
      ]);
      const first = await postStatementLines(books.store, 'all', MAPPING);
      assert.equal(first.posted.length, 3);
      const before = await snapshot(books.store);
      const second = await postStatementLines(books.store, 'all', MAPPING);
      assert.deepEqual(second.posted, []);
      assert.equal(second.already, 3);
      await postStatementLines(books.store, 'all', MAPPING);
      assert.deepEqual(await snapshot(books.store), before);
    });

    it('given a crash after the move was written but before the line was updated, then re-running links it without a second move', async () => {
      const line = stl({ amount: 4_200 });
      await books.store.put(line);
      const resolved = await resolveMapping(books.store, MAPPING);
      await books.store.put(postingMove(line, resolved, 'posted'));
      const movesBefore = (await books.store.allOfType('move')).length;
      const res = await postStatementLines(books.store, 'all', MAPPING);
      assert.deepEqual(res.posted, [{ line: line._id, move: postingMoveId('BNK1', line._id) }]);
      assert.equal((await books.store.allOfType('move')).length, movesBefore);
      assert.equal((await get<StatementLineDoc>(books.store, line._id)).state, 'posted');
      assert.equal(await balanceOf(books.store, '1010'), 4_200);
    });

    it('given a pending line, then it posts nothing; when its booked version replaces it, exactly one move is posted', async () => {
      const pending = stl({ key: 'pend', amount: -2_000, pending: true, payee: 'Coffee' });
      await books.store.put(pending);
      let res = await postStatementLines(books.store, 'all', MAPPING);
      assert.deepEqual(res.skipped, [{ line: pending._id, reason: 'pending' }]);
      assert.equal(await balanceOf(books.store, '1010'), 0);

      // The fetch loop replaces it: the pending line is deleted with replaced_by, the booked one is new.
      const booked = stl({ key: 'booked', amount: -2_400, payee: 'Coffee' });
      await books.store.putMany([
        {
          ...(await get<StatementLineDoc>(books.store, pending._id)),
          state: 'deleted',
          replaced_by: booked._id,
        },
        booked,
      ]);
      res = await postStatementLines(books.store, [pending._id, booked._id], MAPPING);
      assert.deepEqual(
        res.posted.map((p) => p.line),
        [booked._id],
      );
      assert.deepEqual(res.skipped, [{ line: pending._id, reason: 'deleted' }]);
      await postStatementLines(books.store, 'all', MAPPING);
      assert.equal(await balanceOf(books.store, '1010'), -2_400);
      assert.equal(
        (await books.store.allOfType<MoveDoc>('move')).filter((m) => m.journal === 'BNK1').length,
        1,
      );
    });

    it('given a pending line updated in place to booked, then it posts once with the booked amount', async () => {
      const line = stl({ amount: -2_000, pending: true });
      await books.store.put(line);
      await postStatementLines(books.store, 'all', MAPPING);
      await books.store.put({
        ...(await get<StatementLineDoc>(books.store, line._id)),
        pending: false,
        amount: -2_400,
      });
      await postStatementLines(books.store, 'all', MAPPING);
      await postStatementLines(books.store, 'all', MAPPING);
      assert.equal(await balanceOf(books.store, '1010'), -2_400);
    });

    it('given a line in another currency than the journal, then it is refused, stays new, and the refusal is logged', async () => {
      const usd = stl({ amount: 1_000, currency: 'USD' });
      const eur = stl({ amount: 700 });
      await books.store.putMany([usd, eur]);
      const res = await postStatementLines(books.store, 'all', MAPPING, { logger: books.logger });
      assert.deepEqual(
        res.posted.map((p) => p.line),
        [eur._id],
      );
      assert.equal(res.refused.length, 1);
      assert.equal(res.refused[0].code, 'LEDGER_CURRENCY_MISMATCH');
      assert.match(res.refused[0].message, /no exchange rate/);
      assert.equal((await get<StatementLineDoc>(books.store, usd._id)).state, 'new');
      assert.equal(await books.store.get(postingMoveId('BNK1', usd._id)), undefined);
      assert.ok(
        books.entries.some(
          (e) => e.event === 'ledger.post_refused' && e.line === usd._id && e.level === 'warn',
        ),
      );
    });

    it('given a mapping whose currency differs from its journal, or a missing journal, then posting throws LEDGER_MAPPING_INVALID', async () => {
      await books.store.put(stl({ amount: 1 }));
      await assert.rejects(
        postStatementLines(books.store, 'all', { ...MAPPING, currency: 'USD' }),
        (e: unknown) =>
          e instanceof AutomationError &&
          e.code === 'LEDGER_MAPPING_INVALID' &&
          /currency USD/.test(e.message),
      );
      await assert.rejects(
        postStatementLines(books.store, 'all', { ...MAPPING, journal: 'BNK9' }),
        (e: unknown) =>
          e instanceof AutomationError &&
          e.code === 'LEDGER_MAPPING_INVALID' &&
          /BNK9/.test(e.message),
      );
    });

    it('given named lines, then only those of the mapped connection are posted', async () => {
      const a = stl({ amount: 10 });
      const b = stl({ amount: 20 });
      const other = stl({ amount: 30, connection: 'savings' });
      await books.store.putMany([a, b, other]);
      const res = await postStatementLines(books.store, [a, other._id], MAPPING);
      assert.deepEqual(
        res.posted.map((p) => p.line),
        [a._id],
      );
      assert.equal((await get<StatementLineDoc>(books.store, b._id)).state, 'new');
      assert.equal((await get<StatementLineDoc>(books.store, other._id)).state, 'new');
    });

    it('given a posted line the bank (or the user) deleted, then its move is reversed once; a draft move is removed', async () => {
      const line = stl({ amount: 3_000 });
      const draftLine = stl({ amount: 500 });
      await books.store.putMany([line, draftLine]);
      await postStatementLines(books.store, [line._id], MAPPING, { clock });
      await postStatementLines(books.store, [draftLine._id], MAPPING, {
        post_moves: 'draft',
        clock,
      });
      for (const id of [line._id, draftLine._id])
        await books.store.put({
          ...(await get<StatementLineDoc>(books.store, id)),
          state: 'deleted',
        });
      const res = await postStatementLines(books.store, 'all', MAPPING, {
        clock,
        logger: books.logger,
      });
      const moveId = postingMoveId('BNK1', line._id);
      assert.deepEqual(
        res.unposted,
        [
          { line: line._id, move: moveId, reversal: `${moveId}:rev` },
          { line: draftLine._id, move: postingMoveId('BNK1', draftLine._id) },
        ].sort((a, b) => (a.line < b.line ? -1 : 1)),
      );
      const reversal = await get<MoveDoc>(books.store, `${moveId}:rev`);
      assert.deepEqual(
        [reversal.reverses, reversal.state, reversal.date],
        [moveId, 'posted', '2024-03-01'],
      );
      assert.equal(await books.store.get(postingMoveId('BNK1', draftLine._id)), undefined);
      assert.equal(await balanceOf(books.store, '1010', true), 0);
      assert.equal(await balanceOf(books.store, '1099', true), 0);
      const before = await snapshot(books.store);
      assert.deepEqual(
        (await postStatementLines(books.store, 'all', MAPPING, { clock })).unposted,
        [],
      );
      assert.deepEqual(await snapshot(books.store), before);
    });

    it('given a zero-amount line, then it is skipped (a move line needs a non-zero side)', async () => {
      const zero = stl({ amount: 0 });
      await books.store.put(zero);
      const res = await postStatementLines(books.store, 'all', MAPPING);
      assert.deepEqual(res.skipped, [{ line: zero._id, reason: 'zero_amount' }]);
    });

    it('given two posting calls at once, then every line is posted exactly once', async () => {
      await books.store.putMany(
        Array.from({ length: 20 }, (_, i) => stl({ amount: (i + 1) * 100 })),
      );
      const [x, y] = await Promise.all([
        postStatementLines(books.store, 'all', MAPPING),
        postStatementLines(books.store, 'all', MAPPING),
      ]);
      assert.equal(x.posted.length + y.posted.length, 20);
      assert.equal(await balanceOf(books.store, '1010'), 21_000);
    });
  });
});

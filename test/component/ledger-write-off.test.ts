import { strict as assert } from 'node:assert';
import {
  type BooksDoc,
  type InvoiceDoc,
  type MoveDoc,
  type RateDoc,
  type StatementLineDoc,
} from '../../src/ledger';
import { balanceProblems } from '../../src/ledger/invariants';
import {
  AutomationError,
  compileRules,
  demoCompanyFile,
  ensureCompany,
  loadCompanyFile,
  pendingLines,
  postStatementLines,
  reconcile,
  trialBalance,
  undoReconciliation,
  type AutomationPaymentDoc,
  type ReconcileOptions,
  type RuleSpec,
} from '../../src/ledger/automation';
import {
  MAPPING,
  USD,
  USD_CHART,
  balanceOf,
  clock,
  foreignBank,
  get,
  openBooks,
  rate,
  snapshot,
  stl,
  type Books,
} from './ledger-auto-helpers';

/**
 * Write-offs (README, "Write-offs"): an amount_window rule with `write_off` books the difference of
 * a near match to that account, so the invoice is paid in full and the payment move balances.
 */

const INV1 = 'invoice:INV/2024/0001'; // ACME 1210.00, dated 2024-01-05, due 2024-02-04
const BILL1 = 'invoice:BILL/2024/0001'; // Papeterie Dupont 145.20, due 2024-02-07
const FEES: RuleSpec[] = [{ kind: 'amount_window', tolerance: '2.00', days: 5, write_off: '6270' }];
const BANK_FEES: BooksDoc = {
  _id: 'account:6270',
  type: 'account',
  code: '6270',
  name: 'Bank fees',
  kind: 'expense',
};

/** [account, debit, credit] of each line of a move. */
const sides = (m: MoveDoc) => m.lines.map((l) => [l.account, l.debit, l.credit]);

describe('ledger automation: write-offs of near matches', () => {
  let books: Books;
  let opts: ReconcileOptions;
  const demo = loadCompanyFile(demoCompanyFile());

  beforeEach(async () => {
    books = await openBooks();
    opts = { connections: [MAPPING], logger: books.logger, clock };
  });
  afterEach(async () => {
    await books.close();
  });

  async function setUp(extra: InvoiceDoc[] = [], chart: BooksDoc[] = [BANK_FEES]): Promise<void> {
    await ensureCompany(books.store, { ...demo, invoices: [...demo.invoices, ...extra] });
    await books.store.putMany(chart);
  }

  async function importAndReconcile(lines: StatementLineDoc[], rules = FEES) {
    await books.store.putMany(lines);
    await postStatementLines(
      books.store,
      lines.map((l) => l._id),
      MAPPING,
      opts,
    );
    return reconcile(books.store, rules, opts);
  }

  const invoice = (id: string) => get<InvoiceDoc>(books.store, id);

  it('given 1210.00 paid as 1208.50 with tolerance 2.00, then the invoice is paid and 1.50 goes to 6270 in a balanced move', async () => {
    await setUp();
    const line = stl({ key: 'fee', amount: 120_850, payee: 'ACME', date: '2024-02-05' });
    const res = await importAndReconcile([line]);
    assert.equal(res.matched.length, 1);
    const made = res.matched[0];
    assert.deepEqual(
      [made.invoice, made.amount, made.residual, made.invoice_state, made.write_off],
      [INV1, 120_850, 0, 'paid', { account: '6270', amount: 150, currency: 'EUR' }],
    );
    const move = await get<MoveDoc>(books.store, made.move);
    assert.deepEqual(sides(move), [
      ['1099', 120_850, 0],
      ['1200', 0, 121_000],
      ['6270', 150, 0],
    ]);
    assert.deepEqual(balanceProblems(move), []);
    const inv = await invoice(INV1);
    assert.deepEqual([inv.residual, inv.state], [0, 'paid']);
    assert.equal(await balanceOf(books.store, '1099'), 0);
    assert.equal(await balanceOf(books.store, '6270'), 150);
    assert.equal((await get<StatementLineDoc>(books.store, line._id)).state, 'reconciled');
    assert.deepEqual(await pendingLines(books.store), []);
    // The audit trail: the payment names the rule and the write-off, and so does the log.
    const payment = await get<AutomationPaymentDoc>(books.store, made.payment);
    assert.equal(payment.rule, 'amount_window(tolerance 2.00, days 5, write_off 6270)');
    assert.deepEqual(payment.write_off, { account: '6270', amount: 150, currency: 'EUR' });
    const logged = books.entries.find((e) => e.event === 'ledger.reconcile');
    assert.deepEqual(logged?.write_off, { account: '6270', amount: 150, currency: 'EUR' });
    assert.match(logged?.msg ?? '', /1\.50 written off to 6270/);
    assert.equal((await trialBalance(books.store, {})).balanced, true);
  });

  it('given an overpayment within the tolerance, then the extra is credited to 6270 and suspense is cleared', async () => {
    await setUp();
    const line = stl({ key: 'over', amount: 121_100, payee: 'ACME', date: '2024-02-05' });
    const res = await importAndReconcile([line]);
    const move = await get<MoveDoc>(books.store, res.matched[0].move);
    assert.deepEqual(sides(move), [
      ['1099', 121_100, 0],
      ['1200', 0, 121_000],
      ['6270', 0, 100],
    ]);
    assert.deepEqual((await invoice(INV1)).state, 'paid');
    assert.equal(await balanceOf(books.store, '1099'), 0);
  });

  it('given a bill paid short, then the payable is cleared and the difference credited to 6270', async () => {
    await setUp();
    const line = stl({ key: 'bill', amount: -14_470, payee: 'Someone', date: '2024-02-07' });
    const res = await importAndReconcile([line]);
    const move = await get<MoveDoc>(books.store, res.matched[0].move);
    assert.deepEqual(sides(move), [
      ['1099', 0, 14_470],
      ['2000', 14_520, 0],
      ['6270', 0, 50],
    ]);
    assert.deepEqual((await invoice(BILL1)).residual, 0);
  });

  it('given a difference over the tolerance, then nothing matches and the invoice stays open', async () => {
    await setUp();
    const line = stl({ key: 'far', amount: 120_799, payee: 'ACME', date: '2024-02-05' });
    const res = await importAndReconcile([line]);
    assert.deepEqual([res.matched, res.unmatched], [[], [line._id]]);
    assert.deepEqual(
      [(await invoice(INV1)).residual, (await invoice(INV1)).state],
      [121_000, 'open'],
    );
    assert.equal(await balanceOf(books.store, '6270'), 0);
  });

  it('given two invoices within the tolerance, then it does not guess: the line waits for review', async () => {
    const other: InvoiceDoc = {
      _id: 'invoice:INV/2024/0099',
      type: 'invoice',
      kind: 'out_invoice',
      number: 'INV/2024/0099',
      partner: 'partner:initech',
      date: '2024-01-06',
      due_date: '2024-02-05',
      currency: 'EUR',
      total: 120_700,
      residual: 120_700,
      state: 'open',
    };
    await setUp([other]);
    const line = stl({ key: 'two', amount: 120_850, payee: 'ACME', date: '2024-02-05' });
    const res = await importAndReconcile([line]);
    assert.deepEqual([res.matched, res.unmatched], [[], [line._id]]);
    assert.equal((await invoice(INV1)).residual, 121_000);
    assert.equal((await invoice(other._id)).residual, 120_700);
    assert.deepEqual(
      (await pendingLines(books.store)).map((p) => [p.line, p.open]),
      [[line._id, 120_850]],
    );
  });

  it('given an exact amount, then the rule pays it without a write-off line', async () => {
    await setUp();
    const line = stl({ key: 'exact', amount: 121_000, payee: 'ACME', date: '2024-02-05' });
    const res = await importAndReconcile([line]);
    const move = await get<MoveDoc>(books.store, res.matched[0].move);
    assert.equal(move.lines.length, 2);
    assert.equal(res.matched[0].write_off, undefined);
  });

  it('undo reverses the write-off with the payment and restores the invoice; a re-run books it again', async () => {
    await setUp();
    const receivable = await balanceOf(books.store, '1200');
    const line = stl({ key: 'undo', amount: 120_850, payee: 'ACME', date: '2024-02-05' });
    const first = await importAndReconcile([line]);
    const undo = await undoReconciliation(books.store, line._id, opts);
    assert.equal(undo.undone.length, 1);
    assert.deepEqual(undo.undone[0].write_off, { account: '6270', amount: 150, currency: 'EUR' });
    const reversal = await get<MoveDoc>(books.store, undo.undone[0].reversal!);
    assert.deepEqual(sides(reversal), [
      ['1099', 0, 120_850],
      ['1200', 121_000, 0],
      ['6270', 0, 150],
    ]);
    const inv = await invoice(INV1);
    assert.deepEqual([inv.residual, inv.state], [121_000, 'open']);
    assert.equal(await balanceOf(books.store, '6270'), 0);
    assert.equal(await balanceOf(books.store, '1200'), receivable);
    assert.equal(await balanceOf(books.store, '1099'), -120_850);
    assert.equal((await get<StatementLineDoc>(books.store, line._id)).state, 'posted');
    const voided = await get<AutomationPaymentDoc>(books.store, first.matched[0].payment);
    assert.equal(voided.state, 'cancelled');
    // Undo again changes nothing; reconciling again pays the invoice again, once.
    const before = await snapshot(books.store);
    assert.deepEqual((await undoReconciliation(books.store, line._id, opts)).undone, []);
    assert.deepEqual(await snapshot(books.store), before);
    const again = await reconcile(books.store, FEES, opts);
    assert.equal(again.matched[0].write_off?.amount, 150);
    assert.equal((await invoice(INV1)).state, 'paid');
    assert.equal(await balanceOf(books.store, '6270'), 150);
  });

  it('given a write-off account missing from the chart, then reconciling fails naming the rule and writes nothing', async () => {
    await setUp([], []);
    const line = stl({ key: 'nochart', amount: 120_850, payee: 'ACME', date: '2024-02-05' });
    await books.store.put(line);
    await postStatementLines(books.store, [line._id], MAPPING, opts);
    const before = await snapshot(books.store);
    // 6280 is in neither the demo chart nor this test's.
    const rules: RuleSpec[] = [
      { kind: 'reference' },
      { kind: 'amount_window', tolerance: '2.00', days: 5, write_off: '6280' },
    ];
    await assert.rejects(reconcile(books.store, rules, opts), (e: unknown) => {
      assert.ok(e instanceof AutomationError);
      assert.equal(e.code, 'LEDGER_RULE_INVALID');
      assert.match(
        e.message,
        /^ledger\.reconcile\.rules\[1\]: write_off account 6280 does not exist/,
      );
      return true;
    });
    assert.deepEqual(await snapshot(books.store), before);
  });

  it('refuses a write_off that is not an account code or has no tolerance, naming the rule', () => {
    const bad = (spec: Record<string, unknown>) => () =>
      compileRules([{ kind: 'reference' }, spec]);
    assert.throws(bad({ kind: 'amount_window', days: 5, write_off: '6270' }), {
      code: 'LEDGER_RULE_INVALID',
      message:
        'ledger.reconcile.rules[1]: write_off 6270 needs a tolerance above 0 (a difference to write off)',
    });
    assert.throws(bad({ kind: 'amount_window', tolerance: '2.00', days: 5, write_off: 6270 }), {
      code: 'LEDGER_RULE_INVALID',
      message:
        'ledger.reconcile.rules[1]: write_off must be an account code such as "6270" (got 6270)',
    });
    assert.throws(
      bad({ kind: 'amount_partner', write_off: '6270' }),
      /unknown setting\(s\) write_off/,
    );
  });

  describe('in a foreign currency', () => {
    it('given a USD invoice booked at 1.25 paid 1.50 short at 1.00, then the move balances in USD and in EUR and the invoice is paid', async () => {
      const usdInvoice: InvoiceDoc = {
        _id: 'invoice:INV/USD/1',
        type: 'invoice',
        kind: 'out_invoice',
        number: 'INV/USD/1',
        partner: 'partner:acme',
        date: '2024-01-10',
        due_date: '2024-02-10',
        currency: 'USD',
        total: 10_000,
        residual: 10_000,
        state: 'open',
      };
      await books.store.putMany([
        rate('EUR', 'USD', '2024-01-10', '1.2500'),
        rate('EUR', 'USD', '2024-02-01', '1.0000'),
      ]);
      await setUp([usdInvoice], [BANK_FEES, ...USD_CHART]);
      const fx = { company_currency: 'EUR', clock, connections: [USD], logger: books.logger };
      const line = stl({ connection: 'usd', currency: 'USD', amount: 9_850, date: '2024-02-01' });
      await books.store.put(line);
      await postStatementLines(books.store, 'all', USD, fx);
      const res = await reconcile(books.store, FEES, fx);
      assert.equal(res.matched.length, 1);
      const move = await get<MoveDoc>(books.store, res.matched[0].move);
      assert.deepEqual(balanceProblems(move), []);
      // Paid 98.50 USD = 98.50 EUR, the fee 1.50 USD = 1.50 EUR at the line's rate; the invoice
      // was booked at 80.00 EUR, so 20.00 EUR is a realised gain.
      assert.deepEqual(
        move.lines.map((l) => [l.account, l.debit, l.credit, l.company?.debit, l.company?.credit]),
        [
          ['1098', 9_850, 0, 9_850, 0],
          ['1200', 0, 10_000, 0, 8_000],
          ['6270', 150, 0, 150, 0],
          ['4900', 0, 0, 0, 2_000],
        ],
      );
      const inv = await invoice(usdInvoice._id);
      assert.deepEqual([inv.residual, inv.state], [0, 'paid']);
      const tb = await trialBalance(books.store, { company_currency: 'EUR' });
      const row = (code: string) => tb.rows.find((r) => r.code === code && r.currency === 'USD');
      assert.deepEqual([row('1200')?.balance, row('1200')?.company_balance], [0, 0]);
      assert.deepEqual([row('1098')?.balance, row('1098')?.company_balance], [0, 0]);
      assert.equal(tb.balanced, true);
      assert.equal(tb.company_total?.balance, 0);
      const undo = await undoReconciliation(books.store, line._id, fx);
      const reversal = await get<MoveDoc>(books.store, undo.undone[0].reversal!);
      assert.deepEqual(balanceProblems(reversal), []);
      assert.equal((await invoice(usdInvoice._id)).residual, 10_000);
    });

    /** A bank connection in `currency` of the EUR company, its chart, and an invoice of 2024-01-10 in it. */
    async function foreignSetUp(currency: string, total: number, rates: RateDoc[]) {
      const { mapping, chart } = foreignBank(currency, 5);
      const inv: InvoiceDoc = {
        _id: `invoice:INV/${currency}/1`,
        type: 'invoice',
        kind: 'out_invoice',
        number: `INV/${currency}/1`,
        partner: 'partner:acme',
        date: '2024-01-10',
        due_date: '2024-02-10',
        currency,
        total,
        residual: total,
        state: 'open',
      };
      await books.store.putMany(rates);
      await setUp([inv], [BANK_FEES, ...chart]);
      const fx = { company_currency: 'EUR', clock, connections: [mapping], logger: books.logger };
      /** Posts and reconciles a line of `amount` dated 2024-02-01; the write-off it made, if any. */
      const pay = async (key: string, amount: number) => {
        const line = stl({
          key,
          connection: mapping.connection,
          currency,
          amount,
          date: '2024-02-01',
        });
        await books.store.put(line);
        await postStatementLines(books.store, 'all', mapping, fx);
        const res = await reconcile(books.store, FEES, fx);
        return { line, res };
      };
      return { inv, pay, fx };
    }

    it('given a JPY line, then the tolerance "2.00" is 2.00 EUR at the line date\'s rate (161.87: 323 yen, rounded toward zero)', async () => {
      const { inv, pay } = await foreignSetUp('JPY', 100_000, [
        rate('EUR', 'JPY', '2024-01-10', '160.00'),
        rate('EUR', 'JPY', '2024-02-01', '161.87'),
      ]);
      // 2.00 EUR × 161.87 = 323.74 JPY: 324 yen short is more than 2.00 EUR and is not written off.
      const far = await pay('jpy-far', 99_676);
      assert.deepEqual(far.res.matched, []);
      assert.equal((await invoice(inv._id)).residual, 100_000);
      const undoLine = far.line._id;
      await books.store.put({
        ...(await get<StatementLineDoc>(books.store, undoLine)),
        state: 'deleted',
      });
      const near = await pay('jpy-near', 99_677);
      assert.deepEqual(
        near.res.matched.map((m) => [m.invoice, m.write_off]),
        [[inv._id, { account: '6270', amount: 323, currency: 'JPY' }]],
      );
      const move = await get<MoveDoc>(books.store, near.res.matched[0].move);
      assert.deepEqual(balanceProblems(move), []);
      assert.deepEqual((await invoice(inv._id)).state, 'paid');
      // The fee is 323 yen, 1.995... EUR at the line's rate: within 2.00 EUR.
      const fee = move.lines.find((l) => l.account === '6270');
      assert.deepEqual([fee?.debit, fee?.currency, fee?.company?.debit], [323, 'JPY', 200]);
    });

    it('given a posted JPY line whose rate has gone from the books, then it stays in suspense, logged as ledger.rate_missing', async () => {
      const { inv, fx } = await foreignSetUp('JPY', 100_000, [
        rate('EUR', 'JPY', '2024-01-10', '160.00'),
        rate('EUR', 'JPY', '2024-02-01', '160.00'),
      ]);
      const line = stl({
        key: 'jpy-gone',
        connection: 'jpy',
        currency: 'JPY',
        amount: 99_800,
        date: '2024-02-01',
      });
      await books.store.put(line);
      await postStatementLines(books.store, 'all', fx.connections[0], fx);
      // A rate document deleted (by hand, or by a sync from another site) after the posting.
      await books.store.remove('rate:EUR:JPY:2024-02-01');
      const res = await reconcile(books.store, FEES, fx);
      assert.deepEqual([res.matched, res.unmatched], [[], [line._id]]);
      assert.equal((await invoice(inv._id)).residual, 100_000);
      const logged = books.entries.find((e) => e.event === 'ledger.rate_missing');
      assert.deepEqual(
        [logged?.line, logged?.from, logged?.to, logged?.date],
        [line._id, 'EUR', 'JPY', '2024-02-01'],
      );
      assert.match(
        logged?.msg ?? '',
        /stays in suspense: no exchange rate EUR\/JPY for 2024-02-01/,
      );
    });

    it('given a KWD line, then the tolerance "2.00" is 0.665 KWD at 0.33275 (0.6655, rounded toward zero)', async () => {
      const { inv, pay } = await foreignSetUp('KWD', 100_000, [
        rate('EUR', 'KWD', '2024-01-10', '0.33000'),
        rate('EUR', 'KWD', '2024-02-01', '0.33275'),
      ]);
      const far = await pay('kwd-far', 99_334); // 0.666 KWD short
      assert.deepEqual(far.res.matched, []);
      await books.store.put({
        ...(await get<StatementLineDoc>(books.store, far.line._id)),
        state: 'deleted',
      });
      const near = await pay('kwd-near', 99_335); // 0.665 KWD short
      assert.deepEqual(
        near.res.matched.map((m) => [m.invoice, m.write_off]),
        [[inv._id, { account: '6270', amount: 665, currency: 'KWD' }]],
      );
      assert.deepEqual(
        balanceProblems(await get<MoveDoc>(books.store, near.res.matched[0].move)),
        [],
      );
      assert.deepEqual(
        [(await invoice(inv._id)).residual, (await invoice(inv._id)).state],
        [0, 'paid'],
      );
    });
  });
});

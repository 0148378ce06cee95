import { strict as assert } from 'node:assert';
import {
  LedgerError,
  type BooksDoc,
  type InvoiceDoc,
  type MoveDoc,
  type StatementLineDoc,
} from '../../src/ledger';
import { trialBalanceTable } from '../../src/cli/report-table';
import { balanceProblems } from '../../src/ledger/invariants';
import {
  RateWatch,
  automateForeignConnections,
  demoCompanyFile,
  ensureCompany,
  loadCompanyFile,
  postStatementLines,
  reconcile,
  trialBalance,
  undoReconciliation,
  type CompanyData,
  type RateReaction,
} from '../../src/ledger/automation';
import {
  RULES,
  USD,
  USD_CHART,
  clock,
  get,
  openBooks,
  rate,
  stl,
  type Books,
} from './ledger-auto-helpers';

/**
 * Foreign currencies in the books (docs/CURRENCIES.md): a USD bank connection in an EUR company,
 * rates as documents, a missing rate that arrives later, a foreign invoice paid at another rate.
 */

const OPTS = { company_currency: 'EUR', clock, connections: [USD] };

/** The demo company plus a USD bank account, its suspense account and journal. */
async function usdBooks(books: Books, extra: Partial<CompanyData> = {}): Promise<void> {
  const demo = loadCompanyFile(demoCompanyFile());
  await ensureCompany(books.store, { ...demo, ...extra });
  await books.store.putMany<BooksDoc>([...USD_CHART]);
}

function usdLine(amount: number, date: string, fields: Partial<StatementLineDoc> = {}) {
  return stl({ connection: 'usd', currency: 'USD', amount, date, ...fields });
}

describe('ledger: foreign currencies', () => {
  let books: Books;
  beforeEach(async () => {
    books = await openBooks();
  });
  afterEach(async () => {
    await books.close();
  });

  describe('posting a USD line in an EUR company', () => {
    beforeEach(() => usdBooks(books));

    it('given the rate of its date, then the move holds USD and its EUR amount and balances in both', async () => {
      await books.store.put(rate('EUR', 'USD', '2024-02-01', '1.0830'));
      const line = await books.store.put(usdLine(10000, '2024-02-01'));
      const res = await postStatementLines(books.store, 'all', USD, OPTS);
      assert.deepEqual(res.refused, []);
      const move = await get<MoveDoc>(books.store, res.posted[0].move);
      // 100.00 USD / 1.0830 = 92.336... EUR → 92.34 EUR.
      assert.deepEqual(
        move.lines.map((l) => [
          l.account,
          l.debit,
          l.credit,
          l.currency,
          l.company?.debit,
          l.company?.credit,
        ]),
        [
          ['1020', 10000, 0, 'USD', 9234, 0],
          ['1098', 0, 10000, 'USD', 0, 9234],
        ],
      );
      assert.equal(move.lines[0].company?.currency, 'EUR');
      assert.deepEqual(balanceProblems(move), []);
      assert.equal((await get<StatementLineDoc>(books.store, line._id)).state, 'posted');
    });

    it("given a line whose currency is not its connection's, then it is refused as a mismatch, not converted", async () => {
      await books.store.put(rate('EUR', 'GBP', '2024-02-01', '0.8550'));
      const line = await books.store.put(usdLine(500, '2024-02-01', { currency: 'GBP' }));
      const res = await postStatementLines(books.store, 'all', USD, OPTS);
      assert.deepEqual(
        res.refused.map((r) => [r.line, r.code]),
        [[line._id, 'LEDGER_CURRENCY_MISMATCH']],
      );
      assert.equal((await get<StatementLineDoc>(books.store, line._id)).state, 'new');
    });

    it('given no rate, then the line waits unposted with LEDGER_RATE_MISSING naming the pair and date', async () => {
      const line = await books.store.put(usdLine(10000, '2024-02-01'));
      const res = await postStatementLines(books.store, 'all', USD, {
        ...OPTS,
        logger: books.logger,
      });
      assert.deepEqual(res.posted, []);
      assert.equal(res.refused[0].code, 'LEDGER_RATE_MISSING');
      assert.match(res.refused[0].message, /USD\/EUR for 2024-02-01/);
      assert.equal((await get<StatementLineDoc>(books.store, line._id)).state, 'new');
      const logged = books.entries.find((e) => e.event === 'ledger.rate_missing');
      assert.deepEqual([logged?.from, logged?.to, logged?.date], ['USD', 'EUR', '2024-02-01']);
      assert.deepEqual(
        await books.store
          .allOfType('move')
          .then((m) => m.filter((x) => x._id.startsWith('move:BNK2'))),
        [],
      );
    });

    it("given a Saturday line, then Friday's rate is used only once Monday's is published", async () => {
      await books.store.put(rate('EUR', 'USD', '2024-02-02', '1.0800'));
      await books.store.put(usdLine(10800, '2024-02-03'));
      const first = await postStatementLines(books.store, 'all', USD, OPTS);
      assert.equal(first.refused[0]?.code, 'LEDGER_RATE_MISSING');
      await books.store.put(rate('EUR', 'USD', '2024-02-05', '1.2000'));
      const second = await postStatementLines(books.store, 'all', USD, OPTS);
      const move = await get<MoveDoc>(books.store, second.posted[0].move);
      assert.equal(move.lines[0].company?.debit, 10000); // 108.00 / 1.08, Friday's rate
    });

    it('given a missing rate, when the rate document arrives, then the watch posts the waiting line', async () => {
      const line = await books.store.put(usdLine(-5000, '2024-02-01'));
      const first = await automateForeignConnections(books.store, { ...OPTS, rules: RULES });
      assert.equal(first[0].posting?.refused[0].code, 'LEDGER_RATE_MISSING');
      let onReacted!: (r: RateReaction) => void;
      const reacted = new Promise<RateReaction>((resolve) => (onReacted = resolve));
      const watch = new RateWatch(
        books.store,
        () => automateForeignConnections(books.store, { ...OPTS, rules: RULES }),
        { onReacted },
      );
      watch.start();
      try {
        await books.store.put(rate('EUR', 'USD', '2024-02-01', '1.2500'));
        const reaction = await reacted;
        assert.deepEqual(reaction.rates, ['rate:EUR:USD:2024-02-01']);
        assert.equal(reaction.results[0].posting?.posted[0].line, line._id);
      } finally {
        await watch.stop();
      }
      const posted = await get<StatementLineDoc>(books.store, line._id);
      assert.equal(posted.state, 'posted');
      const move = await get<MoveDoc>(books.store, posted.move!);
      assert.deepEqual(move.lines[0].company, {
        currency: 'EUR',
        debit: 0,
        credit: 4000,
        rate: '0.8',
      });
    });

    it('converts a USD line in a JPY-quoted cross rate via EUR exactly', async () => {
      // A JPY connection in an EUR company has its rate direct; a USD line needs no cross; the
      // cross path is USD→JPY, exercised through a JPY company.
      await books.store.put(rate('EUR', 'USD', '2024-02-01', '1.0830'));
      await books.store.put(rate('EUR', 'JPY', '2024-02-01', '160.00'));
      await books.store.put(usdLine(10000, '2024-02-01'));
      const res = await postStatementLines(books.store, 'all', USD, {
        ...OPTS,
        company_currency: 'JPY',
      });
      const move = await get<MoveDoc>(books.store, res.posted[0].move);
      // 100.00 USD × 160 / 1.083 = 14773.776... JPY → 14774.
      assert.equal(move.lines[0].company?.debit, 14774);
      assert.equal(move.lines[0].company?.currency, 'JPY');
    });
  });

  describe('paying a foreign invoice at another rate', () => {
    const invoice = (kind: InvoiceDoc['kind'], number: string, total: number): InvoiceDoc => ({
      _id: `invoice:${number}`,
      type: 'invoice',
      kind,
      number,
      partner: 'partner:acme',
      date: '2024-01-10',
      due_date: '2024-02-10',
      currency: 'USD',
      total,
      residual: total,
      state: 'open',
    });

    async function setUp(inv: InvoiceDoc): Promise<void> {
      await books.store.put(rate('EUR', 'USD', '2024-01-10', '1.2500'));
      await books.store.put(rate('EUR', 'USD', '2024-02-01', '1.0000'));
      const demo = loadCompanyFile(demoCompanyFile());
      await usdBooks(books, { invoices: [...demo.invoices, inv] });
    }

    it('given a USD sales invoice booked at 1.25 and paid at 1.00, then the gain goes to fx_gain and every move balances', async () => {
      await setUp(invoice('out_invoice', 'INV/USD/1', 10000));
      const inv = await get<InvoiceDoc>(books.store, 'invoice:INV/USD/1');
      assert.deepEqual(inv.company, { currency: 'EUR', total: 8000, rate: '0.8' });
      await books.store.put(usdLine(10000, '2024-02-01', { memo: 'INV/USD/1' }));
      await postStatementLines(books.store, 'all', USD, OPTS);
      const res = await reconcile(books.store, RULES, OPTS);
      assert.equal(res.matched.length, 1);
      const pay = await get<MoveDoc>(books.store, res.matched[0].move);
      assert.deepEqual(balanceProblems(pay), []);
      assert.deepEqual(
        pay.lines.map((l) => [l.account, l.debit, l.credit, l.company?.debit, l.company?.credit]),
        [
          ['1098', 10000, 0, 10000, 0],
          ['1200', 0, 10000, 0, 8000],
          ['4900', 0, 0, 0, 2000],
        ],
      );
      assert.equal((await get<InvoiceDoc>(books.store, inv._id)).state, 'paid');
      assert.deepEqual(res.matched[0].exchange_difference, {
        account: '4900',
        amount: 2000,
        currency: 'EUR',
      });
      const tb = await trialBalance(books.store, { company_currency: 'EUR' });
      const row = (code: string) => tb.rows.find((r) => r.code === code && r.currency === 'USD');
      // Receivable and suspense are cleared in both currencies; the gain is EUR money only.
      assert.deepEqual([row('1200')?.balance, row('1200')?.company_balance], [0, 0]);
      assert.deepEqual([row('1098')?.balance, row('1098')?.company_balance], [0, 0]);
      assert.deepEqual([row('4900')?.balance, row('4900')?.company_balance], [0, -2000]);
      assert.equal(tb.balanced, true);
      assert.equal(tb.company_total?.balance, 0);
      // `booksync report` shows both: the account in USD and the same money in EUR.
      const table = trialBalanceTable(tb);
      assert.deepEqual(table[0].slice(3), [
        'debit',
        'credit',
        'balance',
        'EUR debit',
        'EUR credit',
        'EUR balance',
      ]);
      assert.deepEqual(table.find((r) => r[0] === '4900' && r[2] === 'USD')?.slice(3), [
        '0.00 USD',
        '0.00 USD',
        '0.00 USD',
        '0.00 EUR',
        '20.00 EUR',
        '-20.00 EUR',
      ]);
      const total = table[table.length - 1];
      assert.deepEqual([total[0], total[total.length - 1]], ['total EUR', '0.00 EUR']);
    });

    it('given a USD bill paid when the dollar is dearer, then the loss goes to fx_loss; undo reverses it', async () => {
      await setUp(invoice('in_invoice', 'BILL/USD/1', 5000));
      const line = await books.store.put(usdLine(-5000, '2024-02-01', { memo: 'BILL/USD/1' }));
      await postStatementLines(books.store, 'all', USD, OPTS);
      const res = await reconcile(books.store, RULES, { ...OPTS, logger: books.logger });
      const pay = await get<MoveDoc>(books.store, res.matched[0].move);
      // Booked at 40.00 EUR, paid 50.00 EUR: a loss of 10.00, which the log line names.
      assert.match(
        books.entries.find((e) => e.event === 'ledger.reconcile')?.msg ?? '',
        /pays 50\.00 USD of invoice:BILL\/USD\/1 .*, exchange loss 10\.00 EUR to 6900$/,
      );
      assert.deepEqual(
        pay.lines.map((l) => [l.account, l.company?.debit, l.company?.credit]),
        [
          ['1098', 0, 5000],
          ['2000', 4000, 0],
          ['6900', 1000, 0],
        ],
      );
      const undo = await undoReconciliation(books.store, line._id, OPTS);
      const reversal = await get<MoveDoc>(books.store, undo.undone[0].reversal!);
      assert.deepEqual(balanceProblems(reversal), []);
      assert.deepEqual(reversal.lines[2].company, { currency: 'EUR', debit: 0, credit: 1000 });
      const tb = await trialBalance(books.store, { company_currency: 'EUR' });
      assert.equal(tb.rows.find((r) => r.code === '6900')?.company_balance, 0);
    });

    it('given a USD invoice paid in two halves whose EUR shares tie, when the first is undone and paid again, then the receivable is 0 in EUR too', async () => {
      // 100.00 USD at 1 EUR = 1.2498 USD is 80.01 EUR: each half is 40.005 EUR, rounded to 40.01
      // as the first share and 40.00 as the second; undoing the first and paying it again last
      // must not clear 40.01 + 40.01.
      const inv = invoice('out_invoice', 'INV/USD/3', 10_000);
      await books.store.putMany([
        rate('EUR', 'USD', '2024-01-10', '1.2498'),
        rate('EUR', 'USD', '2024-02-01', '1.0000'),
        rate('EUR', 'USD', '2024-02-02', '1.0000'),
      ]);
      await usdBooks(books, { invoices: [inv] });
      assert.equal((await get<InvoiceDoc>(books.store, inv._id)).company?.total, 8001);
      const first = usdLine(5_000, '2024-02-01', { memo: 'INV/USD/3' });
      const second = usdLine(5_000, '2024-02-02', { memo: 'INV/USD/3' });
      await books.store.putMany([first, second]);
      await postStatementLines(books.store, 'all', USD, OPTS);
      await reconcile(books.store, RULES, OPTS);
      await undoReconciliation(books.store, first._id, OPTS);
      const again = await reconcile(books.store, RULES, OPTS);
      assert.deepEqual(
        again.matched.map((m) => [m.line, m.invoice_state]),
        [[first._id, 'paid']],
      );
      const tb = await trialBalance(books.store, { company_currency: 'EUR' });
      const receivable = tb.rows.find((r) => r.code === '1200' && r.currency === 'USD');
      assert.deepEqual([receivable?.balance, receivable?.company_balance], [0, 0]);
      assert.equal(tb.company_total?.balance, 0);
    });

    it('given a foreign invoice without its rate, then it waits and is created once the rate arrives', async () => {
      const demo = loadCompanyFile(demoCompanyFile());
      const data = { ...demo, invoices: [invoice('out_invoice', 'INV/USD/2', 10000)] };
      const first = await ensureCompany(books.store, data);
      assert.deepEqual(
        first.waiting?.map((w) => [w.id, w.code]),
        [['invoice:INV/USD/2', 'LEDGER_RATE_MISSING']],
      );
      assert.equal(await books.store.get('invoice:INV/USD/2'), undefined);
      await books.store.put(rate('EUR', 'USD', '2024-01-10', '1.2500'));
      const second = await ensureCompany(books.store, data);
      assert.ok(second.created.includes('invoice:INV/USD/2'));
      const move = await get<MoveDoc>(books.store, 'move:SAL:invoice:INV/USD/2');
      assert.deepEqual(balanceProblems(move), []);
    });
  });

  describe('the balance check per currency and in company currency', () => {
    const move = (lines: MoveDoc['lines']): MoveDoc => ({
      _id: 'move:MISC:fx1',
      type: 'move',
      journal: 'MISC',
      date: '2024-02-01',
      state: 'posted',
      lines,
    });
    const usd = (account: string, debit: number, credit: number, cd: number, cc: number) => ({
      account,
      debit,
      credit,
      currency: 'USD',
      company: { currency: 'EUR', debit: cd, credit: cc },
    });

    it('refuses a move balanced in USD but not in EUR, naming the company currency', async () => {
      const err = await books.store
        .put(move([usd('1020', 100, 0, 90, 0), usd('1098', 0, 100, 0, 91)]))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof LedgerError);
      assert.equal(err.problems[0].rule, 'company_balance');
      assert.match(err.message, /company currency EUR: debit 0\.90 ≠ credit 0\.91/);
    });

    it('refuses a move balanced in EUR but not in USD', async () => {
      const err = await books.store
        .put(move([usd('1020', 100, 0, 90, 0), usd('1098', 0, 101, 0, 90)]))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof LedgerError);
      assert.equal(err.problems[0].rule, 'balance');
    });

    it('refuses a foreign line without a company amount beside lines that have one', async () => {
      const err = await books.store
        .put(
          move([
            usd('1020', 100, 0, 90, 0),
            { account: '1098', debit: 0, credit: 100, currency: 'USD' },
          ]),
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof LedgerError);
      assert.equal(err.problems[0].rule, 'company_missing');
    });
  });
});

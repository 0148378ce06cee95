import { strict as assert } from 'node:assert';
import {
  LedgerError,
  type InvoiceDoc,
  type MoveDoc,
  type PaymentDoc,
  type StatementLineDoc,
} from '../../src/ledger';
import { balanceProblems } from '../../src/ledger/invariants';
import {
  AutomationError,
  demoCompanyFile,
  ensureCompany,
  ledgerReport,
  loadCompanyFile,
  parseCompany,
  pendingLines,
  reconcile,
  reconcileLine,
  suggestionsFor,
  trialBalance,
  undoReconciliation,
  type AutomationPaymentDoc,
  type ReconcileOptions,
} from '../../src/ledger/automation';
import {
  MAPPING,
  RULES,
  balanceOf,
  clock,
  get,
  openBooks,
  snapshot,
  postAndReconcile,
  stl,
  type Books,
} from './ledger-auto-helpers';

/**
 * Credit notes and refunds (README, "Refunds and credit notes"): a credit note lowers the invoice
 * it credits; money out pays a customer credit note, money in a vendor credit note; an outgoing
 * line sends back what an incoming line overpaid.
 */

const INV3 = 'invoice:INV/2024/0003'; // Initech BV 250.00, dated 2024-01-15, due 2024-02-14
const BILL1 = 'invoice:BILL/2024/0001'; // Papeterie Dupont 145.20, due 2024-02-07
const INITECH_IBAN = 'NL91ABNA0417164300';
const DUPONT_IBAN = 'FR1420041010050500013M02606';

function creditNote(
  number: string,
  fields: Partial<InvoiceDoc> & Pick<InvoiceDoc, 'kind' | 'partner' | 'total'>,
): InvoiceDoc {
  return {
    _id: `invoice:${number}`,
    type: 'invoice',
    number,
    date: '2024-02-01',
    due_date: '2024-02-01',
    currency: 'EUR',
    residual: fields.total,
    state: 'open',
    ...fields,
  };
}

const customerNote = (total: number, credits?: string) =>
  creditNote('RINV/2024/0001', {
    kind: 'out_refund',
    partner: 'partner:initech',
    total,
    ...(credits ? { credits } : {}),
  });

describe('ledger automation: credit notes and refunds', () => {
  let books: Books;
  let opts: ReconcileOptions;
  const demo = loadCompanyFile(demoCompanyFile());
  // The demo's own credit notes are left out: each test names its own.
  const demoInvoices = demo.invoices.filter(
    (i) => i.kind === 'out_invoice' || i.kind === 'in_invoice',
  );

  beforeEach(async () => {
    books = await openBooks();
    opts = { connections: [MAPPING], logger: books.logger, clock };
  });
  afterEach(async () => {
    await books.close();
  });

  const load = (...extra: InvoiceDoc[]) =>
    ensureCompany(
      books.store,
      { ...demo, invoices: [...demoInvoices, ...extra] },
      { logger: books.logger },
    );
  const invoice = (id: string) => get<InvoiceDoc>(books.store, id);
  const state = async (id: string) => {
    const i = await invoice(id);
    return [i.residual, i.state];
  };

  const importAndReconcile = (...lines: StatementLineDoc[]) =>
    postAndReconcile(books.store, lines, RULES, opts);
  const refused = (p: Promise<unknown>, message: RegExp) =>
    assert.rejects(
      p,
      (err: unknown) =>
        err instanceof AutomationError &&
        err.code === 'LEDGER_RECONCILE_REFUSED' &&
        message.test(err.message),
    );

  /** Debit − credit of `account` with `partner` over the posted moves. */
  async function partnerBalance(account: string, partner: string): Promise<number> {
    let total = 0;
    for (const m of await books.store.allOfType<MoveDoc>('move'))
      if (m.state === 'posted')
        for (const l of m.lines)
          if (l.account === account && l.partner === partner) total += l.debit - l.credit;
    return total;
  }

  /** What a partner's open documents say it owes (+) or is owed (−) on receivable / payable. */
  async function openResiduals(partner: string, customer: boolean): Promise<number> {
    let total = 0;
    for (const i of await books.store.allOfType<InvoiceDoc>('invoice')) {
      if (i.partner !== partner) continue;
      if (customer && i.kind === 'out_invoice') total += i.residual;
      if (customer && i.kind === 'out_refund') total -= i.residual;
      if (!customer && i.kind === 'in_invoice') total -= i.residual;
      if (!customer && i.kind === 'in_refund') total += i.residual;
    }
    return total;
  }

  async function assertBooksAgree(): Promise<void> {
    for (const m of await books.store.allOfType<MoveDoc>('move'))
      assert.deepEqual(balanceProblems(m), [], m._id);
    assert.equal((await trialBalance(books.store, {})).balanced, true);
    for (const p of ['partner:initech', 'partner:acme', 'partner:globex'])
      assert.equal(await partnerBalance('1200', p), await openResiduals(p, true), p);
    for (const p of ['partner:dupont', 'partner:cloudhost'])
      assert.equal(await partnerBalance('2000', p), await openResiduals(p, false), p);
  }

  describe('the company file', () => {
    const head =
      'company: { name: X, currency: EUR }\nroles: { receivable: "1200", payable: "2000", opening_balance: "3000", income: "4000", expense: "6000", sale_journal: SAL, purchase_journal: PUR }\naccounts: [{ code: "1200", name: R, kind: asset }, { code: "2000", name: P, kind: liability }, { code: "3000", name: E, kind: equity }, { code: "4000", name: S, kind: income }, { code: "6000", name: X, kind: expense }]\njournals: [{ code: SAL, name: S, kind: sale, default_account: "4000" }, { code: PUR, name: P, kind: purchase, default_account: "6000" }]\npartners: [{ id: a, name: A }, { id: b, name: B }]\ninvoices:\n  - { number: INV/1, kind: out_invoice, partner: a, date: 2024-01-01, due_date: 2024-01-31, total: "100.00" }\n  - { number: BILL/1, kind: in_invoice, partner: a, date: 2024-01-01, due_date: 2024-01-31, total: "40.00" }\n';

    it('given out_refund and in_refund entries naming their invoices, then they are read with the invoice they credit', () => {
      const data = parseCompany(
        `${head}  - { number: RINV/1, kind: out_refund, partner: a, date: 2024-01-05, due_date: 2024-01-05, total: "30.00", credits: INV/1 }\n  - { number: RBILL/1, kind: in_refund, partner: a, date: 2024-01-05, due_date: 2024-01-05, total: "5.00", credits: "invoice:BILL/1" }\n`,
        'c.yaml',
      );
      assert.deepEqual(
        data.invoices.slice(2).map((i) => [i._id, i.kind, i.total, i.credits]),
        [
          ['invoice:RINV/1', 'out_refund', 3000, 'invoice:INV/1'],
          ['invoice:RBILL/1', 'in_refund', 500, 'invoice:BILL/1'],
        ],
      );
    });

    for (const [what, entry, pattern] of [
      [
        'a customer credit note crediting a bill',
        '{ number: R/1, kind: out_refund, partner: a, date: 2024-01-05, due_date: 2024-01-05, total: "1.00", credits: BILL/1 }',
        /^c\.yaml:9:\d+: invoices\[2\]\.credits names invoice:BILL\/1, a in_invoice; a out_refund credits a out_invoice/,
      ],
      [
        'a credit note of another partner',
        '{ number: R/1, kind: out_refund, partner: b, date: 2024-01-05, due_date: 2024-01-05, total: "1.00", credits: INV/1 }',
        /^c\.yaml:9:\d+: invoices\[2\]\.credits names invoice:INV\/1 of partner:a, not of partner:b/,
      ],
      [
        'an invoice the file does not define',
        '{ number: R/1, kind: out_refund, partner: a, date: 2024-01-05, due_date: 2024-01-05, total: "1.00", credits: INV/9 }',
        /^c\.yaml:9:\d+: invoices\[2\]\.credits names invoice:INV\/9, which the file does not define/,
      ],
      [
        'credits on an invoice',
        '{ number: I/2, kind: out_invoice, partner: a, date: 2024-01-05, due_date: 2024-01-05, total: "1.00", credits: INV/1 }',
        /^c\.yaml:9:\d+: invoices\[2\]\.credits is only for a credit note/,
      ],
    ] as const) {
      it(`given ${what}, then the file is refused naming file:line:col and the field`, () => {
        assert.throws(
          () => parseCompany(`${head}  - ${entry}\n`, 'c.yaml'),
          (err: unknown) =>
            err instanceof AutomationError &&
            err.code === 'LEDGER_CHART_INVALID' &&
            pattern.test(err.message),
        );
      });
    }

    it('given an invoice document with credits, then the books refuse it', async () => {
      await assert.rejects(
        books.store.put({
          ...creditNote('X/1', { kind: 'out_invoice', partner: 'partner:a', total: 100 }),
          credits: INV3,
        }),
        (err: unknown) =>
          err instanceof LedgerError && err.problems.some((p) => p.rule === 'credits_on_invoice'),
      );
    });
  });

  describe('a credit note reduces its invoice', () => {
    it('given a 100.00 credit note on the 250.00 invoice, when loaded, then the invoice owes 150.00 and the credit note is used up, with an audit record and a log line', async () => {
      const res = await load(customerNote(10_000, INV3));
      assert.deepEqual(await state(INV3), [15_000, 'partial']);
      assert.deepEqual(await state('invoice:RINV/2024/0001'), [0, 'paid']);
      // The credit note's move is the mirror of an invoice: income against receivable.
      const move = await get<MoveDoc>(books.store, 'move:SAL:invoice:RINV/2024/0001');
      assert.deepEqual(
        move.lines.map((l) => [l.account, l.partner, l.debit, l.credit]),
        [
          ['4000', undefined, 10_000, 0],
          ['1200', 'partner:initech', 0, 10_000],
        ],
      );
      const payments = (await books.store.allOfType<PaymentDoc>('payment')).map((p) => [
        p.invoice,
        p.applied_with,
        p.amount,
        p.move,
      ]);
      assert.deepEqual(payments.sort(), [
        [INV3, 'invoice:RINV/2024/0001', 10_000, move._id],
        ['invoice:RINV/2024/0001', INV3, 10_000, move._id],
      ]);
      assert.equal(res.created.filter((id) => id.startsWith('payment:')).length, 2);
      const logged = books.entries.find((e) => e.event === 'ledger.credit_note_applied');
      assert.deepEqual(
        [logged?.credit_note, logged?.invoice, logged?.amount, logged?.invoice_residual],
        ['invoice:RINV/2024/0001', INV3, 10_000, 15_000],
      );
      await assertBooksAgree();
      // Loading again changes nothing.
      const before = await snapshot(books.store);
      await load(customerNote(10_000, INV3));
      assert.deepEqual(await snapshot(books.store), before);
    });

    it('given a 300.00 credit note on the 250.00 invoice, when loaded, then the invoice is settled and 50.00 stays open as owed to the customer, which the report shows net', async () => {
      await load(customerNote(30_000, INV3));
      assert.deepEqual(await state(INV3), [0, 'paid']);
      assert.deepEqual(await state('invoice:RINV/2024/0001'), [5_000, 'partial']);
      const report = await ledgerReport(books.store, {});
      const item = report.open_items.items.find((i) => i.invoice === 'invoice:RINV/2024/0001');
      assert.deepEqual([item?.kind, item?.open, item?.credits], ['out_refund', -5_000, INV3]);
      // The demo's USD invoice waits for its rate (no rates here): it is not on the books.
      const openSales = demoInvoices
        .filter((i) => i.kind === 'out_invoice' && i._id !== INV3 && i.currency === 'EUR')
        .reduce((s, i) => s + i.total, 0);
      assert.equal(report.open_items.totals[0].receivable, openSales - 5_000);
      assert.equal(await balanceOf(books.store, '1200'), openSales - 5_000);
      await assertBooksAgree();
    });
  });

  describe('refunds through the bank', () => {
    it('given a paid invoice and then a credit note on it, when the customer refund goes out, then it pays the credit note: receivable against suspense', async () => {
      await load();
      const paid = stl({
        key: 'in',
        amount: 25_000,
        reference: 'INV/2024/0003',
        date: '2024-02-05',
      });
      await importAndReconcile(paid);
      assert.deepEqual(await state(INV3), [0, 'paid']);
      await load(customerNote(5_000, INV3));
      assert.deepEqual(await state('invoice:RINV/2024/0001'), [5_000, 'open']);
      assert.ok(books.entries.some((e) => e.event === 'ledger.credit_note_open'));

      const refund = stl({
        key: 'out',
        amount: -5_000,
        memo: 'Refund RINV/2024/0001',
        counterparty_iban: INITECH_IBAN,
        date: '2024-02-10',
      });
      const res = await importAndReconcile(refund);
      assert.deepEqual(
        res.matched.map((m) => [m.line, m.invoice, m.amount, m.invoice_state]),
        [[refund._id, 'invoice:RINV/2024/0001', 5_000, 'paid']],
      );
      const move = await get<MoveDoc>(books.store, res.matched[0].move);
      assert.deepEqual(
        move.lines.map((l) => [l.account, l.debit, l.credit, l.label]),
        [
          ['1099', 0, 5_000, 'Refund of RINV/2024/0001'],
          ['1200', 5_000, 0, 'Refund of RINV/2024/0001'],
        ],
      );
      assert.equal(await partnerBalance('1200', 'partner:initech'), 0);
      assert.equal(await balanceOf(books.store, '1099'), 0);
      assert.deepEqual(await pendingLines(books.store), []);
      await assertBooksAgree();
    });

    it('given a vendor credit note on a paid bill, when the supplier refund comes in, then it pays the credit note: suspense against payable', async () => {
      await load();
      await importAndReconcile(
        stl({ key: 'bill', amount: -14_520, memo: 'BILL/2024/0001', date: '2024-02-01' }),
      );
      await load(
        creditNote('RBILL/2024/0001', {
          kind: 'in_refund',
          partner: 'partner:dupont',
          total: 2_000,
          credits: BILL1,
        }),
      );
      const back = stl({
        key: 'back',
        amount: 2_000,
        counterparty_iban: DUPONT_IBAN,
        payee: 'Papeterie Dupont',
        date: '2024-02-08',
      });
      const res = await importAndReconcile(back);
      assert.deepEqual(
        res.matched.map((m) => [m.invoice, m.amount, m.rule]),
        [['invoice:RBILL/2024/0001', 2_000, 'amount_partner']],
      );
      const move = await get<MoveDoc>(books.store, res.matched[0].move);
      assert.deepEqual(
        move.lines.map((l) => [l.account, l.debit, l.credit]),
        [
          ['1099', 2_000, 0],
          ['2000', 0, 2_000],
        ],
      );
      assert.equal(await partnerBalance('2000', 'partner:dupont'), 0);
      await assertBooksAgree();
    });

    it('given an unmatched refund line, when reconciled by hand with the credit note, then it pays it; a sales invoice by hand is refused naming both kinds', async () => {
      await load(customerNote(30_000, INV3));
      const refund = stl({ key: 'hand', amount: -5_000, payee: 'someone', date: '2024-02-10' });
      await importAndReconcile(refund);
      // The open credit note is the refund line's first suggestion, by its exact amount.
      const suggested = await suggestionsFor(books.store, refund._id, { ...opts, rules: RULES });
      assert.deepEqual(
        suggested.candidates.slice(0, 1).map((c) => [c.target, c.amount]),
        [['invoice:RINV/2024/0001', 5_000]],
      );
      await refused(
        reconcileLine(books.store, refund._id, 'INV/2024/0004', opts),
        /money out pays a bill \(in_invoice\) or a customer credit note \(out_refund\), not a sales invoice \(out_invoice\)/,
      );
      const incoming = stl({ key: 'inc', amount: 5_000, payee: 'someone', date: '2024-02-10' });
      await importAndReconcile(incoming);
      await refused(
        reconcileLine(books.store, incoming._id, 'RINV/2024/0001', opts),
        /money in pays a sales invoice \(out_invoice\) or a vendor credit note \(in_refund\), not a customer credit note \(out_refund\)/,
      );
      const done = await reconcileLine(books.store, refund._id, 'RINV/2024/0001', opts);
      assert.deepEqual(
        [done.already, done.payment.amount, done.payment.invoice_state, done.open],
        [false, 5_000, 'paid', 0],
      );
      assert.deepEqual(await state('invoice:RINV/2024/0001'), [0, 'paid']);
      await assertBooksAgree();
    });

    it('given a reconciled customer refund, when undone and reconciled again, then the credit note is open again in between and the books agree at each step', async () => {
      await load(customerNote(30_000, INV3));
      const refund = stl({
        key: 'undo',
        amount: -5_000,
        counterparty_iban: INITECH_IBAN,
        date: '2024-02-10',
      });
      await importAndReconcile(refund);
      assert.deepEqual(await state('invoice:RINV/2024/0001'), [0, 'paid']);
      const undo = await undoReconciliation(books.store, refund._id, opts);
      assert.deepEqual(
        undo.undone.map((u) => [u.invoice, u.amount]),
        [['invoice:RINV/2024/0001', 5_000]],
      );
      assert.deepEqual(await state('invoice:RINV/2024/0001'), [5_000, 'partial']);
      assert.equal((await get<StatementLineDoc>(books.store, refund._id)).state, 'posted');
      await assertBooksAgree();
      const again = await reconcile(books.store, RULES, opts);
      assert.equal(again.matched.length, 1);
      assert.match(again.matched[0].payment, /-2$/);
      assert.deepEqual(await state('invoice:RINV/2024/0001'), [0, 'paid']);
      await assertBooksAgree();
      const settled = await snapshot(books.store);
      await reconcile(books.store, RULES, opts);
      assert.deepEqual(await snapshot(books.store), settled);
    });
  });

  describe('refund of an overpayment', () => {
    const overpay = () =>
      stl({ key: 'over', amount: 30_000, reference: 'INV/2024/0003', date: '2024-02-05' });
    const giveBack = () =>
      stl({
        key: 'back',
        amount: -5_000,
        counterparty_iban: INITECH_IBAN,
        memo: 'refund of your overpayment',
        date: '2024-02-12',
      });

    it('given 300.00 paid on a 250.00 invoice, when 50.00 goes back to the same customer, then it clears the rest in suspense and nothing waits', async () => {
      await load();
      const over = overpay();
      await importAndReconcile(over);
      assert.deepEqual(
        (await pendingLines(books.store)).map((l) => [l.line, l.open]),
        [[over._id, 5_000]],
      );
      const back = giveBack();
      // The same amount to another partner is not a refund of this overpayment.
      const other = stl({ key: 'other', amount: -5_000, payee: 'ACME SA', date: '2024-02-12' });
      const res = await importAndReconcile(back, other);
      assert.deepEqual(
        res.matched.map((m) => [m.line, m.counterpart_line, m.invoice, m.amount, m.rule]),
        [[back._id, over._id, INV3, 5_000, 'overpayment_refund']],
      );
      assert.deepEqual(res.unmatched, [other._id]);
      assert.deepEqual(
        (await pendingLines(books.store)).map((l) => l.line),
        [other._id],
      );
      assert.equal(await balanceOf(books.store, '1099'), 5_000);
      assert.equal((await get<StatementLineDoc>(books.store, back._id)).state, 'reconciled');
      const move = await get<MoveDoc>(books.store, res.matched[0].move);
      assert.deepEqual(
        move.lines.map((l) => [l.account, l.partner, l.debit, l.credit]),
        [
          ['1099', 'partner:initech', 5_000, 0],
          ['1099', 'partner:initech', 0, 5_000],
        ],
      );
      const halves = (await books.store.allOfType<AutomationPaymentDoc>('payment'))
        .filter((p) => p.counterpart_line)
        .map((p) => [p.statement_line, p.counterpart_line, p.amount, p.overpaid_invoice]);
      assert.deepEqual(
        halves.sort(),
        [
          [back._id, over._id, 5_000, INV3],
          [over._id, back._id, 5_000, INV3],
        ].sort(),
      );
      assert.deepEqual(await state(INV3), [0, 'paid']);
      const logged = books.entries.find((e) => e.event === 'ledger.refund');
      assert.deepEqual([logged?.line, logged?.counterpart_line], [back._id, over._id]);
      await assertBooksAgree();
    });

    it('given a refund of an overpayment, when undone, then both lines hold their money in suspense again; the next run books it again; by hand with the incoming line works too', async () => {
      await load();
      const over = overpay();
      const back = giveBack();
      await importAndReconcile(over, back);
      const undo = await undoReconciliation(books.store, back._id, opts);
      assert.deepEqual(
        undo.undone.map((u) => u.counterpart_line),
        [over._id],
      );
      assert.deepEqual(
        (await pendingLines(books.store)).map((l) => [l.line, l.open]).sort(),
        [
          [back._id, 5_000],
          [over._id, 5_000],
        ].sort(),
      );
      assert.equal((await get<StatementLineDoc>(books.store, back._id)).state, 'posted');
      assert.deepEqual(await state(INV3), [0, 'paid']);
      await assertBooksAgree();

      // By hand, naming the incoming line.
      const hand = await reconcileLine(books.store, back._id, over._id, opts);
      assert.deepEqual(
        [hand.already, hand.payment.counterpart_line, hand.open],
        [false, over._id, 0],
      );
      assert.deepEqual(await pendingLines(books.store), []);
      assert.equal((await reconcileLine(books.store, back._id, over._id, opts)).already, true);
      await assertBooksAgree();

      // Undoing the incoming line voids the refund's halves too; the run books both again.
      await undoReconciliation(books.store, over._id, opts);
      assert.equal((await get<StatementLineDoc>(books.store, back._id)).state, 'posted');
      assert.deepEqual(await state(INV3), [25_000, 'open']);
      await assertBooksAgree();
      const again = await reconcile(books.store, RULES, opts);
      assert.deepEqual(
        again.matched.map((m) => [m.line, m.rule]),
        [
          [over._id, 'reference'],
          [back._id, 'overpayment_refund'],
        ],
      );
      assert.deepEqual(await pendingLines(books.store), []);
      await assertBooksAgree();
    });
  });
});

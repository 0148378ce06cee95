import { strict as assert } from 'node:assert';
import type { BankConnectionDoc, InvoiceDoc, MoveDoc, StatementLineDoc } from '../../src/ledger';
import { balanceProblems } from '../../src/ledger/invariants';
import {
  AutomationError,
  RULE_KINDS,
  automateConnection,
  lastBalanceChecks,
  checkBalance,
  compileRules,
  demoCompanyFile,
  ensureCompany,
  ledgerReport,
  loadCompanyFile,
  openingBalance,
  pendingLines,
  postStatementLines,
  reconcile,
  reconcileLine,
  trialBalance,
  undoReconciliation,
  unreconciledLines,
  type AutomationPaymentDoc,
  type ReconcileOptions,
} from '../../src/ledger/automation';
import { RECONCILE_RULE_KINDS } from '../../src/config/constants';
import {
  MAPPING,
  RULES,
  balanceOf,
  clock,
  get,
  openBooks,
  snapshot,
  stl,
  withoutCreditNotes,
  type Books,
} from './ledger-auto-helpers';

const INV1 = 'invoice:INV/2024/0001'; // ACME 1210.00, RF18 5390 0754 7034
const INV2 = 'invoice:INV/2024/0002'; // Globex 500.00, +++090/0000/01262+++
const INV3 = 'invoice:INV/2024/0003'; // Initech 250.00
const INV4 = 'invoice:INV/2024/0004'; // ACME 99.99
const INV5 = 'invoice:INV/2024/0005'; // Globex 800.00, due 2024-02-21
const BILL1 = 'invoice:BILL/2024/0001'; // Papeterie Dupont 145.20
const BILL2 = 'invoice:BILL/2024/0002'; // CloudHost 60.00, RF64 2024 0104, due 2024-01-31

describe('ledger automation: reconciliation of bank lines with invoices and bills', () => {
  let books: Books;
  const demo = withoutCreditNotes(loadCompanyFile(demoCompanyFile()));
  let opts: ReconcileOptions;

  beforeEach(async () => {
    books = await openBooks();
    await ensureCompany(books.store, demo);
    opts = { connections: [MAPPING], logger: books.logger, clock };
  });
  afterEach(async () => {
    await books.close();
  });

  /** Writes the lines, posts them and runs the rules; returns the reconcile result. */
  async function importAndReconcile(
    lines: StatementLineDoc[],
    rules = RULES,
    more: Partial<ReconcileOptions> = {},
  ) {
    await books.store.putMany(lines);
    await postStatementLines(
      books.store,
      lines.map((l) => l._id),
      MAPPING,
      { ...opts, ...more },
    );
    return reconcile(books.store, rules, { ...opts, ...more });
  }

  const invoice = (id: string) => get<InvoiceDoc>(books.store, id);
  const line = (id: string) => get<StatementLineDoc>(books.store, id);

  async function assertBooksBalance(): Promise<void> {
    for (const m of await books.store.allOfType<MoveDoc>('move'))
      assert.deepEqual(balanceProblems(m), [], m._id);
    const tb = await trialBalance(books.store, { include_draft: true });
    assert.equal(tb.balanced, true);
  }

  describe('a demo statement exercising every rule kind', () => {
    const L1 = stl({
      key: 'L1',
      amount: 121_000,
      memo: 'Payment RF18 5390 0754 7034',
      counterparty_iban: 'BE71096123456769',
      date: '2024-02-01',
    });
    const L2 = stl({
      key: 'L2',
      amount: 50_000,
      reference: '090000001262',
      payee: 'GLOBEX',
      date: '2024-02-02',
    });
    const L3 = stl({
      key: 'L3',
      amount: 25_000,
      memo: 'invoice inv-2024-0003',
      payee: 'Initech',
      date: '2024-02-03',
    });
    const L4 = stl({
      key: 'L4',
      amount: 9_999,
      memo: 'thanks',
      counterparty_iban: 'BE71 0961 2345 6769',
      date: '2024-02-04',
    });
    const L5 = stl({
      key: 'L5',
      amount: -14_520,
      counterparty_name: 'PAPETERIE DUPONT',
      memo: 'supplies',
      date: '2024-02-05',
    });
    const L6 = stl({ key: 'L6', amount: 79_960, payee: 'Unknown payer', date: '2024-02-20' });
    const L7 = stl({
      key: 'L7',
      amount: -6_000,
      memo: 'RF65 2024 0104',
      payee: 'Some Store',
      date: '2024-03-10',
    });
    const lines = [L1, L2, L3, L4, L5, L6, L7];

    it('matches by RF reference, Belgian reference, invoice number, partner IBAN, partner name and amount window', async () => {
      const res = await importAndReconcile(lines);
      const byLine = Object.fromEntries(res.matched.map((m) => [m.line, m]));
      assert.deepEqual(
        lines.slice(0, 6).map((l) => [byLine[l._id]?.invoice, byLine[l._id]?.rule]),
        [
          [INV1, 'reference'],
          [INV2, 'reference'],
          [INV3, 'reference'],
          [INV4, 'amount_partner'],
          [BILL1, 'amount_partner'],
          [INV5, 'amount_window(tolerance 0.50, days 5)'],
        ],
      );
      assert.deepEqual(res.unmatched, [L7._id]);
      for (const id of [INV1, INV2, INV3, INV4, BILL1])
        assert.deepEqual(
          [(await invoice(id)).state, (await invoice(id)).residual],
          ['paid', 0],
          id,
        );
      // Within tolerance but short: the rest stays open (no write-off is invented).
      assert.deepEqual(
        [(await invoice(INV5)).state, (await invoice(INV5)).residual],
        ['partial', 40],
      );
      for (const l of lines.slice(0, 6)) assert.equal((await line(l._id)).state, 'reconciled');
      assert.ok(books.entries.some((e) => e.event === 'ledger.reconcile' && e.invoice === INV1));
      await assertBooksBalance();
    });

    it('books each payment as suspense against receivable or payable with the partner', async () => {
      const res = await importAndReconcile(lines);
      const p1 = res.matched.find((m) => m.invoice === INV1)!;
      const move = await get<MoveDoc>(books.store, p1.move);
      assert.equal(move.journal, 'BNK1');
      assert.deepEqual(
        move.lines.map((l) => [l.account, l.debit, l.credit, l.partner]),
        [
          ['1099', 121_000, 0, 'partner:acme'],
          ['1200', 0, 121_000, 'partner:acme'],
        ],
      );
      const pb = res.matched.find((m) => m.invoice === BILL1)!;
      const billMove = await get<MoveDoc>(books.store, pb.move);
      assert.deepEqual(
        billMove.lines.map((l) => [l.account, l.debit, l.credit, l.partner]),
        [
          ['1099', 0, 14_520, 'partner:dupont'],
          ['2000', 14_520, 0, 'partner:dupont'],
        ],
      );
      const payment = await get<AutomationPaymentDoc>(books.store, p1.payment);
      assert.deepEqual(
        [
          payment.invoice,
          payment.statement_line,
          payment.move,
          payment.amount,
          payment.currency,
          payment.state,
        ],
        [INV1, L1._id, p1.move, 121_000, 'EUR', 'posted'],
      );
      // Suspense holds only what is unmatched: the L7 line (-60.00).
      assert.equal(await balanceOf(books.store, '1099'), 6_000);
    });

    it('does not match a reference whose check digit is wrong; the line stays in suspense and is listed', async () => {
      await importAndReconcile(lines);
      assert.deepEqual(
        [(await invoice(BILL2)).state, (await invoice(BILL2)).residual],
        ['open', 6_000],
      );
      assert.equal((await line(L7._id)).state, 'posted');
      const pending = await pendingLines(books.store);
      assert.deepEqual(
        pending.map((p) => [p.line, p.open, p.state]),
        [[L7._id, 6_000, 'posted']],
      );
      // The same payment with the right check digits is matched.
      const fixed = stl({ key: 'L7b', amount: -6_000, memo: 'RF64 2024 0104', date: '2024-03-10' });
      const res = await importAndReconcile([fixed]);
      assert.deepEqual(
        res.matched.map((m) => [m.invoice, m.rule]),
        [[BILL2, 'reference']],
      );
    });

    it('running reconcile (and posting) again changes nothing', async () => {
      await importAndReconcile(lines);
      const before = await snapshot(books.store);
      const again = await reconcile(books.store, RULES, opts);
      assert.deepEqual(again.matched, []);
      await postStatementLines(books.store, 'all', MAPPING, opts);
      await reconcile(books.store, RULES, opts);
      assert.deepEqual(await snapshot(books.store), before);
    });

    it('the trial balance balances, and receivable/payable equal the open residuals', async () => {
      await importAndReconcile(lines);
      const tb = await trialBalance(books.store);
      assert.equal(tb.balanced, true);
      assert.deepEqual(
        tb.totals.map((t) => [t.currency, t.balance]),
        [['EUR', 0]],
      );
      const row = (code: string) => tb.rows.find((r) => r.code === code)!;
      const invoices = await books.store.allOfType<InvoiceDoc>('invoice');
      const open = (kind: string) =>
        invoices.filter((i) => i.kind === kind).reduce((s, i) => s + i.residual, 0);
      assert.equal(row('1200').balance, open('out_invoice'));
      assert.equal(row('2000').balance, -open('in_invoice'));
      assert.equal(
        row('1010').balance,
        lines.reduce((s, l) => s + l.amount, 0),
      );
      assert.deepEqual(
        [row('1010').name, row('1010').kind, row('1010').currency],
        ['Bank', 'asset', 'EUR'],
      );
      assert.deepEqual(
        tb.rows.map((r) => r.code),
        [...tb.rows.map((r) => r.code)].sort(),
      );
    });
  });

  describe('partial payments and overpayments', () => {
    it('a partial payment leaves the residual open; a second payment settles it', async () => {
      const first = stl({
        key: 'p1',
        amount: 60_000,
        memo: 'INV/2024/0001 part 1',
        date: '2024-02-01',
      });
      await importAndReconcile([first]);
      assert.deepEqual(
        [(await invoice(INV1)).state, (await invoice(INV1)).residual],
        ['partial', 61_000],
      );
      assert.equal((await line(first._id)).state, 'reconciled');
      const second = stl({
        key: 'p2',
        amount: 61_000,
        memo: 'RF18 5390 0754 7034',
        date: '2024-02-10',
      });
      await importAndReconcile([second]);
      assert.deepEqual([(await invoice(INV1)).state, (await invoice(INV1)).residual], ['paid', 0]);
      assert.equal(await balanceOf(books.store, '1099'), 0);
    });

    it('an overpayment pays the invoice and leaves the rest in suspense, which can then be matched by hand', async () => {
      const over = stl({
        key: 'over',
        amount: 130_000,
        memo: 'RF18 5390 0754 7034',
        date: '2024-02-01',
      });
      const res = await importAndReconcile([over]);
      assert.deepEqual(
        res.matched.map((m) => [m.invoice, m.amount]),
        [[INV1, 121_000]],
      );
      assert.equal((await invoice(INV1)).state, 'paid');
      assert.equal(await balanceOf(books.store, '1099'), -9_000);
      assert.deepEqual(
        (await pendingLines(books.store)).map((p) => [p.line, p.open, p.state]),
        [[over._id, 9_000, 'reconciled']],
      );
      assert.deepEqual(
        (await unreconciledLines(books.store)).map((u) => [u.line, u.status]),
        [[over._id, 'partly_matched']],
      );

      const manual = await reconcileLine(books.store, over._id, 'INV/2024/0004', opts);
      assert.equal(manual.already, false);
      assert.equal(manual.payment.amount, 9_000);
      assert.equal(manual.open, 0);
      assert.deepEqual(
        [(await invoice(INV4)).state, (await invoice(INV4)).residual],
        ['partial', 999],
      );
      assert.deepEqual(await pendingLines(books.store), []);
      assert.equal(await balanceOf(books.store, '1099'), 0);
    });

    it("two lines of one run paying the same invoice: the second sees the first one's residual", async () => {
      const a = stl({
        key: 'r1',
        amount: 60_500,
        memo: 'INV/2024/0002 and INV/2024/0003',
        date: '2024-02-10',
      });
      const b = stl({
        key: 'r2',
        amount: 14_500,
        memo: 'INV/2024/0002 and INV/2024/0003',
        date: '2024-02-11',
      });
      const res = await importAndReconcile([a, b]);
      assert.deepEqual(
        res.matched.map((m) => [m.line, m.invoice, m.amount]),
        [
          [a._id, INV2, 50_000],
          [a._id, INV3, 10_500],
          [b._id, INV3, 14_500],
        ],
      );
      assert.deepEqual([(await invoice(INV3)).state, (await invoice(INV3)).residual], ['paid', 0]);
    });

    it("an earlier line matching only the rest a later line's partial payment leaves is paid in the same run; a second run changes nothing", async () => {
      // The first line (no reference) is tried while BILL2 still owes 60.00 and matches nothing;
      // the second pays 30.00 by its reference, and only then does the first one fit the rest.
      const first = stl({ key: 'cloud-a', amount: -3_000, date: '2024-01-25' });
      const second = stl({
        key: 'cloud-b',
        amount: -3_000,
        memo: 'RF64 2024 0104',
        date: '2024-01-26',
      });
      const stray = stl({ key: 'stray', amount: 60_500, date: '2024-01-27' });
      const res = await importAndReconcile([first, second, stray]);
      assert.deepEqual(
        res.matched.map((m) => [m.line, m.invoice, m.amount, m.residual]),
        [
          [second._id, BILL2, 3_000, 3_000],
          [first._id, BILL2, 3_000, 0],
        ],
      );
      assert.deepEqual(res.unmatched, [stray._id]);
      assert.deepEqual(
        [(await invoice(BILL2)).state, (await invoice(BILL2)).residual],
        ['paid', 0],
      );
      assert.equal(await balanceOf(books.store, '1099'), -60_500);

      const settled = await snapshot(books.store);
      const again = await reconcile(books.store, RULES, opts);
      assert.deepEqual(again.matched, []);
      assert.deepEqual(again.unmatched, [stray._id]);
      assert.deepEqual(await snapshot(books.store), settled);
    });

    it('money for several invoices named in one memo is allocated oldest due first', async () => {
      const both = stl({
        key: 'both',
        amount: 75_000,
        memo: 'INV/2024/0002 + INV/2024/0003',
        date: '2024-02-10',
      });
      const res = await importAndReconcile([both]);
      assert.deepEqual(
        res.matched.map((m) => [m.invoice, m.amount]),
        [
          [INV2, 50_000],
          [INV3, 25_000],
        ],
      );
      assert.equal((await invoice(INV2)).state, 'paid');
      assert.equal((await invoice(INV3)).state, 'paid');
    });
  });

  describe('rules', () => {
    it('are tried in order: the first that matches wins', async () => {
      const l = stl({
        key: 'ord',
        amount: 9_999,
        memo: 'INV/2024/0003',
        counterparty_iban: 'BE71096123456769',
        date: '2024-02-04',
      });
      await books.store.put(l);
      await postStatementLines(books.store, [l._id], MAPPING, opts);
      const res = await reconcile(
        books.store,
        [{ kind: 'amount_partner' }, { kind: 'reference' }],
        opts,
      );
      assert.deepEqual(
        res.matched.map((m) => [m.invoice, m.rule]),
        [[INV4, 'amount_partner']],
      );
    });

    it('a reference never pays a bill with incoming money', async () => {
      const l = stl({ key: 'dir', amount: 6_000, memo: 'RF64 2024 0104', date: '2024-01-31' });
      const res = await importAndReconcile([l], [{ kind: 'reference' }]);
      assert.deepEqual(res.matched, []);
      assert.equal((await invoice(BILL2)).state, 'open');
    });

    it('amount_window does not match outside the date window, nor guess between equally close invoices', async () => {
      const late = stl({ key: 'late', amount: 80_000, date: '2024-03-15' });
      const res = await importAndReconcile(
        [late],
        [{ kind: 'amount_window', tolerance: '0.50', days: 5 }],
      );
      assert.deepEqual(res.unmatched, [late._id]);
      const rule = compileRules([{ kind: 'amount_window', tolerance: '1.00', days: 30 }])[0];
      const a = { ...(await invoice(INV3)), _id: 'invoice:A', number: 'A', partner: 'partner:x' };
      const b = { ...(await invoice(INV3)), _id: 'invoice:B', number: 'B', partner: 'partner:y' };
      assert.equal(
        rule.match({
          line: stl({ amount: 25_000, date: '2024-02-14' }),
          open: 25_000,
          candidates: [a, b],
          partners: new Map(),
        }),
        undefined,
      );
    });

    it('the registry holds exactly the kinds the config accepts; an unknown kind lists the known ones', async () => {
      assert.deepEqual(Object.keys(RULE_KINDS).sort(), [...RECONCILE_RULE_KINDS].sort());
      await assert.rejects(
        reconcile(books.store, [{ kind: 'reference' }, { kind: 'fuzzy' }], opts),
        (e: unknown) => {
          assert.ok(e instanceof AutomationError);
          assert.equal(e.code, 'LEDGER_RULE_UNKNOWN');
          assert.match(
            e.message,
            /rules\[1\].*'fuzzy'.*known: reference, amount_partner, amount_window/,
          );
          return true;
        },
      );
    });

    it('bad settings are refused naming the rule', () => {
      assert.throws(
        () => compileRules([{ kind: 'amount_window', tolerance: 0.5, days: 5 }]),
        (e: unknown) =>
          e instanceof AutomationError &&
          e.code === 'LEDGER_RULE_INVALID' &&
          /rules\[0\].*quoted/.test(e.message),
      );
      assert.throws(
        () => compileRules([{ kind: 'amount_window', days: -1 }]),
        (e: unknown) => e instanceof AutomationError && e.code === 'LEDGER_RULE_INVALID',
      );
      assert.throws(
        () => compileRules([{ kind: 'reference', tolerance: '1' }]),
        (e: unknown) => e instanceof AutomationError && /unknown setting/.test(e.message),
      );
    });
  });

  describe('by hand and undo', () => {
    it('reconcileLine is idempotent and refuses the wrong direction or an unknown document', async () => {
      const l = stl({ key: 'hand', amount: 25_000, memo: 'no reference', date: '2024-02-14' });
      await books.store.put(l);
      await postStatementLines(books.store, [l._id], MAPPING, opts);
      await assert.rejects(
        reconcileLine(books.store, l._id, BILL1, opts),
        (e: unknown) =>
          e instanceof AutomationError &&
          e.code === 'LEDGER_RECONCILE_REFUSED' &&
          /sales invoice/.test(e.message),
      );
      await assert.rejects(
        reconcileLine(books.store, l._id, 'invoice:NOPE', opts),
        (e: unknown) => e instanceof AutomationError && e.code === 'LEDGER_NOT_FOUND',
      );
      await assert.rejects(
        reconcileLine(books.store, 'stl:main:nope', INV3, opts),
        (e: unknown) => e instanceof AutomationError && e.code === 'LEDGER_NOT_FOUND',
      );
      const first = await reconcileLine(books.store, l._id, INV3, opts);
      assert.equal(first.already, false);
      const before = await snapshot(books.store);
      const again = await reconcileLine(books.store, l._id, INV3, opts);
      assert.equal(again.already, true);
      assert.equal(again.payment.payment, first.payment.payment);
      assert.deepEqual(await snapshot(books.store), before);
    });

    it('a line not yet posted cannot be reconciled by hand', async () => {
      const l = stl({ key: 'new', amount: 25_000 });
      await books.store.put(l);
      await assert.rejects(
        reconcileLine(books.store, l._id, INV3, opts),
        (e: unknown) =>
          e instanceof AutomationError &&
          e.code === 'LEDGER_RECONCILE_REFUSED' &&
          /post it first/.test(e.message),
      );
    });

    it('undo reverses the payment move, voids the payment, restores the invoice and puts the line back in suspense', async () => {
      const l = stl({ key: 'u', amount: 121_000, memo: 'RF18 5390 0754 7034', date: '2024-02-01' });
      const res = await importAndReconcile([l]);
      const made = res.matched[0];
      const undo = await undoReconciliation(books.store, l._id, opts);
      assert.equal(undo.undone.length, 1);
      const reversal = await get<MoveDoc>(books.store, undo.undone[0].reversal!);
      assert.equal(reversal.reverses, made.move);
      assert.equal(reversal.state, 'posted');
      assert.equal(reversal.date, '2024-03-01');
      // The original posted move is untouched.
      assert.deepEqual((await get<MoveDoc>(books.store, made.move)).lines[0].debit, 121_000);
      const payment = await get<AutomationPaymentDoc>(books.store, made.payment);
      assert.deepEqual([payment.state, payment.reversed_by], ['cancelled', reversal._id]);
      assert.deepEqual(
        [(await invoice(INV1)).state, (await invoice(INV1)).residual],
        ['open', 121_000],
      );
      assert.equal((await line(l._id)).state, 'posted');
      assert.equal(await balanceOf(books.store, '1099'), -121_000);
      assert.equal(
        await balanceOf(books.store, '1200'),
        (await books.store.allOfType<InvoiceDoc>('invoice'))
          .filter((i) => i.kind === 'out_invoice')
          .reduce((s, i) => s + i.residual, 0),
      );
      assert.deepEqual(
        (await pendingLines(books.store)).map((p) => p.line),
        [l._id],
      );

      // Undo again: nothing to do, nothing changes.
      const before = await snapshot(books.store);
      assert.deepEqual((await undoReconciliation(books.store, l._id, opts)).undone, []);
      assert.deepEqual(await snapshot(books.store), before);

      // Reconcile again: a new attempt with its own ids; the books still balance.
      const redo = await reconcile(books.store, RULES, opts);
      assert.equal(redo.matched.length, 1);
      assert.notEqual(redo.matched[0].payment, made.payment);
      assert.notEqual(redo.matched[0].move, made.move);
      assert.equal((await invoice(INV1)).state, 'paid');
      assert.equal(await balanceOf(books.store, '1099'), 0);
      await assertBooksBalance();
    });

    it('undo of a partial payment on a partially paid invoice restores the earlier residual', async () => {
      await importAndReconcile([
        stl({ key: 'a', amount: 20_000, memo: 'INV/2024/0005', date: '2024-02-10' }),
      ]);
      const b = stl({ key: 'b', amount: 30_000, memo: 'INV/2024/0005', date: '2024-02-11' });
      await importAndReconcile([b]);
      assert.equal((await invoice(INV5)).residual, 30_000);
      await undoReconciliation(books.store, b._id, opts);
      assert.deepEqual(
        [(await invoice(INV5)).state, (await invoice(INV5)).residual],
        ['partial', 60_000],
      );
    });

    it('with draft moves, undo deletes the draft payment move instead of reversing it', async () => {
      const l = stl({
        key: 'd',
        amount: 50_000,
        reference: '+++090/0000/01262+++',
        date: '2024-02-02',
      });
      const res = await importAndReconcile([l], RULES, { post_moves: 'draft' });
      const move = await get<MoveDoc>(books.store, res.matched[0].move);
      assert.equal(move.state, 'draft');
      const undo = await undoReconciliation(books.store, l._id, opts);
      assert.equal(undo.undone[0].removed_draft, move._id);
      assert.equal(await books.store.get(move._id), undefined);
      assert.equal((await invoice(INV2)).residual, 50_000);
      await assertBooksBalance();
    });
  });

  describe('balances and the report', () => {
    it('books the opening balance once, from the bank balance minus the fetched lines, and checks the balance', async () => {
      const lines = [
        stl({ key: 'o1', amount: 10_000, date: '2024-02-05' }),
        stl({ key: 'o2', amount: -2_500, date: '2024-02-06' }),
        stl({ key: 'o3', amount: 700, pending: true, date: '2024-02-07' }),
      ];
      await books.store.putMany(lines);
      await postStatementLines(books.store, 'all', MAPPING, opts);
      const bank = { amount: 1_007_500, currency: 'EUR', date: '2024-02-07' };
      const opening = await openingBalance(books.store, MAPPING, bank, opts);
      assert.deepEqual(
        [opening.created, opening.amount, opening.date],
        [true, 1_000_000, '2024-02-04'],
      );
      const move = await get<MoveDoc>(books.store, opening.move!);
      assert.deepEqual(
        move.lines.map((l) => [l.account, l.debit, l.credit]),
        [
          ['1010', 1_000_000, 0],
          ['3000', 0, 1_000_000],
        ],
      );
      const again = await openingBalance(books.store, MAPPING, { ...bank, amount: 5 }, opts);
      assert.deepEqual([again.created, again.amount, again.move], [false, 1_000_000, opening.move]);

      const ok = await checkBalance(books.store, MAPPING, bank);
      assert.deepEqual([ok.books, ok.bank, ok.difference, ok.ok], [1_007_500, 1_007_500, 0, true]);
      const off = await checkBalance(books.store, MAPPING, { ...bank, amount: 1_007_600 });
      assert.deepEqual([off.difference, off.ok], [100, false]);
      // A balance reported before the last line counts only the moves up to that date.
      assert.equal(
        (await checkBalance(books.store, MAPPING, { ...bank, date: '2024-02-05' })).books,
        1_010_000,
      );
      await assert.rejects(
        checkBalance(books.store, MAPPING, { ...bank, currency: 'USD' }),
        (e: unknown) => e instanceof AutomationError && e.code === 'LEDGER_CURRENCY_MISMATCH',
      );
    });

    it('after a bank run: posts, reconciles, books the opening once and reports a balance mismatch', async () => {
      const conn = (amount: number, date: string): BankConnectionDoc => ({
        _id: 'bankconn:main',
        type: 'bank_connection',
        name: 'main',
        provider: 'dropfolder',
        institution: 'Demo bank',
        status: 'connected',
        counts: { fetched: 0, new: 0, duplicates: 0, pending: 0 },
        balance: { amount, currency: 'EUR', date },
      });
      const l1 = stl({
        key: 'a1',
        amount: 121_000,
        memo: 'RF18 5390 0754 7034',
        date: '2024-02-01',
      });
      await books.store.putMany([l1, conn(621_000, '2024-02-01')]);
      const config = { ...opts, rules: RULES };
      const first = await automateConnection(books.store, 'main', config);
      assert.deepEqual(
        [
          first.posting?.posted.length,
          first.reconcile?.matched.length,
          first.opening?.created,
          first.opening?.amount,
          first.balance?.ok,
        ],
        [1, 1, true, 500_000, true],
      );
      const before = await snapshot(books.store);
      const again = await automateConnection(books.store, 'main', config);
      assert.deepEqual(
        [again.posting?.posted.length, again.opening?.created, again.balance?.ok],
        [0, false, true],
      );
      assert.deepEqual(await snapshot(books.store), before);

      // The bank now reports 10.00 more than the books hold: logged, and kept for status; never booked.
      await books.store.put({
        ...(await get<BankConnectionDoc>(books.store, 'bankconn:main')),
        balance: { amount: 622_000, currency: 'EUR', date: '2024-02-02' },
      });
      const off = await automateConnection(books.store, 'main', config);
      assert.deepEqual(
        [off.balance?.difference, off.balance?.ok, off.opening?.created],
        [1_000, false, false],
      );
      const logged = books.entries.find((e) => e.event === 'ledger.balance_mismatch');
      assert.ok(
        logged &&
          logged.level === 'warn' &&
          logged.difference === 1_000 &&
          logged.connection === 'main',
      );
      const [last] = await lastBalanceChecks(books.store, ['main', 'other']);
      assert.deepEqual(
        [last.connection, last.difference, last.checked_at],
        ['main', 1_000, '2024-03-01T12:00:00.000Z'],
      );
      assert.deepEqual(await automateConnection(books.store, 'savings', config), {
        connection: 'savings',
        skipped: 'unmapped',
      });
    });

    it('an opening balance of zero books nothing, and is not booked later from a mismatch', async () => {
      const l = stl({ key: 'z1', amount: 5_000, date: '2024-02-01' });
      await books.store.put(l);
      await postStatementLines(books.store, 'all', MAPPING, opts);
      const zero = await openingBalance(
        books.store,
        MAPPING,
        { amount: 5_000, currency: 'EUR', date: '2024-02-01' },
        opts,
      );
      assert.deepEqual([zero.created, zero.amount, zero.move], [false, 0, undefined]);
      const later = await openingBalance(
        books.store,
        MAPPING,
        { amount: 9_000, currency: 'EUR', date: '2024-02-01' },
        opts,
      );
      assert.deepEqual([later.created, later.amount], [false, 0]);
      assert.equal(
        (
          await checkBalance(books.store, MAPPING, {
            amount: 9_000,
            currency: 'EUR',
            date: '2024-02-01',
          })
        ).difference,
        4_000,
      );
    });

    it('the report lists unposted and unmatched lines next to a balanced trial balance', async () => {
      const usd = stl({ key: 'usd', amount: 1_000, currency: 'USD', date: '2024-02-01' });
      const odd = stl({ key: 'odd', amount: 1_234, payee: 'Nobody', date: '2024-02-02' });
      await importAndReconcile([usd, odd]);
      const report = await ledgerReport(books.store);
      assert.deepEqual(
        report.unreconciled.map((u) => [u.line, u.status, u.open, u.currency]),
        [
          [usd._id, 'unposted', 1_000, 'USD'],
          [odd._id, 'unmatched', 1_234, 'EUR'],
        ],
      );
      assert.equal(report.trial_balance.balanced, true);
      assert.ok(
        (JSON.parse(JSON.stringify(report)) as typeof report).trial_balance.rows.length > 0,
        'plain JSON-able data',
      );
      const early = await trialBalance(books.store, { date: '2024-01-09' });
      assert.deepEqual(
        early.rows.map((r) => r.code),
        ['1200', '2000', '4000', '6000'],
      );
    });
  });
});

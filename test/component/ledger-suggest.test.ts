import { strict as assert } from 'node:assert';
import type { BooksDoc, InvoiceDoc, MoveDoc, StatementLineDoc } from '../../src/ledger';
import { balanceProblems } from '../../src/ledger/invariants';
import {
  AutomationError,
  acceptSuggestion,
  demoCompanyFile,
  ensureCompany,
  loadCompanyFile,
  matchDuplicate,
  pendingSuggestions,
  postStatementLines,
  reconcileLine,
  undoReconciliation,
  type AutomationPaymentDoc,
  type SuggestOptions,
  type SuggestedLine,
} from '../../src/ledger/automation';
import {
  MAPPING,
  USD,
  USD_CHART,
  balanceOf,
  clock,
  get,
  openBooks,
  rate,
  snapshot,
  stl,
  type Books,
} from './ledger-auto-helpers';

/**
 * Explained suggestions (README, "Explained suggestions"): candidates for each line in suspense
 * with a score and its reasons, `--accept N`, hand-made duplicates of bank lines, and the manual
 * write-off of `--with --write-off`.
 */

const BANK_FEES: BooksDoc = {
  _id: 'account:6270',
  type: 'account',
  code: '6270',
  name: 'Bank fees',
  kind: 'expense',
};

function invoice(
  number: string,
  partner: string,
  total: number,
  more: Partial<InvoiceDoc> = {},
): InvoiceDoc {
  return {
    _id: `invoice:${number}`,
    type: 'invoice',
    kind: 'out_invoice',
    number,
    partner: `partner:${partner}`,
    date: '2024-01-05',
    due_date: '2024-02-04',
    currency: 'EUR',
    total,
    residual: total,
    state: 'open',
    ...more,
  };
}

const INV1 = invoice('INV/2024/0001', 'acme', 121_000, {
  payment_reference: 'RF18 5390 0754 7034',
});
const INV3 = invoice('INV/2024/0003', 'initech', 25_000, {
  date: '2024-01-15',
  due_date: '2024-02-14',
});

/** A hand-made entry: 300.00 cash takings put on the bank account in the MISC journal. */
const HAND: MoveDoc = {
  _id: 'move:MISC:2024-0007',
  type: 'move',
  journal: 'MISC',
  date: '2024-02-10',
  ref: 'Cash sale deposit',
  state: 'posted',
  lines: [
    { account: '1010', label: 'Cash sale deposit', debit: 30_000, credit: 0, currency: 'EUR' },
    { account: '4000', label: 'Cash sale deposit', debit: 0, credit: 30_000, currency: 'EUR' },
  ],
};

/** [kind, match, points] of each reason of a suggestion. */
const why = (c: SuggestedLine['candidates'][number]) =>
  c.reasons.map((r) => [r.kind, 'match' in r ? r.match : `${r.days}d`, r.points]);

/** [account, debit, credit] of each line of a move. */
const sides = (m: MoveDoc) => m.lines.map((l) => [l.account, l.debit, l.credit]);

describe('ledger automation: explained suggestions', () => {
  let books: Books;
  let opts: SuggestOptions;
  const demo = loadCompanyFile(demoCompanyFile());

  beforeEach(async () => {
    books = await openBooks();
    opts = {
      connections: [MAPPING],
      logger: books.logger,
      clock,
      rules: [{ kind: 'amount_window', tolerance: '0.50', days: 5 }],
    };
  });
  afterEach(async () => {
    await books.close();
  });

  /** The demo chart and partners with only `invoices` open, plus `extra` documents. */
  async function setUp(invoices: InvoiceDoc[], extra: BooksDoc[] = []): Promise<void> {
    await ensureCompany(books.store, { ...demo, invoices });
    await books.store.putMany([BANK_FEES, ...extra]);
  }

  async function post(...lines: StatementLineDoc[]): Promise<void> {
    await books.store.putMany(lines);
    await postStatementLines(
      books.store,
      lines.map((l) => l._id),
      MAPPING,
      opts,
    );
  }

  async function suggestionsOf(line: string): Promise<SuggestedLine> {
    const found = (await pendingSuggestions(books.store, opts)).find((l) => l.line === line);
    assert.ok(found, `${line} is listed`);
    return found;
  }

  async function refusal(p: Promise<unknown>, code: string): Promise<AutomationError> {
    const err = await p.then(
      () => assert.fail(`expected ${code}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AutomationError, String(err));
    assert.equal(err.code, code, err.message);
    return err;
  }

  describe('reasons and scores', () => {
    it('a structured reference, the partner by IBAN, the exact amount and a date inside the window score 100', async () => {
      await setUp([INV1, INV3]);
      const line = stl({
        amount: 121_000,
        memo: 'Payment RF18 5390 0754 7034',
        counterparty_iban: 'BE71096123456769',
        date: '2024-02-01',
      });
      await post(line);
      const [first, ...rest] = (await suggestionsOf(line._id)).candidates;
      assert.equal(first.target, INV1._id);
      assert.equal(first.score, 100);
      assert.deepEqual(why(first), [
        ['amount', 'exact', 40],
        ['reference', 'structured', 35],
        ['partner', 'iban', 15],
        ['date', '0d', 10],
      ]);
      assert.deepEqual(
        first.reasons.map((r) => r.text),
        [
          'amount 1210.00 exact',
          'structured reference RF18539007547034',
          'partner ACME SA by IBAN',
          'dated between 2024-01-05 and the due date 2024-02-04',
        ],
      );
      assert.deepEqual(rest, [], 'INV/2024/0003 has no evidence beyond its date');
    });

    it('the invoice number in the memo, the partner by name, an amount within the tolerance, days after the due date', async () => {
      await setUp([INV1, INV3]);
      const line = stl({
        amount: 24_970,
        memo: 'invoice inv-2024-0003',
        payee: 'Initech BV',
        date: '2024-02-17',
      });
      await post(line);
      const [first] = (await suggestionsOf(line._id)).candidates;
      assert.equal(first.target, INV3._id);
      assert.deepEqual(why(first), [
        ['amount', 'within', 25],
        ['reference', 'invoice_number', 30],
        ['partner', 'name', 10],
        ['date', '3d', 7],
      ]);
      assert.equal(first.score, 72);
      const amount = first.reasons[0];
      assert.equal(amount.kind === 'amount' && amount.difference, 30, '0.30 short');
    });

    it('a free-text payment reference; the share of words in common; an amount that differs', async () => {
      await setUp([
        invoice('INV/2024/0042', 'globex', 15_000, { payment_reference: 'ORDER 7781' }),
        invoice('INV/2024/0043', 'dupont', 15_000, { date: '2024-01-06' }),
      ]);
      const byRef = stl({ amount: 15_000, memo: 'order 7781 thanks', date: '2024-02-01' });
      const byWords = stl({ amount: 10_000, memo: 'inv 2024 part', date: '2024-02-01' });
      await post(byRef, byWords);
      const [ref] = (await suggestionsOf(byRef._id)).candidates;
      assert.equal(ref.target, 'invoice:INV/2024/0042');
      assert.deepEqual(why(ref).slice(0, 2), [
        ['amount', 'exact', 40],
        ['reference', 'payment_reference', 25],
      ]);
      const words = (await suggestionsOf(byWords._id)).candidates;
      assert.deepEqual(
        words.map((c) => [c.target, ...why(c)]),
        [
          [
            'invoice:INV/2024/0042',
            ['amount', 'differs', 0],
            ['reference', 'tokens', 10],
            ['date', '0d', 10],
          ],
          [
            'invoice:INV/2024/0043',
            ['amount', 'differs', 0],
            ['reference', 'tokens', 10],
            ['date', '0d', 10],
          ],
        ],
        'inv and 2024 of four words in all; equal scores and differences: the earlier invoice date first',
      );
      const tokens = words[0].reasons[1];
      assert.deepEqual(tokens.kind === 'reference' && [tokens.value, tokens.similarity], [
        'inv 2024',
        50,
      ]);
    });
  });

  it('lists at most three candidates, best first, the same order every time', async () => {
    await setUp([
      invoice('A/1', 'acme', 10_000, { date: '2024-01-10' }),
      invoice('A/2', 'acme', 9_999),
      invoice('A/3', 'acme', 9_980),
      invoice('A/4', 'acme', 20_000, { date: '2024-01-02' }),
      invoice('A/5', 'acme', 20_000, { date: '2024-01-03' }),
    ]);
    const line = stl({ amount: 9_999, counterparty_iban: 'BE71096123456769', date: '2024-02-01' });
    await post(line);
    const listed = await suggestionsOf(line._id);
    assert.deepEqual(
      listed.candidates.map((c) => [c.n, c.target, c.score]),
      [
        [1, 'invoice:A/2', 65],
        [2, 'invoice:A/1', 50],
        [3, 'invoice:A/3', 50],
      ],
      'exact amount first; then within 0.50, the smaller difference first; A/4 and A/5 left out',
    );
    assert.deepEqual(await suggestionsOf(line._id), listed);
  });

  describe('--accept N', () => {
    it('books exactly what --with books', async () => {
      const line = stl({ key: 'same', amount: 25_000, memo: 'INV/2024/0003', date: '2024-02-01' });
      await setUp([INV1, INV3]);
      await post(line);
      assert.equal((await suggestionsOf(line._id)).candidates[0].target, INV3._id);
      const accepted = await acceptSuggestion(books.store, line._id, 1, opts);
      assert.equal(accepted.target, INV3._id);
      assert.equal(accepted.reconciliation?.payment.invoice_state, 'paid');
      const viaAccept = await snapshot(books.store);

      const other = await openBooks();
      try {
        await ensureCompany(other.store, { ...demo, invoices: [INV1, INV3] });
        await other.store.putMany([BANK_FEES, line]);
        await postStatementLines(other.store, [line._id], MAPPING, opts);
        await reconcileLine(other.store, line._id, 'INV/2024/0003', {
          ...opts,
          logger: other.logger,
        });
        assert.deepEqual(viaAccept, await snapshot(other.store));
      } finally {
        await other.close();
      }
    });

    it('refuses a number whose listing changed, or was never listed, and books nothing; --expect names the target', async () => {
      await setUp([INV3]);
      const line = stl({ amount: 25_000, payee: 'Initech BV', date: '2024-02-01' });
      await post(line);
      await refusal(acceptSuggestion(books.store, line._id, 1, opts), 'LEDGER_SUGGESTION_STALE');
      const listed = await suggestionsOf(line._id);
      assert.equal(listed.candidates[0].target, INV3._id);
      // A better candidate arrives after the listing: number 1 now names another invoice.
      const better = invoice('INV/2024/0077', 'initech', 25_000, {
        payment_reference: 'RF64 2024 0104',
      });
      await ensureCompany(books.store, { ...demo, invoices: [better] });
      await books.store.put({
        ...(await get<StatementLineDoc>(books.store, line._id)),
        memo: 'RF64 2024 0104',
      });
      const before = await snapshot(books.store);
      const stale = await refusal(
        acceptSuggestion(books.store, line._id, 1, opts),
        'LEDGER_SUGGESTION_STALE',
      );
      assert.match(stale.message, /1: invoice:INV\/2024\/0077/);
      await refusal(
        acceptSuggestion(books.store, line._id, 1, { ...opts, expect: 'INV/2024/0003' }),
        'LEDGER_SUGGESTION_STALE',
      );
      assert.deepEqual(await snapshot(books.store), before, 'nothing was written');
      const taken = await acceptSuggestion(books.store, line._id, 1, {
        ...opts,
        expect: 'INV/2024/0077',
      });
      assert.equal(taken.reconciliation?.payment.invoice, better._id);
      assert.equal((await get<InvoiceDoc>(books.store, INV3._id)).state, 'open');
    });

    it('a suggestion within a write-off rule books the difference to its account, as --with --write-off does', async () => {
      opts.rules = [{ kind: 'amount_window', tolerance: '2.00', days: 5, write_off: '6270' }];
      await setUp([INV1]);
      const line = stl({ amount: 120_850, payee: 'ACME SA', date: '2024-02-05' });
      await post(line);
      const [first] = (await suggestionsOf(line._id)).candidates;
      assert.deepEqual(first.write_off, { account: '6270', amount: 150, limit: '2.00' });
      const accepted = await acceptSuggestion(books.store, line._id, 1, opts);
      const paid = accepted.reconciliation!.payment;
      assert.deepEqual(
        [paid.invoice_state, paid.write_off],
        ['paid', { account: '6270', amount: 150, currency: 'EUR' }],
      );
      assert.equal(await balanceOf(books.store, '6270'), 150);
      assert.equal(await balanceOf(books.store, '1099'), 0);
    });
  });

  describe('a hand-made entry that duplicates a bank line', () => {
    const L1 = stl({ key: 'dup1', amount: 30_000, memo: 'cash sale', date: '2024-02-12' });
    const L2 = stl({ key: 'dup2', amount: 30_000, memo: 'deposit', date: '2024-02-13' });

    it('is a candidate; accepting clears the duplicate off the bank account, undo puts it back', async () => {
      await setUp([], [HAND]);
      await post(L1, L2);
      assert.equal(await balanceOf(books.store, '1010'), 90_000, 'the money three times');
      const listed = await suggestionsOf(L1._id);
      assert.deepEqual(
        listed.candidates.map((c) => [c.kind, c.target, ...why(c)]),
        [
          [
            'manual_entry',
            HAND._id,
            ['amount', 'exact', 40],
            ['reference', 'tokens', 13],
            ['date', '2d', 8],
          ],
        ],
        "L2's posting moves the bank by the same amount but is the import's, not a hand entry",
      );
      const accepted = await acceptSuggestion(books.store, L1._id, 1, opts);
      const dup = accepted.duplicate!;
      const clearing = await get<MoveDoc>(books.store, dup.move);
      assert.deepEqual(
        [clearing.journal, sides(clearing)],
        [
          'BNK1',
          [
            ['1099', 30_000, 0],
            ['1010', 0, 30_000],
          ],
        ],
      );
      assert.deepEqual(balanceProblems(clearing), []);
      assert.equal(await balanceOf(books.store, '1010'), 60_000, 'the duplicate counted once');
      assert.equal(await balanceOf(books.store, '1099'), -30_000, 'only L2 waits in suspense');
      assert.equal((await get<StatementLineDoc>(books.store, L1._id)).state, 'reconciled');
      const payment = await get<AutomationPaymentDoc>(books.store, dup.payment);
      assert.deepEqual(
        [payment.entry, payment.rule, payment.statement_line],
        [HAND._id, 'manual_entry', L1._id],
      );
      assert.ok(
        books.entries.some((e) => e.event === 'ledger.reconcile_duplicate' && e.entry === HAND._id),
      );
      const after = await pendingSuggestions(books.store, opts);
      assert.deepEqual(
        after.map((l) => [l.line, l.candidates.length]),
        [[L2._id, 0]],
        'the entry is matched: not offered to L2',
      );
      await refusal(
        matchDuplicate(books.store, L2._id, HAND._id, opts),
        'LEDGER_RECONCILE_REFUSED',
      );

      const undone = await undoReconciliation(books.store, L1._id, opts);
      assert.deepEqual(
        undone.undone.map((u) => [u.entry, u.amount, u.reversal !== undefined]),
        [[HAND._id, 30_000, true]],
      );
      assert.equal(await balanceOf(books.store, '1010'), 90_000);
      assert.equal(await balanceOf(books.store, '1099'), -60_000);
      assert.equal(
        (await get<MoveDoc>(books.store, HAND._id)).lines[0].debit,
        30_000,
        'the entry is untouched',
      );
      assert.equal((await get<StatementLineDoc>(books.store, L1._id)).state, 'posted');
      assert.deepEqual(
        (await suggestionsOf(L2._id)).candidates.map((c) => c.target),
        [HAND._id],
        'free again',
      );
    });

    it("the automation's own moves are never duplicates, and a reversed entry is not one either", async () => {
      const reversed: MoveDoc = {
        ...HAND,
        _id: 'move:MISC:2024-0008:rev',
        ref: 'reversal',
        reverses: HAND._id,
        lines: HAND.lines.map((l) => ({ ...l, debit: l.credit, credit: l.debit })),
      };
      await setUp([], [HAND, reversed]);
      await post(L1, L2);
      assert.deepEqual((await suggestionsOf(L1._id)).candidates, []);
      await refusal(
        matchDuplicate(books.store, L1._id, HAND._id, opts),
        'LEDGER_RECONCILE_REFUSED',
      );
      const posting = (await get<StatementLineDoc>(books.store, L2._id)).move!;
      await refusal(matchDuplicate(books.store, L1._id, posting, opts), 'LEDGER_RECONCILE_REFUSED');
    });
  });

  it('a foreign line: the amount_window tolerance is company currency, converted at the rate of the line date', async () => {
    // 1.00 EUR = 1.10 USD on 2024-02-12: a line 1.05 USD short is within, though 1.05 > 1.00.
    const usdInvoice = invoice('INV/2024/0100', 'acme', 20_000, { currency: 'USD' });
    // The rates first: a foreign invoice is booked once the rate of its date is in the books.
    await books.store.putMany([
      rate('EUR', 'USD', '2024-01-05', '1.1000'),
      rate('EUR', 'USD', '2024-02-12', '1.1000'),
    ]);
    await setUp([usdInvoice], [...USD_CHART]);
    const fx: SuggestOptions = {
      ...opts,
      connections: [USD],
      company_currency: 'EUR',
      rules: [{ kind: 'amount_window', tolerance: '1.00', days: 30 }],
    };
    const line = stl({ connection: 'usd', amount: 19_895, currency: 'USD', date: '2024-02-12' });
    await books.store.put(line);
    await postStatementLines(books.store, [line._id], USD, fx);
    const [listed] = await pendingSuggestions(books.store, fx);
    assert.equal(listed.candidates[0]?.target, usdInvoice._id);
    assert.deepEqual(
      listed.candidates[0].reasons.find((r) => r.kind === 'amount'),
      listed.candidates[0].reasons.find((r) => r.kind === 'amount' && r.match === 'within'),
      'the 1.05 USD difference is within 1.00 EUR',
    );
    assert.ok(
      listed.candidates[0].reasons.some((r) => r.kind === 'amount' && r.match === 'within'),
    );
  });

  it('a foreign line and its hand-made duplicate: the clearing move is valued like the line, the entry keeps its own value', async () => {
    const entry: MoveDoc = {
      _id: 'move:BNK2:hand-1',
      type: 'move',
      journal: 'BNK2',
      date: '2024-02-12',
      ref: 'Consulting paid in USD',
      state: 'posted',
      lines: [
        {
          account: '1020',
          debit: 12_500,
          credit: 0,
          currency: 'USD',
          company: { currency: 'EUR', debit: 9_800, credit: 0 },
        },
        {
          account: '4000',
          debit: 0,
          credit: 12_500,
          currency: 'USD',
          company: { currency: 'EUR', debit: 0, credit: 9_800 },
        },
      ],
    };
    await setUp([], [...USD_CHART, rate('EUR', 'USD', '2024-02-12', '1.2500'), entry]);
    const fx: SuggestOptions = { ...opts, connections: [USD], company_currency: 'EUR' };
    const line = stl({ connection: 'usd', amount: 12_500, currency: 'USD', date: '2024-02-12' });
    await books.store.put(line);
    await postStatementLines(books.store, [line._id], USD, fx);
    const [listed] = await pendingSuggestions(books.store, fx);
    assert.deepEqual(
      listed.candidates.map((c) => c.target),
      [entry._id],
    );
    const { duplicate } = await acceptSuggestion(books.store, line._id, 1, fx);
    const clearing = await get<MoveDoc>(books.store, duplicate!.move);
    assert.deepEqual(
      clearing.lines.map((l) => [
        l.account,
        l.debit,
        l.credit,
        l.company?.debit,
        l.company?.credit,
      ]),
      [
        ['1098', 12_500, 0, 10_000, 0],
        ['1020', 0, 12_500, 0, 10_000],
      ],
    );
    assert.deepEqual(balanceProblems(clearing), []);
    const company = async (account: string) =>
      (await books.store.allOfType<MoveDoc>('move'))
        .flatMap((m) => m.lines)
        .filter((l) => l.account === account)
        .reduce((sum, l) => sum + (l.company ? l.company.debit - l.company.credit : 0), 0);
    assert.deepEqual(
      [await balanceOf(books.store, '1020'), await company('1020')],
      [12_500, 9_800],
      "once on the bank, at the entry's value",
    );
    assert.deepEqual([await balanceOf(books.store, '1098'), await company('1098')], [0, 0]);
  });

  describe('--with INVOICE --write-off ACCOUNT', () => {
    it('books the difference to the account and pays the invoice in full; undo restores the residual', async () => {
      await setUp([INV1]);
      const line = stl({ amount: 120_850, payee: 'ACME SA', date: '2024-02-05' });
      await post(line);
      const done = await reconcileLine(books.store, line._id, 'INV/2024/0001', {
        ...opts,
        write_off: { account: '6270' },
      });
      assert.deepEqual([done.open, done.payment.invoice_state], [0, 'paid']);
      const move = await get<MoveDoc>(books.store, done.payment.move);
      assert.deepEqual(sides(move), [
        ['1099', 120_850, 0],
        ['1200', 0, 121_000],
        ['6270', 150, 0],
      ]);
      assert.equal((await get<InvoiceDoc>(books.store, INV1._id)).residual, 0);
      await undoReconciliation(books.store, line._id, opts);
      const back = await get<InvoiceDoc>(books.store, INV1._id);
      assert.deepEqual([back.residual, back.state], [121_000, 'open']);
      assert.equal(await balanceOf(books.store, '6270'), 0);
    });

    it('refuses a difference above the limit and writes nothing; a stated larger limit books it', async () => {
      await setUp([INV1]);
      const line = stl({ amount: 120_000, payee: 'ACME SA', date: '2024-02-05' });
      await post(line);
      const before = await snapshot(books.store);
      const err = await refusal(
        reconcileLine(books.store, line._id, 'INV/2024/0001', {
          ...opts,
          write_off: { account: '6270' },
        }),
        'LEDGER_WRITE_OFF_TOO_LARGE',
      );
      assert.match(err.message, /10\.00 EUR is above the write-off limit 5\.00/);
      assert.deepEqual(await snapshot(books.store), before);
      await refusal(
        reconcileLine(books.store, line._id, 'INV/2024/0001', {
          ...opts,
          write_off: { account: '6999', limit: '10.00' },
        }),
        'LEDGER_MAPPING_INVALID',
      );
      const done = await reconcileLine(books.store, line._id, 'INV/2024/0001', {
        ...opts,
        write_off: { account: '6270', limit: '10.00' },
      });
      assert.deepEqual(
        [done.payment.invoice_state, done.payment.write_off?.amount],
        ['paid', 1_000],
      );
    });
  });
});

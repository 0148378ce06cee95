import { strict as assert } from 'node:assert';
import {
  type BooksDoc,
  type MoveDoc,
  type StatementLineDoc,
  type TransferDoc,
} from '../../src/ledger';
import { parseConfigText } from '../../src/config';
import { automationConfigFrom } from '../../src/daemon/ledger-service';
import { balanceProblems } from '../../src/ledger/invariants';
import {
  AutomationError,
  RateWatch,
  automateForeignConnections,
  compileRules,
  demoCompanyFile,
  ensureCompany,
  loadCompanyFile,
  pendingLines,
  postStatementLines,
  reconcile,
  reconcileLine,
  trialBalance,
  undoReconciliation,
  type ConnectionMapping,
  type RateReaction,
  type ReconcileOptions,
  type RuleSpec,
} from '../../src/ledger/automation';
import {
  MAPPING,
  USD,
  USD_CHART,
  clock,
  get,
  openBooks,
  rate,
  snapshot,
  stl,
  type Books,
} from './ledger-auto-helpers';

/**
 * Transfers between own accounts (README, "Transfers between own accounts"): an outgoing line on
 * one connection and the incoming line on another become one transfer through the
 * liquidity-transfer account, in the same currency or across currencies at the day's rate.
 */

const SAVINGS: ConnectionMapping = Object.freeze({
  connection: 'savings',
  journal: 'BNK3',
  bank_account: '1030',
  suspense_account: '1097',
  currency: 'EUR',
});

const MAIN_IBAN = 'BE68539007547034';
const SAVINGS_IBAN = 'BE71096123456769';
const USD_ACCOUNT = 'US-CHK-0001';

/** A EUR savings connection's accounts and journal; the transfer account 1090 is the demo chart's `roles.transfer`. */
const SAVINGS_CHART: readonly BooksDoc[] = [
  { _id: 'account:1030', type: 'account', code: '1030', name: 'Savings', kind: 'asset' },
  {
    _id: 'account:1097',
    type: 'account',
    code: '1097',
    name: 'Savings suspense',
    kind: 'asset',
    reconcile: true,
  },
  {
    _id: 'journal:BNK3',
    type: 'journal',
    code: 'BNK3',
    name: 'Savings',
    kind: 'bank',
    currency: 'EUR',
    default_account: '1030',
    suspense_account: '1097',
  },
];

const MAPPINGS = [MAPPING, SAVINGS, USD];
const TRANSFER: RuleSpec = { kind: 'transfer', days: 3 };

function options(books: Books): ReconcileOptions {
  return { company_currency: 'EUR', clock, connections: MAPPINGS, logger: books.logger };
}

const main = (amount: number, date: string, fields: Partial<StatementLineDoc> = {}) =>
  stl({ connection: 'main', account_id: MAIN_IBAN, amount, date, ...fields });
const savings = (amount: number, date: string, fields: Partial<StatementLineDoc> = {}) =>
  stl({ connection: 'savings', account_id: SAVINGS_IBAN, amount, date, ...fields });
const usd = (amount: number, date: string, fields: Partial<StatementLineDoc> = {}) =>
  stl({ connection: 'usd', account_id: USD_ACCOUNT, currency: 'USD', amount, date, ...fields });

/** Posts every connection's lines, then runs `rules`. */
async function run(books: Books, rules: RuleSpec[] = [TRANSFER]) {
  for (const m of MAPPINGS) await postStatementLines(books.store, 'all', m, options(books));
  return reconcile(books.store, rules, options(books));
}

/** Debit − credit of `account` in `currency`, and in company currency (EUR). */
async function balances(books: Books, account: string) {
  const tb = await trialBalance(books.store, { company_currency: 'EUR' });
  const rows = tb.rows.filter((r) => r.code === account);
  return {
    byCurrency: Object.fromEntries(rows.map((r) => [r.currency, r.balance])),
    company: rows.reduce((s, r) => s + (r.company_balance ?? NaN), 0),
  };
}

/** The books' invariants after any run: every move balances, banks equal their lines, 1090 is 0. */
async function assertBooks(books: Books): Promise<void> {
  const moves = await books.store.allOfType<MoveDoc>('move');
  for (const m of moves) assert.deepEqual(balanceProblems(m), [], m._id);
  const lines = (await books.store.allOfType<StatementLineDoc>('statement_line')).filter(
    (l) => l.move !== undefined,
  );
  for (const m of MAPPINGS) {
    const sum = lines
      .filter((l) => l.connection === m.connection)
      .reduce((s, l) => s + l.amount, 0);
    assert.equal(
      (await balances(books, m.bank_account)).byCurrency[m.currency] ?? 0,
      sum,
      `bank ${m.bank_account}`,
    );
  }
  assert.equal((await balances(books, '1090')).company || 0, 0, 'the transfer account nets to 0');
  const tb = await trialBalance(books.store, { company_currency: 'EUR' });
  assert.ok(tb.balanced, 'the trial balance balances per currency and in EUR');
}

async function transfers(books: Books): Promise<TransferDoc[]> {
  return books.store.allOfType<TransferDoc>('transfer');
}

describe('ledger: transfers between own accounts', () => {
  let books: Books;
  beforeEach(async () => {
    books = await openBooks();
    await ensureCompany(books.store, loadCompanyFile(demoCompanyFile()));
    await books.store.putMany<BooksDoc>([...USD_CHART, ...SAVINGS_CHART]);
  });
  afterEach(async () => {
    await books.close();
  });

  it('given 500.00 EUR out of main and into savings a day later, then one transfer clears both suspense lines through 1090', async () => {
    const out = await books.store.put(main(-50000, '2024-02-01'));
    const into = await books.store.put(savings(50000, '2024-02-02'));
    const res = await run(books);
    assert.deepEqual(res.unmatched, []);
    assert.equal(res.transfers.length, 1);
    const [t] = await transfers(books);
    assert.deepEqual(
      [t.state, t.from.line, t.to.line, t.from.amount, t.to.amount, t.account, t.rule],
      ['posted', out._id, into._id, 50000, 50000, '1090', 'transfer(days 3)'],
    );
    assert.equal(res.transfers[0].transfer, t._id);
    const outMove = await get<MoveDoc>(books.store, t.from.move);
    const inMove = await get<MoveDoc>(books.store, t.to.move);
    assert.deepEqual(
      [outMove.journal, outMove.lines.map((l) => [l.account, l.debit, l.credit])],
      [
        'BNK1',
        [
          ['1099', 0, 50000],
          ['1090', 50000, 0],
        ],
      ],
    );
    assert.deepEqual(
      [inMove.journal, inMove.lines.map((l) => [l.account, l.debit, l.credit])],
      [
        'BNK3',
        [
          ['1097', 50000, 0],
          ['1090', 0, 50000],
        ],
      ],
    );
    for (const id of [out._id, into._id])
      assert.equal((await get<StatementLineDoc>(books.store, id)).state, 'reconciled');
    assert.deepEqual((await balances(books, '1099')).byCurrency, { EUR: 0 });
    assert.deepEqual((await balances(books, '1097')).byCurrency, { EUR: 0 });
    assert.deepEqual((await balances(books, '1090')).byCurrency, { EUR: 0 });
    assert.deepEqual(await pendingLines(books.store), []);
    const logged = books.entries.filter((e) => e.event === 'ledger.transfer');
    assert.deepEqual(
      logged.map((e) => [e.level, e.transfer, e.from, e.to]),
      [['info', t._id, out._id, into._id]],
    );
    await assertBooks(books);
  });

  it('given 1000.00 EUR out and 1083.00 USD in, then they pair within the rate tolerance and the difference is a realised exchange gain', async () => {
    await books.store.putMany([
      rate('EUR', 'USD', '2024-02-01', '1.0850'),
      rate('EUR', 'USD', '2024-02-02', '1.0800'),
    ]);
    const out = await books.store.put(main(-100000, '2024-02-01'));
    const into = await books.store.put(usd(108300, '2024-02-02'));
    // 1000.00 EUR at 1.0850 is 1085.00 USD: the bank's own rate gave 2.00 USD less.
    const exact = await run(books, [{ kind: 'transfer', days: 3 }]);
    assert.deepEqual([exact.transfers, exact.unmatched], [[], [out._id, into._id]]);
    const res = await run(books, [{ kind: 'transfer', days: 3, tolerance: '0.5%' }]);
    assert.equal(res.transfers.length, 1);
    const [t] = await transfers(books);
    assert.deepEqual(
      [t.from.line, t.to.line, t.from.currency, t.to.currency, t.rate, t.rate_date],
      [out._id, into._id, 'EUR', 'USD', '1.085', '2024-02-01'],
    );
    // The USD line was posted at 1.0800: 1083.00 / 1.08 = 1002.78 EUR; 1000.00 EUR left main.
    assert.deepEqual([t.from.company_amount, t.to.company_amount], [100000, 100278]);
    assert.deepEqual(t.exchange_difference, { account: '4900', amount: 278, currency: 'EUR' });
    const inMove = await get<MoveDoc>(books.store, t.to.move);
    assert.deepEqual(
      inMove.lines.map((l) => [
        l.account,
        l.debit,
        l.credit,
        l.currency,
        l.company?.debit,
        l.company?.credit,
      ]),
      [
        ['1098', 108300, 0, 'USD', 100278, 0],
        ['1090', 0, 108300, 'USD', 0, 100000],
        ['4900', 0, 0, 'USD', 0, 278],
      ],
    );
    const transferAccount = await balances(books, '1090');
    assert.deepEqual(transferAccount.byCurrency, { EUR: 100000, USD: -108300 });
    assert.equal(transferAccount.company, 0);
    assert.equal((await balances(books, '1098')).company, 0);
    assert.equal((await balances(books, '4900')).company, -278);
    await assertBooks(books);
  });

  it('given the rate of the outgoing day missing, then both lines wait with LEDGER_RATE_MISSING and pair once it arrives', async () => {
    await books.store.put(rate('EUR', 'USD', '2024-02-01', '1.0800'));
    const into = await books.store.put(usd(108000, '2024-02-01'));
    const out = await books.store.put(main(-100000, '2024-02-02'));
    const first = await run(books, [{ kind: 'transfer', days: 3, tolerance: '1%' }]);
    assert.deepEqual([first.transfers, first.unmatched.sort()], [[], [out._id, into._id].sort()]);
    const waiting = books.entries.find(
      (e) => e.event === 'ledger.rate_missing' && /transfer/.test(e.msg),
    );
    assert.deepEqual(
      [waiting?.code, waiting?.from, waiting?.to, waiting?.date],
      ['LEDGER_RATE_MISSING', 'EUR', 'USD', '2024-02-02'],
    );
    // The daemon's rate watch runs the foreign connections' automation when a rate arrives.
    let onReacted!: (r: RateReaction) => void;
    const reacted = new Promise<RateReaction>((resolve) => (onReacted = resolve));
    const config = { ...options(books), rules: [{ kind: 'transfer', days: 3, tolerance: '1%' }] };
    const watch = new RateWatch(
      books.store,
      () => automateForeignConnections(books.store, config),
      {
        onReacted,
      },
    );
    watch.start();
    try {
      await books.store.put(rate('EUR', 'USD', '2024-02-02', '1.0800'));
      const reaction = await reacted;
      assert.deepEqual(
        reaction.results[0].reconcile?.transfers.map((t) => [t.from, t.to]),
        [[out._id, into._id]],
      );
    } finally {
      await watch.stop();
    }
    await assertBooks(books);
  });

  it('given the incoming line 4 days after the outgoing one, then a 3-day rule leaves both in suspense', async () => {
    const out = await books.store.put(main(-50000, '2024-02-01'));
    const into = await books.store.put(savings(50000, '2024-02-05'));
    const res = await run(books);
    assert.deepEqual([res.transfers, res.unmatched], [[], [out._id, into._id]]);
    assert.deepEqual(
      (await pendingLines(books.store)).map((l) => l.line),
      [out._id, into._id],
    );
    assert.deepEqual(await transfers(books), []);
  });

  it('given two equally close candidates, then nothing is guessed and the ambiguity is logged', async () => {
    const out = await books.store.put(main(-50000, '2024-02-02'));
    const before = await books.store.put(savings(50000, '2024-02-01'));
    const after = await books.store.put(savings(50000, '2024-02-03'));
    const res = await run(books);
    assert.deepEqual(res.transfers, []);
    assert.deepEqual(res.unmatched.sort(), [out._id, before._id, after._id].sort());
    const logged = books.entries.find((e) => e.event === 'ledger.transfer_ambiguous');
    assert.equal(logged?.line, out._id);
    assert.deepEqual(logged?.candidates, [before._id, after._id]);
  });

  it('given two outgoing lines for one incoming line, then the incoming line is ambiguous too', async () => {
    const first = await books.store.put(main(-50000, '2024-02-01'));
    const second = await books.store.put(main(-50000, '2024-02-03'));
    const into = await books.store.put(savings(50000, '2024-02-02'));
    const res = await run(books);
    assert.deepEqual(res.transfers, []);
    assert.deepEqual(res.unmatched.sort(), [first._id, second._id, into._id].sort());
  });

  it('given a nearer and a farther candidate, then the nearer one is the partner', async () => {
    const out = await books.store.put(main(-50000, '2024-02-01'));
    const near = await books.store.put(savings(50000, '2024-02-02'));
    const far = await books.store.put(savings(50000, '2024-02-04'));
    const res = await run(books);
    assert.deepEqual(
      res.transfers.map((t) => [t.from, t.to]),
      [[out._id, near._id]],
    );
    assert.deepEqual(res.unmatched, [far._id]);
    await assertBooks(books);
  });

  it('given a transfer made, then running again changes nothing', async () => {
    await books.store.put(main(-50000, '2024-02-01'));
    await books.store.put(savings(50000, '2024-02-02'));
    await run(books);
    const before = await snapshot(books.store);
    const again = await run(books);
    assert.deepEqual([again.transfers, again.unmatched], [[], []]);
    assert.deepEqual(await snapshot(books.store), before);
  });

  for (const side of ['outgoing', 'incoming'] as const) {
    it(`given a transfer, when the ${side} line is undone, then both sides are reversed, the record is voided and the next run pairs them again`, async () => {
      const out = await books.store.put(main(-50000, '2024-02-01'));
      const into = await books.store.put(savings(50000, '2024-02-02'));
      await run(books);
      const [made] = await transfers(books);
      const undone = await undoReconciliation(
        books.store,
        side === 'outgoing' ? out._id : into._id,
        { clock, logger: books.logger },
      );
      assert.equal(undone.transfer?.transfer, made._id);
      assert.equal(undone.transfer?.reversals.length, 2);
      const voided = await get<TransferDoc>(books.store, made._id);
      assert.deepEqual(
        [voided.state, voided.reversed_by],
        ['cancelled', undone.transfer?.reversals],
      );
      for (const id of [out._id, into._id])
        assert.equal((await get<StatementLineDoc>(books.store, id)).state, 'posted');
      assert.deepEqual(
        (await pendingLines(books.store)).map((l) => l.line),
        [out._id, into._id],
      );
      assert.deepEqual((await balances(books, '1099')).byCurrency, { EUR: 50000 });
      assert.deepEqual((await balances(books, '1097')).byCurrency, { EUR: -50000 });
      assert.ok(books.entries.some((e) => e.event === 'ledger.transfer_undo'));
      await assertBooks(books);

      const again = await run(books);
      assert.equal(again.transfers.length, 1);
      const all = await transfers(books);
      assert.deepEqual(all.map((t) => [t._id.endsWith('-2') ? 2 : 1, t.state]).sort(), [
        [1, 'cancelled'],
        [2, 'posted'],
      ]);
      assert.deepEqual(await pendingLines(books.store), []);
      await assertBooks(books);
    });
  }

  it('given draft moves (post_moves: draft), then the transfer books drafts and undo deletes them', async () => {
    const out = await books.store.put(main(-50000, '2024-02-01'));
    await books.store.put(savings(50000, '2024-02-02'));
    const draft = { ...options(books), post_moves: 'draft' as const };
    for (const m of MAPPINGS) await postStatementLines(books.store, 'all', m, draft);
    await reconcile(books.store, [TRANSFER], draft);
    const [t] = await transfers(books);
    assert.deepEqual(
      [
        (await get<MoveDoc>(books.store, t.from.move)).state,
        (await get<MoveDoc>(books.store, t.to.move)).state,
      ],
      ['draft', 'draft'],
    );
    const undone = await undoReconciliation(books.store, out._id, draft);
    assert.deepEqual(undone.transfer?.reversals, []);
    assert.deepEqual(undone.transfer?.removed_drafts, [t.from.move, t.to.move]);
    assert.equal(await books.store.get(t.from.move), undefined);
    assert.equal(await books.store.get(t.to.move), undefined);
    assert.equal((await get<TransferDoc>(books.store, t._id)).state, 'cancelled');
  });

  it('given a transferred line, then reconciling it with an invoice by hand is refused', async () => {
    await books.store.put(main(-14520, '2024-02-08'));
    const into = await books.store.put(savings(14520, '2024-02-08'));
    await run(books);
    await assert.rejects(
      reconcileLine(books.store, into._id, 'INV/2024/0003', options(books)),
      (err: unknown) =>
        err instanceof AutomationError &&
        err.code === 'LEDGER_RECONCILE_REFUSED' &&
        /transfer/.test(err.message),
    );
  });

  describe('precedence over invoice rules', () => {
    it("given a line paying our own savings account's IBAN, then it is a transfer even though a rule before names a bill", async () => {
      const out = await books.store.put(
        main(-14520, '2024-02-08', { memo: 'BILL/2024/0001', counterparty_iban: SAVINGS_IBAN }),
      );
      const into = await books.store.put(savings(14520, '2024-02-09'));
      const res = await run(books, [{ kind: 'reference' }, TRANSFER]);
      assert.deepEqual(res.matched, []);
      assert.deepEqual(
        res.transfers.map((t) => [t.from, t.to]),
        [[out._id, into._id]],
      );
      const bill = await get<BooksDoc & { state: string }>(books.store, 'invoice:BILL/2024/0001');
      assert.equal(bill.state, 'open');
    });

    it('given no own IBAN, then the rule order decides: a reference rule listed first pays the bill', async () => {
      const out = await books.store.put(main(-14520, '2024-02-08', { memo: 'BILL/2024/0001' }));
      const into = await books.store.put(savings(14520, '2024-02-09'));
      const res = await run(books, [{ kind: 'reference' }, TRANSFER]);
      assert.deepEqual(
        res.matched.map((m) => [m.line, m.invoice]),
        [[out._id, 'invoice:BILL/2024/0001']],
      );
      assert.deepEqual([res.transfers, res.unmatched], [[], [into._id]]);
      // A line that pays a bill is never part of a transfer, in a later run either.
      const later = await run(books, [TRANSFER]);
      assert.deepEqual([later.transfers, later.unmatched], [[], [into._id]]);
    });
  });

  it('given a transfer rule and no transfer account in the books, then the run refuses naming the account', async () => {
    await books.store.remove('account:1090');
    await books.store.put(main(-50000, '2024-02-01'));
    await assert.rejects(
      run(books),
      (err: unknown) =>
        err instanceof AutomationError &&
        err.code === 'LEDGER_MAPPING_INVALID' &&
        /transfer account 1090/.test(err.message),
    );
  });

  it('given a malformed transfer rule or a second one, then compiling refuses naming the rule', () => {
    const refused = (specs: Array<Record<string, unknown>>, where: string, what: RegExp) =>
      assert.throws(
        () => compileRules(specs),
        (err: unknown) =>
          err instanceof AutomationError &&
          err.code === 'LEDGER_RULE_INVALID' &&
          err.message.startsWith(where) &&
          what.test(err.message),
      );
    refused(
      [{ kind: 'transfer', days: 3, tolerance: '1.5' }],
      'ledger.reconcile.rules[0]',
      /percent/,
    );
    refused([{ kind: 'transfer', days: 3, tolerance: '11%' }], 'ledger.reconcile.rules[0]', /10%/);
    refused([{ kind: 'transfer' }], 'ledger.reconcile.rules[0]', /days/);
    refused(
      [{ kind: 'transfer', days: 3, write_off: '6270' }],
      'ledger.reconcile.rules[0]',
      /write_off/,
    );
    refused(
      [{ kind: 'reference' }, { kind: 'transfer', days: 3 }, { kind: 'transfer', days: 5 }],
      'ledger.reconcile.rules[2]',
      /only one transfer rule/,
    );
    assert.equal(
      compileRules([{ kind: 'transfer', days: 3, tolerance: '1.5%' }])[0].label,
      'transfer(days 3, tolerance 1.5%)',
    );
  });

  it('given ledger.accounts.transfer and a transfer rule in the YAML, then the daemon runs the rule with that account', () => {
    const config = parseConfigText(
      [
        'cloud: { url: embedded }',
        'ledger:',
        '  company: { name: Demo, currency: EUR }',
        '  accounts: { transfer: "1095" }',
        '  reconcile:',
        '    rules:',
        '      - { kind: reference }',
        '      - { kind: transfer, days: 2, tolerance: "1.5%" }',
      ].join('\n'),
      '/etc/booksync/booksync.yaml',
      { env: {} },
    );
    const automation = automationConfigFrom(config, books.logger);
    assert.equal(automation.accounts?.transfer, '1095');
    assert.deepEqual(
      compileRules(automation.rules).map((r) => r.label),
      ['reference', 'transfer(days 2, tolerance 1.5%)'],
    );
  });
});

import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type { InvoiceDoc, MoveDoc, StatementLineDoc } from '../../src/ledger';
import { balanceProblems } from '../../src/ledger/invariants';
import {
  AutomationError,
  demoCompanyFile,
  ensureCompany,
  loadCompanyFile,
  postStatementLines,
  reconcile,
  reconcileLine,
  trialBalance,
  undoReconciliation,
  type AutomationPaymentDoc,
  type PostState,
  type ReconcileOptions,
} from '../../src/ledger/automation';
import { MAPPING, RULES, clock, openBooks, snapshot, stl } from './ledger-auto-helpers';

/**
 * Property: after any sequence of imports (statement lines written directly, as the fetch loop
 * does: booked, pending, pending replaced or booked in place, a foreign currency, deleted), postings,
 * automatic and manual reconciliations and undos, in either posting state:
 * every move balances, the bank account in the books equals the sum of the posted lines, each line
 * has at most one posting move, suspense holds exactly the unmatched money, invoice residuals agree
 * with their payments and with receivable/payable, and running the automation again changes nothing.
 */

const demo = loadCompanyFile(demoCompanyFile());
// The invoices whose amounts and ids the generated actions aim at: a fixed list, so that a seed
// generates the same runs when the demo company gains invoices (a failure stays replayable).
const TARGETS = new Set([
  'INV/2024/0001',
  'INV/2024/0002',
  'INV/2024/0003',
  'INV/2024/0004',
  'INV/2024/0005',
  'BILL/2024/0001',
  'BILL/2024/0002',
]);
const targets = demo.invoices.filter((i) => TARGETS.has(i.number));
const invoiceIds = targets.map((i) => i._id);
const totals = targets.map((i) => (i.kind === 'out_invoice' ? i.total : -i.total));

const memo = fc.constantFrom(
  undefined,
  'RF18 5390 0754 7034',
  'RF19 5390 0754 7034',
  '+++090/0000/01262+++',
  'INV/2024/0003',
  'INV/2024/0002 and INV/2024/0003',
  'RF64 2024 0104',
  'coffee',
);
const iban = fc.constantFrom(
  undefined,
  'BE71 0961 2345 6769',
  'FR14 2004 1010 0505 0001 3M02 606',
  'XX00 0000',
);
const amount = fc.oneof(
  fc.constantFrom(...totals),
  fc.constantFrom(...totals).map((t) => Math.trunc(t / 2) || t),
  fc.constantFrom(...totals).map((t) => t + Math.sign(t) * 9_000),
  fc.integer({ min: -200_000, max: 200_000 }).filter((n) => n !== 0),
);

type Action =
  | {
      kind: 'import';
      amount: number;
      pending: boolean;
      memo?: string;
      iban?: string;
      day: number;
      usd: boolean;
    }
  | { kind: 'replace_pending'; pick: number; delta: number }
  | { kind: 'book_pending'; pick: number }
  | { kind: 'post' }
  | { kind: 'reconcile' }
  | { kind: 'manual'; pick: number; invoice: number }
  | { kind: 'undo'; pick: number }
  | { kind: 'delete'; pick: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('import' as const),
      amount,
      pending: fc.boolean(),
      memo,
      iban,
      day: fc.integer({ min: 0, max: 40 }),
      usd: fc.constant(false),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('import' as const),
      amount,
      pending: fc.constant(false),
      memo,
      iban,
      day: fc.integer({ min: 0, max: 40 }),
      usd: fc.constant(true),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('replace_pending' as const),
      pick: fc.nat(),
      delta: fc.integer({ min: -500, max: 500 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('book_pending' as const), pick: fc.nat() }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'post' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'reconcile' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('manual' as const),
      pick: fc.nat(),
      invoice: fc.nat(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('undo' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
);

/** Negation without -0 (strict equality tells them apart). */
function neg(x: number): number {
  return x === 0 ? 0 : -x;
}

function dayOf(n: number): string {
  return new Date(Date.UTC(2024, 0, 20 + n)).toISOString().slice(0, 10);
}

describe('ledger automation: property — any sequence of imports, postings, reconciliations and undos keeps the books right', function () {
  this.timeout(120_000);

  it('every move balances and the bank account equals the sum of its posted lines', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(action, { minLength: 1, maxLength: 18 }),
        fc.constantFrom<PostState>('posted', 'draft'),
        async (actions, state) => {
          const books = await openBooks();
          try {
            const { store } = books;
            await ensureCompany(store, demo);
            const opts: ReconcileOptions = { connections: [MAPPING], post_moves: state, clock };
            let n = 0;
            const lineIds: string[] = [];
            const pick = (i: number) => lineIds[i % lineIds.length];
            for (const a of actions) {
              switch (a.kind) {
                case 'import': {
                  const doc = stl({
                    key: `x${n++}`,
                    amount: a.amount,
                    pending: a.pending,
                    date: dayOf(a.day),
                    currency: a.usd ? 'USD' : 'EUR',
                    ...(a.memo ? { memo: a.memo } : {}),
                    ...(a.iban ? { counterparty_iban: a.iban } : {}),
                  });
                  await store.put(doc);
                  lineIds.push(doc._id);
                  break;
                }
                case 'replace_pending': {
                  const pendings = (
                    await store.allOfType<StatementLineDoc>('statement_line')
                  ).filter((l) => l.pending && l.state === 'new' && !l.replaced_by);
                  if (pendings.length === 0) break;
                  const old = pendings[a.pick % pendings.length];
                  const booked = stl({
                    key: `x${n++}`,
                    amount: old.amount + a.delta || old.amount,
                    date: old.date,
                    ...(old.memo ? { memo: old.memo } : {}),
                  });
                  await store.putMany([
                    { ...old, state: 'deleted', replaced_by: booked._id },
                    booked,
                  ]);
                  lineIds.push(booked._id);
                  break;
                }
                case 'book_pending': {
                  const pendings = (
                    await store.allOfType<StatementLineDoc>('statement_line')
                  ).filter((l) => l.pending && l.state === 'new' && !l.replaced_by);
                  if (pendings.length === 0) break;
                  await store.put({ ...pendings[a.pick % pendings.length], pending: false });
                  break;
                }
                case 'post':
                  await postStatementLines(store, 'all', MAPPING, opts);
                  break;
                case 'reconcile':
                  await reconcile(store, RULES, opts);
                  break;
                case 'manual':
                  if (lineIds.length === 0) break;
                  try {
                    await reconcileLine(
                      store,
                      pick(a.pick),
                      invoiceIds[a.invoice % invoiceIds.length],
                      opts,
                    );
                  } catch (err) {
                    if (
                      !(err instanceof AutomationError) ||
                      !['LEDGER_RECONCILE_REFUSED'].includes(err.code)
                    )
                      throw err;
                  }
                  break;
                case 'undo':
                  if (lineIds.length === 0) break;
                  await undoReconciliation(store, pick(a.pick), opts);
                  break;
                case 'delete': {
                  // A bank correction (or the user) deletes a line that is not reconciled.
                  if (lineIds.length === 0) break;
                  const l = (await store.get<StatementLineDoc>(pick(a.pick)))!;
                  if (l.state === 'new' || l.state === 'posted')
                    await store.put({ ...l, state: 'deleted' });
                  // The fetch loop's post-run hook unposts it.
                  await postStatementLines(store, 'all', MAPPING, opts);
                  break;
                }
              }
            }

            const moves = await store.allOfType<MoveDoc>('move');
            const lines = await store.allOfType<StatementLineDoc>('statement_line');
            const invoices = await store.allOfType<InvoiceDoc>('invoice');
            const payments = (await store.allOfType<AutomationPaymentDoc>('payment')).filter(
              (p) => p.state !== 'cancelled',
            );
            const effect = (account: string) =>
              moves.reduce(
                (s, m) =>
                  s +
                  m.lines
                    .filter((l) => l.account === account)
                    .reduce((t, l) => t + l.debit - l.credit, 0),
                0,
              );

            // Every move balances; the trial balance (drafts included) balances.
            for (const m of moves) assert.deepEqual(balanceProblems(m), [], m._id);
            assert.equal((await trialBalance(store, { include_draft: true })).balanced, true);

            // The bank account equals the sum of the posted lines; each posted line has exactly one move.
            const posted = lines.filter((l) => l.state === 'posted' || l.state === 'reconciled');
            assert.equal(
              effect('1010'),
              posted.reduce((s, l) => s + l.amount, 0),
            );
            const reversed = new Set(moves.map((m) => m.reverses).filter((r) => r !== undefined));
            const postingMoves = moves.filter(
              (m) => m.statement_line !== undefined && !reversed.has(m._id),
            );
            assert.equal(
              new Set(postingMoves.map((m) => m.statement_line)).size,
              postingMoves.length,
              'one posting move per line',
            );
            assert.deepEqual(
              postingMoves.map((m) => m.statement_line).sort(),
              posted.map((l) => l._id).sort(),
            );
            for (const l of posted)
              assert.ok(l.move && moves.some((m) => m._id === l.move), `${l._id} links its move`);
            for (const l of lines.filter((x) => x.pending || x.currency !== 'EUR'))
              assert.notEqual(l.state, 'posted');

            // Suspense holds exactly the money of posted lines not cleared by payments.
            const paid = (lineId: string) =>
              payments.filter((p) => p.statement_line === lineId).reduce((s, p) => s + p.amount, 0);
            for (const l of posted)
              assert.ok(paid(l._id) <= Math.abs(l.amount), `${l._id} is not over-cleared`);
            assert.equal(
              effect('1099'),
              neg(
                posted.reduce(
                  (s, l) => s + Math.sign(l.amount) * (Math.abs(l.amount) - paid(l._id)),
                  0,
                ),
              ),
            );

            // Residuals agree with the payments and with receivable / payable.
            for (const inv of invoices) {
              const sum = payments
                .filter((p) => p.invoice === inv._id)
                .reduce((s, p) => s + p.amount, 0);
              assert.equal(inv.residual, inv.total - sum, inv._id);
              assert.equal(
                inv.state,
                inv.residual === 0 ? 'paid' : inv.residual === inv.total ? 'open' : 'partial',
                inv._id,
              );
            }
            assert.equal(
              effect('1200'),
              invoices.filter((i) => i.kind === 'out_invoice').reduce((s, i) => s + i.residual, 0),
            );
            assert.equal(
              effect('2000'),
              neg(
                invoices.filter((i) => i.kind === 'in_invoice').reduce((s, i) => s + i.residual, 0),
              ),
            );

            // Running the automation once more settles; twice more changes nothing.
            await postStatementLines(store, 'all', MAPPING, opts);
            await reconcile(store, RULES, opts);
            const settled = await snapshot(store);
            await postStatementLines(store, 'all', MAPPING, opts);
            await reconcile(store, RULES, opts);
            assert.deepEqual(await snapshot(store), settled);
          } finally {
            await books.close();
          }
        },
      ),
      // Fixed seed: deterministic runs; LEDGER_PROPERTY_SEED explores others (and replays a failure).
      { numRuns: 30, seed: Number(process.env.LEDGER_PROPERTY_SEED ?? 20240301) },
    );
  });
});

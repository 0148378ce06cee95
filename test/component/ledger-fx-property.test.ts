import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type {
  BooksStore,
  InvoiceDoc,
  MoveDoc,
  MoveLine,
  StatementLineDoc,
  TransferDoc,
} from '../../src/ledger';
import {
  automateConnection,
  demoCompanyFile,
  ensureCompany,
  loadCompanyFile,
  undoReconciliation,
  type AutomationConfig,
  type AutomationPaymentDoc,
  type PostState,
} from '../../src/ledger/automation';
import { clock, openBooks, snapshot } from './ledger-auto-helpers';
import {
  ALL_CONNECTIONS,
  COMPANY,
  EXPONENT,
  FX_RULES,
  caseDocs,
  extraChart,
  rateDocs,
  rateOn,
  rational,
  roundHalfAway,
  world,
  type Currency,
  type World,
} from './ledger-fx-property-cases';
import { checkTransfers, transferredLines } from './ledger-fx-property-transfers';

/**
 * Property: an EUR company with bank connections and invoices in EUR, USD, JPY and KWD (and a
 * second EUR account), rates per day, and lines paying invoices exactly, short or over within the
 * write-off tolerance, in parts, at another rate than the invoice's, two invoices with one line,
 * paying nothing, or moving money between two own accounts (ledger-fx-property-cases.ts). After the
 * automation ran: every move balances in every currency and in company currency; each bank
 * account's books balance equals the sum of its posted lines, in its currency and, at each line's
 * rate, in EUR; lines and invoices without their rate wait; receivable and payable per partner equal
 * the open residuals, in company currency too (the paid share of a foreign invoice leaves at the
 * invoice's rate, the realised difference goes to fx_gain / fx_loss); suspense holds the unpaid
 * money; no write-off exceeds 2.00 EUR; the transfer account nets to zero in EUR and an unambiguous
 * transfer reconciles both its lines (ledger-fx-property-transfers.ts). Re-runs change no
 * document; an undo of any subset of lines (of a transfer's line: the whole transfer)
 * followed by a re-run leaves books that satisfy all of it again.
 *
 * The arithmetic below is the test's own (BigInt, from the rate documents' text), not the code's.
 */

const demo = loadCompanyFile(demoCompanyFile());

/** `amount` minor units of `c` in EUR cents at `rate` (1 EUR = rate c). */
function inEur(amount: number, c: Currency, rate: string | undefined): number {
  if (c === COMPANY) return amount;
  const r = rational(rate!);
  return roundHalfAway(BigInt(amount) * r.den * 100n, r.num * 10n ** BigInt(EXPONENT[c]));
}

/** `total × part / whole`, rounded half away from zero. */
function share(total: number, part: number, whole: number): number {
  return roundHalfAway(BigInt(total) * BigInt(part), BigInt(whole));
}

/** Without -0: deepEqual tells it from 0. */
const z = (x: number): number => x || 0;

interface Sums {
  own: number;
  company: number;
}

function sums(moves: readonly MoveDoc[], where: (l: MoveLine) => boolean): Sums {
  const out = { own: 0, company: 0 };
  for (const m of moves)
    for (const l of m.lines.filter(where)) {
      out.own += l.debit - l.credit;
      out.company += l.company ? l.company.debit - l.company.credit : l.debit - l.credit;
    }
  return out;
}

function checkMovesBalance(moves: readonly MoveDoc[]): void {
  for (const m of moves) {
    const perCurrency = new Map<string, number>();
    let company = 0;
    for (const l of m.lines) {
      perCurrency.set(l.currency, (perCurrency.get(l.currency) ?? 0) + l.debit - l.credit);
      if (l.currency !== COMPANY)
        assert.equal(l.company?.currency, COMPANY, `${m._id}: ${l.account} has its EUR amount`);
      company += l.company ? l.company.debit - l.company.credit : l.debit - l.credit;
    }
    for (const [c, net] of perCurrency) assert.equal(net, 0, `${m._id} balances in ${c}`);
    assert.equal(company, 0, `${m._id} balances in ${COMPANY}`);
  }
}

/**
 * All of the property's checks; `settled`: the automation ran last (not an undo), so every
 * generated transfer whose pair is unambiguous is booked.
 */
async function checkBooks(store: BooksStore, w: World, settled: boolean): Promise<void> {
  const moves = await store.allOfType<MoveDoc>('move');
  const lines = await store.allOfType<StatementLineDoc>('statement_line');
  const invoices = await store.allOfType<InvoiceDoc>('invoice');
  const payments = (await store.allOfType<AutomationPaymentDoc>('payment')).filter(
    (p) => p.state !== 'cancelled',
  );
  const transferred = transferredLines(await store.allOfType<TransferDoc>('transfer'));
  checkMovesBalance(moves);
  checkTransfers({ w, moves, lines, payments, transferred, settled });

  // Lines and invoices wait for their rate; with it they are posted (or created) at it.
  for (const l of lines) {
    const has = rateOn(w, l.currency as Currency, l.date) !== undefined;
    assert.ok(has ? l.state === 'posted' || l.state === 'reconciled' : l.state === 'new', l._id);
  }
  const expected = caseDocs(w.cases, w.rates).invoices;
  for (const inv of expected) {
    const found = invoices.find((i) => i._id === inv._id);
    const r = rateOn(w, inv.currency as Currency, inv.date);
    assert.equal(found !== undefined, r !== undefined, `${inv._id} exists once its rate does`);
    if (found && inv.currency !== COMPANY)
      assert.equal(found.company?.total, inEur(inv.total, inv.currency as Currency, r), inv._id);
  }

  // A line of a transfer is cleared in full: its move takes the line's whole suspense.
  const paidOf = (line: StatementLineDoc) =>
    transferred.has(line._id)
      ? Math.abs(line.amount)
      : payments.filter((p) => p.statement_line === line._id).reduce((s, p) => s + p.amount, 0);
  for (const m of ALL_CONNECTIONS) {
    const c = m.currency as Currency;
    const posted = lines.filter(
      (l) => l.connection === m.connection && (l.state === 'posted' || l.state === 'reconciled'),
    );
    const lineEur = (l: StatementLineDoc) => inEur(l.amount, c, rateOn(w, c, l.date));
    const bank = sums(moves, (l) => l.account === m.bank_account);
    assert.equal(
      bank.own,
      posted.reduce((s, l) => s + l.amount, 0),
      `bank ${c}`,
    );
    assert.equal(
      bank.company,
      posted.reduce((s, l) => s + lineEur(l), 0),
      `bank ${c} in EUR`,
    );
    // Suspense holds what the payments left of each line; in EUR, the line's rate share of it.
    const suspense = sums(moves, (l) => l.account === m.suspense_account);
    let own = 0;
    let company = 0;
    for (const l of posted) {
      const whole = Math.abs(l.amount);
      const paid = paidOf(l);
      assert.ok(paid <= whole, `${l._id} is not over-cleared`);
      const eur = Math.abs(lineEur(l));
      own -= Math.sign(l.amount) * (whole - paid);
      company -= Math.sign(l.amount) * (eur - share(eur, paid, whole));
    }
    assert.deepEqual(
      [suspense.own, suspense.company].map(z),
      [own, company].map(z),
      `suspense ${c}`,
    );
  }

  // Residuals agree with the payments, and with receivable / payable per partner and currency.
  for (const inv of invoices) {
    const cleared = payments
      .filter((p) => p.invoice === inv._id)
      .reduce((s, p) => s + p.amount + (p.write_off?.amount ?? 0), 0);
    assert.equal(inv.residual, inv.total - cleared, inv._id);
    const state = inv.residual === 0 ? 'paid' : inv.residual === inv.total ? 'open' : 'partial';
    assert.equal(inv.state, state, inv._id);
  }
  const groups = new Set(invoices.map((i) => `${i.kind}|${i.partner}|${i.currency}`));
  for (const g of groups) {
    const [kind, partner, c] = g.split('|');
    const account = kind === 'out_invoice' ? demo.roles.receivable : demo.roles.payable;
    const sign = kind === 'out_invoice' ? 1 : -1;
    const mine = invoices.filter((i) => `${i.kind}|${i.partner}|${i.currency}` === g);
    const open = {
      own: sign * mine.reduce((s, i) => s + i.residual, 0),
      company:
        sign *
        mine.reduce((s, i) => {
          const total = i.company?.total ?? i.total;
          return s + total - share(total, i.total - i.residual, i.total);
        }, 0),
    };
    const books = sums(
      moves,
      (l) => l.account === account && l.partner === partner && l.currency === c,
    );
    const where = `${account} of ${partner} in ${c}`;
    assert.equal(z(books.own), z(open.own), where);
    // A paid or unpaid invoice is exact in EUR; a partly paid one is its paid share at the
    // invoice's rate, within a cent of rounding once a payment in the middle was undone.
    const partial = c === COMPANY ? 0 : mine.filter((i) => i.state === 'partial').length;
    assert.ok(
      Math.abs(books.company - open.company) <= partial,
      `${where} in EUR: ${books.company} ≠ ${open.company}`,
    );
  }

  // No write-off is worth more than the tolerance, 2.00 EUR, at its line's rate.
  for (const p of payments.filter((x) => x.write_off)) {
    const c = p.currency as Currency;
    const r = rational(rateOn(w, c, p.date) ?? '1');
    const eurCentsTimesRate = BigInt(Math.abs(p.write_off!.amount)) * r.den * 100n;
    assert.ok(eurCentsTimesRate <= 200n * r.num * 10n ** BigInt(EXPONENT[c]), p._id);
  }
}

/** Runs: tens in CI; LEDGER_FX_PROPERTY_RUNS explores more (a run takes well under a second). */
const RUNS = Number(process.env.LEDGER_FX_PROPERTY_RUNS ?? 25);

describe('ledger automation: property — currencies and write-offs keep the books right', function () {
  this.timeout(60_000 + RUNS * 5_000);

  it('moves balance in every currency and in EUR, banks, receivables and suspense agree; re-runs and undos keep it so', async () => {
    await fc.assert(
      fc.asyncProperty(
        world,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom<PostState>('posted', 'draft'),
        async (w, undo, state) => {
          const books = await openBooks();
          try {
            const { store } = books;
            const { invoices, lines } = caseDocs(w.cases, w.rates);
            await store.putMany([...rateDocs(w.rates), ...extraChart()]);
            await ensureCompany(store, { ...demo, invoices });
            await store.putMany(lines);
            const config: AutomationConfig = {
              connections: [...ALL_CONNECTIONS],
              rules: FX_RULES,
              company_currency: COMPANY,
              post_moves: state,
              clock,
            };
            const automate = async () => {
              for (const m of config.connections)
                await automateConnection(store, m.connection, config);
            };
            const rerunChangesNothing = async () => {
              const settled = await snapshot(store);
              await automate();
              assert.deepEqual(await snapshot(store), settled);
            };

            await automate();
            await checkBooks(store, w, true);
            await rerunChangesNothing();

            for (const pick of undo)
              await undoReconciliation(store, lines[pick % lines.length]._id, config);
            await checkBooks(store, w, false);
            await automate();
            await checkBooks(store, w, true);
            await rerunChangesNothing();
          } finally {
            await books.close();
          }
        },
      ),
      // Fixed seed: deterministic in CI; LEDGER_FX_PROPERTY_SEED / _RUNS explore more (and replay a failure).
      {
        numRuns: RUNS,
        seed: Number(process.env.LEDGER_FX_PROPERTY_SEED ?? 20241205),
      },
    );
  });
});

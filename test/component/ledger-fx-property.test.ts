import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type { BooksStore, InvoiceDoc, MoveDoc, MoveLine, StatementLineDoc } from '../../src/ledger';
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
  COMPANY,
  CONNECTIONS,
  CURRENCIES,
  EXPONENT,
  FX_RULES,
  caseDocs,
  extraChart,
  rateDocs,
  world,
  type Currency,
  type World,
} from './ledger-fx-property-cases';

/**
 * Property: an EUR company with bank connections and invoices in EUR, USD, JPY and KWD, rates per
 * day, and lines paying invoices exactly, short or over within the write-off tolerance, in parts,
 * at another rate than the invoice's, two invoices with one line, or paying nothing
(ledger-fx-property-cases.ts). After the
 * automation ran: every move balances in every currency and in company currency; each bank
 * account's books balance equals the sum of its posted lines, in its currency and, at each line's
 * rate, in EUR; lines and invoices without their rate wait; receivable and payable per partner equal
 * the open residuals, in company currency too (the paid share of a foreign invoice leaves at the
 * invoice's rate, the realised difference goes to fx_gain / fx_loss); suspense holds the unpaid
 * money; no write-off exceeds 2.00 EUR. Re-runs change no document; an undo of any subset of lines
 * followed by a re-run leaves books that satisfy all of it again.
 *
 * The arithmetic below is the test's own (BigInt, from the rate documents' text), not the code's.
 */

const demo = loadCompanyFile(demoCompanyFile());

/** `num / den` rounded half away from zero (den > 0). */
function roundHalfAway(num: bigint, den: bigint): number {
  const abs = num < 0n ? -num : num;
  const q = abs / den + (2n * (abs % den) >= den ? 1n : 0n);
  return Number(num < 0n ? -q : q);
}

/** 1 EUR = `rate` units of `c`: the rational num/den from its decimal text. */
function rational(rate: string): { num: bigint; den: bigint } {
  const [int, frac = ''] = rate.split('.');
  return { num: BigInt(int + frac), den: 10n ** BigInt(frac.length) };
}

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

/** The rate text of `c` on `day`, undefined when it is not published (EUR: always "1"). */
function rateOn(w: World, c: Currency, date: string): string | undefined {
  if (c === COMPANY) return '1';
  const s = w.rates.find((r) => r.currency === c)!;
  const day = Number(date.slice(8)) - 1;
  return day <= s.until ? s.values[day] : undefined;
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

async function checkBooks(store: BooksStore, w: World): Promise<void> {
  const moves = await store.allOfType<MoveDoc>('move');
  const lines = await store.allOfType<StatementLineDoc>('statement_line');
  const invoices = await store.allOfType<InvoiceDoc>('invoice');
  const payments = (await store.allOfType<AutomationPaymentDoc>('payment')).filter(
    (p) => p.state !== 'cancelled',
  );
  checkMovesBalance(moves);

  // Lines and invoices wait for their rate; with it they are posted (or created) at it.
  for (const l of lines) {
    const has = rateOn(w, l.currency as Currency, l.date) !== undefined;
    assert.ok(has ? l.state === 'posted' || l.state === 'reconciled' : l.state === 'new', l._id);
  }
  const expected = caseDocs(w.cases).invoices;
  for (const inv of expected) {
    const found = invoices.find((i) => i._id === inv._id);
    const r = rateOn(w, inv.currency as Currency, inv.date);
    assert.equal(found !== undefined, r !== undefined, `${inv._id} exists once its rate does`);
    if (found && inv.currency !== COMPANY)
      assert.equal(found.company?.total, inEur(inv.total, inv.currency as Currency, r), inv._id);
  }

  const paidOf = (line: string) =>
    payments.filter((p) => p.statement_line === line).reduce((s, p) => s + p.amount, 0);
  for (const c of CURRENCIES) {
    const m = CONNECTIONS[c];
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
      const paid = paidOf(l._id);
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
            const { invoices, lines } = caseDocs(w.cases);
            await store.putMany([...rateDocs(w.rates), ...extraChart()]);
            await ensureCompany(store, { ...demo, invoices });
            await store.putMany(lines);
            const config: AutomationConfig = {
              connections: Object.values(CONNECTIONS),
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
            await checkBooks(store, w);
            await rerunChangesNothing();

            for (const pick of undo)
              await undoReconciliation(store, lines[pick % lines.length]._id, config);
            await checkBooks(store, w);
            await automate();
            await checkBooks(store, w);
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

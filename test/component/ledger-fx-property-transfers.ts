import { strict as assert } from 'node:assert';
import type { MoveDoc, StatementLineDoc, TransferDoc } from '../../src/ledger';
import type { AutomationPaymentDoc } from '../../src/ledger/automation';
import {
  COMPANY,
  EXPONENT,
  TRANSFER_ACCOUNT,
  TRANSFER_DAYS,
  TRANSFER_PERCENT,
  caseDocs,
  rateOn,
  rational,
  roundHalfAway,
  type Currency,
  type World,
} from './ledger-fx-property-cases';

/**
 * The transfer checks of the currency property (ledger-fx-property.test.ts; README, "Transfers
 * between own accounts"): the transfer account nets to zero in company currency, an active
 * transfer holds two reconciled lines that nothing else clears, a reconciled line is cleared by
 * payments or by a transfer (an undo of either line undid the whole transfer), and, after the
 * automation ran, every generated transfer whose pair is unambiguous is booked as one transfer and
 * one beyond the tolerance is not.
 */

/** Statement line id → its active transfer; a line in two active transfers fails. */
export function transferredLines(transfers: readonly TransferDoc[]): Map<string, TransferDoc> {
  const out = new Map<string, TransferDoc>();
  for (const t of transfers.filter((x) => x.state !== 'cancelled'))
    for (const line of [t.from.line, t.to.line]) {
      assert.equal(out.get(line), undefined, `${line} is in one active transfer`);
      out.set(line, t);
    }
  return out;
}

export interface TransferBooks {
  w: World;
  moves: readonly MoveDoc[];
  lines: readonly StatementLineDoc[];
  /** Active payments. */
  payments: readonly AutomationPaymentDoc[];
  transferred: ReadonlyMap<string, TransferDoc>;
  /** The automation ran last: generated transfers are expected booked. */
  settled: boolean;
}

export function checkTransfers(b: TransferBooks): void {
  let company = 0;
  for (const m of b.moves)
    for (const l of m.lines.filter((x) => x.account === TRANSFER_ACCOUNT))
      company += l.company ? l.company.debit - l.company.credit : l.debit - l.credit;
  assert.equal(company, 0, `${TRANSFER_ACCOUNT} nets to zero in ${COMPANY}`);

  const byId = new Map(b.lines.map((l) => [l._id, l]));
  const paid = new Set(b.payments.map((p) => p.statement_line));
  for (const [id, t] of b.transferred) {
    assert.equal(byId.get(id)?.state, 'reconciled', `${id} of ${t._id} is reconciled`);
    assert.ok(!paid.has(id), `${id} of ${t._id} pays nothing else`);
  }
  for (const l of b.lines.filter((x) => x.state === 'reconciled'))
    assert.ok(paid.has(l._id) || b.transferred.has(l._id), `${l._id} is cleared by something`);
  if (!b.settled) return;

  for (const t of caseDocs(b.w.cases, b.w.rates).transfers) {
    const pairedWith = b.transferred.get(t.from)?.to.line;
    if (t.far) assert.notEqual(pairedWith, t.to, `${t.from} → ${t.to} is beyond the tolerance`);
    else if (unambiguous(b, byId.get(t.from)!, byId.get(t.to)!, paid))
      assert.equal(pairedWith, t.to, `${t.from} → ${t.to} is one transfer`);
  }
}

/**
 * Whether the pair can only be booked as a transfer: both lines posted with the rates of the
 * outgoing day, neither paying an invoice, and no other line near enough (in date and, roughly,
 * in EUR value) to be a candidate of either.
 */
function unambiguous(
  b: TransferBooks,
  from: StatementLineDoc,
  to: StatementLineDoc,
  paid: ReadonlySet<string | undefined>,
): boolean {
  const live = (l: StatementLineDoc) => l.state === 'posted' || l.state === 'reconciled';
  if (!live(from) || !live(to) || paid.has(from._id) || paid.has(to._id)) return false;
  if (rateOn(b.w, to.currency as Currency, from.date) === undefined) return false;
  const rival = (x: StatementLineDoc, other: StatementLineDoc) =>
    other._id !== from._id &&
    other._id !== to._id &&
    live(other) &&
    other.connection !== x.connection &&
    Math.sign(other.amount) !== Math.sign(x.amount) &&
    Math.abs(dayNumber(other.date) - dayNumber(x.date)) <= TRANSFER_DAYS &&
    near(roughEur(b.w, x), roughEur(b.w, other));
  return !b.lines.some((l) => rival(from, l) || rival(to, l));
}

function dayNumber(date: string): number {
  return Number(date.slice(8));
}

/** EUR cents of the line at the generated rate of its day, published or not. */
function roughEur(w: World, l: StatementLineDoc): number {
  const c = l.currency as Currency;
  if (c === COMPANY) return Math.abs(l.amount);
  const r = rational(w.rates.find((s) => s.currency === c)!.values[dayNumber(l.date) - 1]);
  return roundHalfAway(
    BigInt(Math.abs(l.amount)) * r.den * 100n,
    r.num * 10n ** BigInt(EXPONENT[c]),
  );
}

/** Within three times the rule's tolerance, plus 2.00 EUR: far more than any candidate can be. */
function near(a: number, b: number): boolean {
  return Math.abs(a - b) * 100 <= 3 * TRANSFER_PERCENT * Math.max(a, b) + 20_000;
}

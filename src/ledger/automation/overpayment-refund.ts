import { formatAmount } from '../../shared/money';
import { type InvoiceDoc, type MoveDoc, type PartnerDoc, type StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { docsWithPrefix } from './books';
import { AutomationError } from './errors';
import { linePaymentPrefix, paymentDocId, paymentMoveId } from './ids';
import { postState, type AutomationOptions, type ConnectionMapping } from './options';
import type { ManualReconciliation } from './manual';
import {
  isActive,
  loadLine,
  mappingFor,
  openAmount,
  type AutomationPaymentDoc,
  type PaymentMade,
  type ReconcileOptions,
} from './payments';
import { linePartners } from './rules';

/**
 * Refunds of overpayments (README, "Refunds and credit notes"). A customer who pays more than an
 * invoice asks (for instance the full amount after a credit note lowered it) leaves the rest of
 * the incoming line in suspense. A later outgoing line that sends exactly that rest back to the
 * same partner is its refund: one move in the outgoing line's journal clears the incoming line's
 * suspense against the outgoing line's, both with the partner.
 *
 * The audit record is a pair of payments, one on each line (`counterpart_line`, and `invoice`,
 * name the other line), sharing the move; no invoice is involved, so no residual changes. Each
 * line's money still in suspense stays its amount minus its active payments, and an undo of
 * either line voids both halves.
 */

export const REFUND_RULE = 'overpayment_refund';

/** An incoming line whose money was partly paid to one partner's invoices, the rest in suspense. */
export interface Overpaid {
  line: StatementLineDoc;
  mapping: ConnectionMapping;
  /** Minor units still in suspense. */
  open: number;
  partner: string;
  /** The last invoice the line paid: the one it overpaid (absent: money that came in by mistake). */
  invoice?: string;
}

/** The partner and last invoice of a line's active invoice payments, when they name one partner. */
function overpaidOf(
  line: StatementLineDoc,
  payments: readonly AutomationPaymentDoc[],
): { partner: string; invoice: string } | undefined {
  // Payments of invoices only: not a duplicate's match (`entry`) nor a refund (`counterpart_line`).
  const paid = payments.filter(
    (p) => isActive(p) && !p.entry && !p.counterpart_line && p.invoice.startsWith('invoice:'),
  );
  const partners = new Set(paid.map((p) => p.partner));
  if (paid.length === 0 || partners.size !== 1) return undefined;
  const last = [...paid].sort((a, b) => (a._id < b._id ? -1 : 1))[paid.length - 1];
  return { partner: last.partner!, invoice: last.invoice };
}

/**
 * The incoming lines of the mapped connections that overpaid an invoice: reconciled, with money
 * left in suspense and one partner. `payments` are all payments of the books.
 */
export function overpaidLines(
  lines: readonly StatementLineDoc[],
  payments: readonly AutomationPaymentDoc[],
  opts: ReconcileOptions,
): Overpaid[] {
  const out: Overpaid[] = [];
  for (const line of lines) {
    const mapping = mappingFor(opts, line.connection);
    // A line reconciled earlier in the same run may still read `posted` here; its payments tell.
    if (line.amount <= 0 || line.pending || line.state === 'new' || line.state === 'deleted')
      continue;
    if (!mapping) continue;
    const mine = payments.filter((p) => p.statement_line === line._id);
    const open = openAmount(line, mine);
    const of = open > 0 ? overpaidOf(line, mine) : undefined;
    if (of) out.push({ line, mapping, open, ...of });
  }
  return out.sort(
    (a, b) => a.line.date.localeCompare(b.line.date) || (a.line._id < b.line._id ? -1 : 1),
  );
}

/**
 * The overpayment an outgoing line refunds: the oldest overpaid incoming line, in the same
 * currency and not later, whose rest equals the line's open amount exactly and whose partner the
 * line goes to (by counterparty IBAN or name). A line in a foreign currency is left alone: its
 * two halves sit on suspense at the rates of two dates.
 */
export function findOverpayment(
  line: StatementLineDoc,
  open: number,
  overpaid: readonly Overpaid[],
  partners: ReadonlyMap<string, PartnerDoc>,
  opts: AutomationOptions,
): Overpaid | undefined {
  if (line.amount >= 0) return undefined;
  if (opts.company_currency !== undefined && line.currency !== opts.company_currency)
    return undefined;
  const to = new Set(linePartners(line, partners));
  return overpaid.find(
    (o) =>
      o.open === open &&
      o.line.currency === line.currency &&
      o.line.date <= line.date &&
      to.has(o.partner),
  );
}

/**
 * The documents that book `amount` of outgoing `line` as the refund of `over`: the move, a
 * payment on each line, and both lines reconciled. `mine` / `theirs` are all payments of each line.
 */
export function refundWrites(
  line: StatementLineDoc,
  mapping: ConnectionMapping,
  over: Overpaid,
  amount: number,
  mine: readonly AutomationPaymentDoc[],
  invoice: InvoiceDoc | undefined,
  rule: string,
  opts: AutomationOptions,
): { docs: Array<MoveDoc | AutomationPaymentDoc | StatementLineDoc>; made: PaymentMade } {
  const n = mine.filter((p) => p.counterpart_line === over.line._id).length + 1;
  const outId = paymentDocId(line._id, over.line._id, n);
  const inId = paymentDocId(over.line._id, line._id, n);
  const moveId = paymentMoveId(mapping.journal, line._id, over.line._id, n);
  const label = `Refund of the overpayment on ${invoice?.number ?? over.invoice ?? over.line._id}`;
  const side = (account: string, debit: boolean) => ({
    account,
    partner: over.partner,
    label,
    debit: debit ? amount : 0,
    credit: debit ? 0 : amount,
    currency: line.currency,
  });
  const move: MoveDoc & { payment: string } = {
    _id: moveId,
    type: 'move',
    journal: mapping.journal,
    date: line.date,
    ref: label,
    state: postState(opts),
    lines: [side(over.mapping.suspense_account, true), side(mapping.suspense_account, false)],
    payment: outId,
  };
  const payment = (
    id: string,
    of: StatementLineDoc,
    other: StatementLineDoc,
  ): AutomationPaymentDoc => ({
    _id: id,
    type: 'payment',
    partner: over.partner,
    statement_line: of._id,
    // No invoice is involved: like a duplicate's match, `invoice` names what was cleared.
    invoice: other._id,
    counterpart_line: other._id,
    ...(over.invoice ? { overpaid_invoice: over.invoice } : {}),
    move: moveId,
    date: line.date,
    amount,
    currency: line.currency,
    state: 'posted',
    rule,
  });
  const docs: Array<MoveDoc | AutomationPaymentDoc | StatementLineDoc> = [
    move,
    payment(outId, line, over.line),
    payment(inId, over.line, line),
    { ...line, state: 'reconciled' },
  ];
  if (over.line.state !== 'reconciled') docs.push({ ...over.line, state: 'reconciled' });
  return {
    docs,
    made: {
      line: line._id,
      invoice: over.invoice ?? over.line._id,
      counterpart_line: over.line._id,
      payment: outId,
      move: moveId,
      amount,
      currency: line.currency,
      residual: invoice?.residual ?? 0,
      invoice_state: invoice?.state ?? 'paid',
      rule,
      reason: `refund of ${formatAmount(amount, line.currency)} overpaid by ${over.line._id} (partner ${over.partner})`,
    },
  };
}

export function logRefund(opts: AutomationOptions, made: PaymentMade): void {
  opts.logger?.info(
    `${made.line} refunds ${formatAmount(made.amount, made.currency)} ${made.currency} overpaid by ${made.counterpart_line} on ${made.invoice} (${made.rule})`,
    {
      event: 'ledger.refund',
      line: made.line,
      counterpart_line: made.counterpart_line,
      invoice: made.invoice,
      payment: made.payment,
      move: made.move,
      amount: made.amount,
      currency: made.currency,
      rule: made.rule,
    },
  );
}

/**
 * By hand (`booksync reconcile OUT --with IN`): `line` refunds the money incoming line `inId`
 * left in suspense. The incoming line need not be an overpayment of an invoice (money received by
 * mistake and sent back is refunded the same way); the partner is then taken from it.
 */
export async function refundByHand(
  store: BooksStore,
  line: StatementLineDoc,
  mapping: ConnectionMapping,
  mine: readonly AutomationPaymentDoc[],
  open: number,
  incoming: StatementLineDoc,
  partners: ReadonlyMap<string, PartnerDoc>,
  opts: ReconcileOptions,
): Promise<{ docs: Array<MoveDoc | AutomationPaymentDoc | StatementLineDoc>; made: PaymentMade }> {
  const refuse = (what: string): never => {
    throw new AutomationError(
      'LEDGER_RECONCILE_REFUSED',
      `${line._id} with ${incoming._id}: ${what}`,
      {
        details: { line: line._id, counterpart_line: incoming._id },
      },
    );
  };
  if (line.amount >= 0) refuse('only money out refunds an incoming line');
  if (incoming.amount <= 0)
    refuse(`${incoming._id} is money out; a refund sends back money that came in`);
  if (incoming.pending || (incoming.state !== 'posted' && incoming.state !== 'reconciled'))
    refuse(`${incoming._id} is ${incoming.pending ? 'pending' : incoming.state}, not posted`);
  if (incoming.currency !== line.currency)
    refuse(`${incoming._id} is in ${incoming.currency}, the line in ${line.currency}`);
  if (opts.company_currency !== undefined && line.currency !== opts.company_currency)
    refuse(`refunds in a foreign currency (${line.currency}) are not booked automatically yet`);
  const theirMapping =
    mappingFor(opts, incoming.connection) ??
    refuse(`connection ${incoming.connection} has no ledger mapping`);
  const theirs = await docsWithPrefix<AutomationPaymentDoc>(store, linePaymentPrefix(incoming._id));
  const rest = openAmount(incoming, theirs);
  if (rest <= 0) refuse(`nothing of ${incoming._id} is left in suspense`);
  const of = overpaidOf(incoming, theirs);
  const partner = of?.partner ?? linePartners(incoming, partners)[0];
  if (!partner)
    refuse(`no partner is known for ${incoming._id} (no invoice paid, no IBAN or name)`);
  const over: Overpaid = {
    line: incoming,
    mapping: theirMapping,
    open: rest,
    partner,
    ...(of ? { invoice: of.invoice } : {}),
  };
  const invoice = of ? await store.get<InvoiceDoc>(of.invoice) : undefined;
  return refundWrites(line, mapping, over, Math.min(open, rest), mine, invoice, 'manual', opts);
}

/**
 * For an undo of `lineId`: the other line's half of each refund payment just voided, voided too
 * (with the same reversal), and that line back to posted when none of its payments stays active.
 */
export async function voidRefundHalves(
  store: BooksStore,
  lineId: string,
  voided: readonly AutomationPaymentDoc[],
): Promise<Array<AutomationPaymentDoc | StatementLineDoc>> {
  const byLine = new Map<string, AutomationPaymentDoc[]>();
  for (const p of voided)
    if (p.counterpart_line)
      byLine.set(p.counterpart_line, [...(byLine.get(p.counterpart_line) ?? []), p]);
  const out: Array<AutomationPaymentDoc | StatementLineDoc> = [];
  for (const [other, mine] of byLine) {
    const theirs = (
      await docsWithPrefix<AutomationPaymentDoc>(store, linePaymentPrefix(other))
    ).filter(isActive);
    let left = theirs.length;
    for (const half of theirs) {
      const p = mine.find((m) => half.counterpart_line === lineId && half.move === m.move);
      if (!p) continue;
      out.push({
        ...half,
        state: 'cancelled',
        ...(p.reversed_by ? { reversed_by: p.reversed_by } : {}),
      });
      left--;
    }
    const line = await store.get<StatementLineDoc>(other);
    if (line?.state === 'reconciled' && left === 0) out.push({ ...line, state: 'posted' });
  }
  return out;
}

/**
 * The reconcile run's last resort for an outgoing line no rule matched: the refund of an
 * overpayment (`findOverpayment`). Reads the statement lines once; sees the payments the run
 * writes through the shared `payments` array.
 */
export class OverpaymentRefunds {
  private lines: StatementLineDoc[] | undefined;

  constructor(
    private readonly store: BooksStore,
    private readonly opts: ReconcileOptions,
    private readonly payments: AutomationPaymentDoc[],
    private readonly partners: ReadonlyMap<string, PartnerDoc>,
    private readonly invoices: ReadonlyMap<string, InvoiceDoc>,
  ) {}

  async book(
    line: StatementLineDoc,
    mapping: ConnectionMapping,
    open: number,
    mine: readonly AutomationPaymentDoc[],
  ): Promise<PaymentMade | undefined> {
    if (line.amount >= 0) return undefined;
    this.lines ??= await this.store.allOfType<StatementLineDoc>('statement_line');
    const overpaid = overpaidLines(this.lines, this.payments, this.opts);
    const over = findOverpayment(line, open, overpaid, this.partners, this.opts);
    if (!over) return undefined;
    // The cached copy may be older than this run's writes.
    const current = await this.store.get<StatementLineDoc>(over.line._id);
    if (!current) return undefined;
    const { docs, made } = refundWrites(
      line,
      mapping,
      { ...over, line: current },
      open,
      mine,
      over.invoice ? this.invoices.get(over.invoice) : undefined,
      REFUND_RULE,
      this.opts,
    );
    const written = await this.store.putMany(docs);
    for (const d of written) if (d.type === 'payment') this.payments.push(d);
    logRefund(this.opts, made);
    return made;
  }
}

/**
 * `booksync reconcile OUT --with IN` where IN is a statement line (`stl:...`): books `line` as the
 * refund of what IN left in suspense (`refundByHand`). Idempotent like the invoice case.
 */
export async function reconcileRefund(
  store: BooksStore,
  line: StatementLineDoc,
  mapping: ConnectionMapping,
  incomingId: string,
  opts: ReconcileOptions,
): Promise<ManualReconciliation> {
  const mine = await docsWithPrefix<AutomationPaymentDoc>(store, linePaymentPrefix(line._id));
  const open = openAmount(line, mine);
  const current = mine.find((p) => isActive(p) && p.counterpart_line === incomingId);
  if (current) {
    return {
      already: true,
      open,
      payment: {
        line: line._id,
        invoice: current.overpaid_invoice ?? incomingId,
        counterpart_line: incomingId,
        payment: current._id,
        move: current.move,
        amount: current.amount,
        currency: current.currency,
        residual: 0,
        invoice_state: 'paid',
        rule: current.rule ?? 'manual',
        reason: 'already reconciled',
      },
    };
  }
  if (open <= 0)
    throw new AutomationError(
      'LEDGER_RECONCILE_REFUSED',
      `${line._id} with ${incomingId}: nothing of the line is left in suspense`,
      { details: { line: line._id, counterpart_line: incomingId } },
    );
  const incoming = await loadLine(store, incomingId);
  const partners = new Map((await store.allOfType<PartnerDoc>('partner')).map((p) => [p._id, p]));
  const { docs, made } = await refundByHand(
    store,
    line,
    mapping,
    mine,
    open,
    incoming,
    partners,
    opts,
  );
  await store.putMany(docs);
  logRefund(opts, made);
  return { already: false, open: open - made.amount, payment: made };
}

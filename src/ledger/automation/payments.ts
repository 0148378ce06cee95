import { formatAmount } from '../../shared/money';
import {
  isCreditNote,
  isCustomerKind,
  type InvoiceDoc,
  type MoveDoc,
  type PaymentDoc,
  type StatementLineDoc,
} from '../model';
import { stagedAmong } from '../staged-imports';
import type { BooksStore } from '../store';
import { checkAccountsExist } from './books';
import { AutomationError } from './errors';
import { paymentDocId, paymentMoveId } from './ids';
import {
  postState,
  type AccountRoles,
  type AutomationOptions,
  type ConnectionMapping,
} from './options';
import { type WriteOffMade } from './write-off';

/**
 * Reconciliation (README, "Ledger automation"). A posted statement line sits on the suspense
 * account; a match books a payment move in the line's journal that clears suspense against the
 * receivable (money in, sales invoice; money out, customer credit note) or payable (money out,
 * bill; money in, vendor credit note) account with the invoice's partner, writes a payment
 * document and lowers the invoice's residual (paid, or partial).
 * An overpayment pays the invoice and leaves the rest in suspense; an underpayment leaves the
 * residual open. Each line's match is one atomic write (one LevelDB batch): payment moves,
 * payments, invoices and the line.
 *
 * Ids are deterministic (`payment:<line hash>-<invoice hash>-<n>`, `move:<journal>:pay:<same>`),
 * `n` counting earlier, undone attempts of the same pair. An undo never edits a posted move: it
 * writes its reversal and voids the payment (`state: cancelled`, kept for the audit trail).
 */

/** A payment as the automation writes it: the model's fields plus its state and provenance. */
export type AutomationPaymentDoc = PaymentDoc & {
  /** `cancelled` once undone; the document is kept (audit trail, and it keeps attempt ids unique). */
  state?: 'posted' | 'cancelled';
  /** The rule that matched (`manual` for `reconcileLine`). */
  rule?: string;
  /** The move that reversed the payment move on undo. */
  reversed_by?: string;
  /** The difference booked to an account so the invoice is paid in full. */
  write_off?: WriteOffMade;
  /**
   * The hand-made move this line was matched with as its duplicate (duplicate.ts); `invoice`
   * then holds the same move id, and no invoice is involved.
   */
  entry?: string;
  /**
   * A refund of an overpayment: the statement line at the other end (overpayment-refund.ts);
   * `invoice` then holds the same line id, and no invoice is involved.
   */
  counterpart_line?: string;
  /** A refund of an overpayment: the invoice the incoming line overpaid. */
  overpaid_invoice?: string;
};

export interface ReconcileOptions extends AutomationOptions {
  /** Mappings of the connections whose lines are reconciled; lines of other connections are left alone. */
  connections: readonly ConnectionMapping[];
}

export interface PaymentMade {
  line: string;
  /** The invoice paid; for a refund of an overpayment, the overpaid invoice (or line). */
  invoice: string;
  /** A refund of an overpayment: the incoming line refunded. */
  counterpart_line?: string;
  payment: string;
  move: string;
  /** Minor units cleared (> 0). */
  amount: number;
  currency: string;
  /** Invoice residual after the payment, and its state. */
  residual: number;
  invoice_state: InvoiceDoc['state'];
  rule: string;
  reason: string;
  write_off?: WriteOffMade;
}

export const OPEN_STATES: ReadonlySet<InvoiceDoc['state']> = new Set(['open', 'partial']);

export function isActive(p: AutomationPaymentDoc): boolean {
  return p.state !== 'cancelled';
}

export function mappingFor(
  opts: ReconcileOptions,
  connection: string,
): ConnectionMapping | undefined {
  return opts.connections.find((m) => m.connection === connection);
}

export function checkRoleAccounts(store: BooksStore, roles: AccountRoles): Promise<void> {
  return checkAccountsExist(store, { receivable: roles.receivable, payable: roles.payable });
}

/** Money of the line still in suspense: its absolute amount minus its active payments. */
export function openAmount(
  line: StatementLineDoc,
  payments: readonly AutomationPaymentDoc[],
): number {
  return Math.abs(line.amount) - payments.filter(isActive).reduce((s, p) => s + p.amount, 0);
}

/**
 * The invoice kinds a line pays: money in pays sales invoices and vendor credit notes (a supplier
 * refund), money out pays bills and customer credit notes (a customer refund).
 */
export function kindsFor(line: StatementLineDoc): ReadonlyArray<InvoiceDoc['kind']> {
  return line.amount > 0 ? ['out_invoice', 'in_refund'] : ['in_invoice', 'out_refund'];
}

/** Oldest due first, then oldest date, then id: the order money is allocated in. */
export function byDue(a: InvoiceDoc, b: InvoiceDoc): number {
  return (
    a.due_date.localeCompare(b.due_date) ||
    a.date.localeCompare(b.date) ||
    (a._id < b._id ? -1 : a._id > b._id ? 1 : 0)
  );
}

export interface Allocation {
  invoice: InvoiceDoc;
  amount: number;
}

/**
 * The documents that book `allocations` of `line`: a payment move, payment and invoice update per
 * allocation, and the line marked reconciled. `existing` are all payments of the line so far.
 */
export function paymentWrites(
  line: StatementLineDoc,
  mapping: ConnectionMapping,
  allocations: readonly Allocation[],
  existing: readonly AutomationPaymentDoc[],
  rule: string,
  reason: string,
  roles: AccountRoles,
  opts: AutomationOptions,
): {
  docs: Array<MoveDoc | AutomationPaymentDoc | InvoiceDoc | StatementLineDoc>;
  made: PaymentMade[];
} {
  const docs: Array<MoveDoc | AutomationPaymentDoc | InvoiceDoc | StatementLineDoc> = [];
  const made: PaymentMade[] = [];
  for (const { invoice, amount } of allocations) {
    const n = existing.filter((p) => p.invoice === invoice._id).length + 1;
    const pid = paymentDocId(line._id, invoice._id, n);
    const mid = paymentMoveId(mapping.journal, line._id, invoice._id, n);
    const incoming = line.amount > 0;
    const counterpart = isCustomerKind(invoice.kind) ? roles.receivable : roles.payable;
    const label = `${isCreditNote(invoice.kind) ? 'Refund of' : incoming ? 'Payment of' : 'Payment to'} ${invoice.number}`;
    const move: MoveDoc & { payment: string } = {
      _id: mid,
      type: 'move',
      journal: mapping.journal,
      date: line.date,
      ref: invoice.number,
      state: postState(opts),
      lines: [
        {
          account: mapping.suspense_account,
          partner: invoice.partner,
          label,
          debit: incoming ? amount : 0,
          credit: incoming ? 0 : amount,
          currency: line.currency,
        },
        {
          account: counterpart,
          partner: invoice.partner,
          label,
          debit: incoming ? 0 : amount,
          credit: incoming ? amount : 0,
          currency: line.currency,
        },
      ],
      payment: pid,
    };
    const payment: AutomationPaymentDoc = {
      _id: pid,
      type: 'payment',
      partner: invoice.partner,
      invoice: invoice._id,
      statement_line: line._id,
      move: mid,
      date: line.date,
      amount,
      currency: line.currency,
      state: 'posted',
      rule,
    };
    const residual = invoice.residual - amount;
    const next: InvoiceDoc = { ...invoice, residual, state: residual === 0 ? 'paid' : 'partial' };
    docs.push(move, payment, next);
    made.push({
      line: line._id,
      invoice: invoice._id,
      payment: pid,
      move: mid,
      amount,
      currency: line.currency,
      residual,
      invoice_state: next.state,
      rule,
      reason,
    });
  }
  docs.push({ ...line, state: 'reconciled' });
  return { docs, made };
}

/** Splits `open` over `invoices` in order: each takes what it still owes; the rest stays in suspense. */
export function allocate(open: number, invoices: readonly InvoiceDoc[]): Allocation[] {
  const out: Allocation[] = [];
  let left = open;
  for (const invoice of invoices) {
    if (left <= 0) break;
    const amount = Math.min(left, invoice.residual);
    if (amount <= 0) continue;
    out.push({ invoice, amount });
    left -= amount;
  }
  return out;
}

export function logPayments(opts: AutomationOptions, made: readonly PaymentMade[]): void {
  for (const m of made) {
    opts.logger?.info(
      `${m.line} pays ${formatAmount(m.amount, m.currency)} ${m.currency} of ${m.invoice} (${m.rule}: ${m.reason})${m.write_off ? `, ${formatAmount(m.write_off.amount, m.currency)} written off to ${m.write_off.account}` : ''}`,
      {
        event: 'ledger.reconcile',
        line: m.line,
        invoice: m.invoice,
        payment: m.payment,
        move: m.move,
        amount: m.amount,
        currency: m.currency,
        rule: m.rule,
        ...(m.write_off ? { write_off: m.write_off } : {}),
      },
    );
  }
}

/** A visible statement line: one of an import that has not committed is not there yet. */
export async function loadLine(store: BooksStore, lineId: string): Promise<StatementLineDoc> {
  const line = await store.get<StatementLineDoc>(lineId);
  if (!line || line.type !== 'statement_line' || (await stagedAmong(store, [line])).size > 0) {
    throw new AutomationError('LEDGER_NOT_FOUND', `no statement line ${lineId}`, {
      details: { line: lineId },
    });
  }
  return line;
}

import { type InvoiceDoc } from '../model';
import type { BooksStore } from '../store';
import { docsWithPrefix } from './books';
import { AutomationError } from './errors';
import { applyExchange } from './fx-payment';
import { linePaymentPrefix } from './ids';
import { accountRoles, serialized } from './options';
import {
  checkRoleAccounts,
  isActive,
  kindFor,
  loadLine,
  logPayments,
  mappingFor,
  openAmount,
  OPEN_STATES,
  paymentWrites,
  type AutomationPaymentDoc,
  type PaymentMade,
  type ReconcileOptions,
} from './payments';

export interface ManualReconciliation {
  /** The payment of this pair (the existing one when it was already reconciled: nothing written). */
  payment: PaymentMade;
  already: boolean;
  /** Minor units of the line still in suspense afterwards. */
  open: number;
}

/**
 * Reconciles `lineId` with an invoice (its id `invoice:<number>` or its number) by hand
 * (`booksync reconcile LINE --with INVOICE`): pays as
 * much of the invoice as the line still has in suspense (`amount` caps it further). Works on a
 * line already reconciled with another invoice when money is left in suspense. Idempotent: the
 * same pair again returns the existing payment.
 */
export function reconcileLine(
  store: BooksStore,
  lineId: string,
  invoice: string,
  opts: ReconcileOptions & { amount?: number },
): Promise<ManualReconciliation> {
  // The CLI may pass the invoice number as people write it (`INV/2024/0001`).
  const invoiceId = invoice.startsWith('invoice:') ? invoice : `invoice:${invoice}`;
  return serialized(store, async () => {
    const roles = accountRoles(opts);
    const line = await loadLine(store, lineId);
    const refuse = (what: string): never => {
      throw new AutomationError(
        'LEDGER_RECONCILE_REFUSED',
        `${lineId} with ${invoiceId}: ${what}`,
        { details: { line: lineId, invoice: invoiceId } },
      );
    };
    if (line.pending) refuse('the line is pending; it is reconciled once the bank books it');
    if (line.state !== 'posted' && line.state !== 'reconciled')
      refuse(`the line is ${line.state}, not posted (post it first)`);
    const mapping =
      mappingFor(opts, line.connection) ??
      refuse(`connection ${line.connection} has no ledger mapping`);
    const found = await store.get<InvoiceDoc>(invoiceId);
    if (!found || found.type !== 'invoice')
      throw new AutomationError('LEDGER_NOT_FOUND', `no invoice ${invoiceId}`, {
        details: { invoice: invoiceId },
      });
    const invoice = found;
    const mine = await docsWithPrefix<AutomationPaymentDoc>(store, linePaymentPrefix(lineId));
    const current = mine.find((p) => p.invoice === invoiceId && isActive(p));
    const open = openAmount(line, mine);
    if (current) {
      return {
        already: true,
        open,
        payment: {
          line: lineId,
          invoice: invoiceId,
          payment: current._id,
          move: current.move,
          amount: current.amount,
          currency: current.currency,
          residual: invoice.residual,
          invoice_state: invoice.state,
          rule: current.rule ?? 'manual',
          reason: 'already reconciled',
        },
      };
    }
    if (invoice.kind !== kindFor(line)) {
      refuse(
        line.amount > 0
          ? 'money in pays a sales invoice (out_invoice), not a bill'
          : 'money out pays a bill (in_invoice), not a sales invoice',
      );
    }
    if (invoice.currency !== line.currency)
      refuse(`the invoice is in ${invoice.currency}, the line in ${line.currency}`);
    if (!OPEN_STATES.has(invoice.state) || invoice.residual <= 0)
      refuse(`the invoice is ${invoice.state} with nothing left to pay`);
    if (open <= 0) refuse('nothing of the line is left in suspense');
    if (opts.amount !== undefined && (!Number.isSafeInteger(opts.amount) || opts.amount <= 0))
      refuse(`amount ${opts.amount} is not a positive number of minor units`);
    await checkRoleAccounts(store, roles);
    const amount = Math.min(open, invoice.residual, opts.amount ?? Number.MAX_SAFE_INTEGER);
    const { docs, made } = paymentWrites(
      line,
      mapping,
      [{ invoice, amount }],
      mine,
      'manual',
      'by hand',
      roles,
      opts,
    );
    await applyExchange(store, line, open, docs, opts);
    await store.putMany(docs);
    logPayments(opts, made);
    return { already: false, open: open - amount, payment: made[0] };
  });
}

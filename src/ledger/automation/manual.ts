import { type InvoiceDoc, type StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { formatAmount } from '../../shared/money';
import { checkAccountsExist, docsWithPrefix } from './books';
import { AutomationError } from './errors';
import { applyExchange } from './fx-payment';
import { linePaymentPrefix } from './ids';
import { reconcileRefund } from './overpayment-refund';
import { accountRoles, serialized, type ConnectionMapping } from './options';
import { activeTransferOf } from './transfer-undo';
import {
  checkRoleAccounts,
  isActive,
  kindsFor,
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
import { RateBook } from './fx';
import { type WriteOff } from './rules';
import { companyRateFor, lineTolerance } from './tolerance';
import { applyWriteOff } from './write-off';

/** The largest difference `--write-off` books unless a larger `limit` is given (README). */
export const DEFAULT_WRITE_OFF_LIMIT = '5.00';

/** `--write-off ACCOUNT [--write-off-limit AMOUNT]`: pay the invoice in full, the difference to ACCOUNT. */
export interface ManualWriteOff {
  account: string;
  /** Decimal text in company currency; default DEFAULT_WRITE_OFF_LIMIT. */
  limit?: string;
}

export type ManualOptions = ReconcileOptions & { amount?: number; write_off?: ManualWriteOff };

const KIND_NAMES: Readonly<Record<InvoiceDoc['kind'], string>> = {
  out_invoice: 'sales invoice',
  in_invoice: 'bill',
  out_refund: 'customer credit note',
  in_refund: 'vendor credit note',
};

function refundWithLine(
  store: BooksStore,
  lineId: string,
  incomingId: string,
  opts: ReconcileOptions,
): Promise<ManualReconciliation> {
  return serialized(store, async () => {
    const line = await loadLine(store, lineId);
    const refuse = (what: string): never => {
      throw new AutomationError(
        'LEDGER_RECONCILE_REFUSED',
        `${lineId} with ${incomingId}: ${what}`,
        {
          details: { line: lineId, counterpart_line: incomingId },
        },
      );
    };
    await refuseTransferred(store, lineId, refuse);
    const mapping = reconcilableMapping(line, opts, refuse);
    return reconcileRefund(store, line, mapping, incomingId, opts);
  });
}

/** A line that is one side of a transfer is reconciled by hand only once the transfer is undone. */
async function refuseTransferred(
  store: BooksStore,
  lineId: string,
  refuse: (what: string) => never,
): Promise<void> {
  const transfer = await activeTransferOf(store, lineId);
  if (transfer)
    refuse(
      `the line is one side of transfer ${transfer._id}; undo it first (reconcile LINE --undo)`,
    );
}

/** The mapping of a line that may be reconciled by hand: booked, posted, of a mapped connection. */
function reconcilableMapping(
  line: StatementLineDoc,
  opts: ReconcileOptions,
  refuse: (what: string) => never,
): ConnectionMapping {
  if (line.pending) refuse('the line is pending; it is reconciled once the bank books it');
  if (line.state !== 'posted' && line.state !== 'reconciled')
    refuse(`the line is ${line.state}, not posted (post it first)`);
  return (
    mappingFor(opts, line.connection) ??
    refuse(`connection ${line.connection} has no ledger mapping`)
  );
}

export interface ManualReconciliation {
  /** The payment of this pair (the existing one when it was already reconciled: nothing written). */
  payment: PaymentMade;
  already: boolean;
  /** Minor units of the line still in suspense afterwards. */
  open: number;
}

/**
 * Reconciles `lineId` with an invoice, bill or credit note (its id `invoice:<number>` or its
 * number) by hand (`booksync reconcile LINE --with INVOICE`); money out pays a customer credit
 * note, money in a vendor credit note (README, "Refunds and credit notes"). Pays as
 * much of the invoice as the line still has in suspense (`amount` caps it further). Works on a
 * line already reconciled with another invoice when money is left in suspense. Idempotent: the
 * same pair again returns the existing payment.
 */
export function reconcileLine(
  store: BooksStore,
  lineId: string,
  invoice: string,
  opts: ManualOptions,
): Promise<ManualReconciliation> {
  // A statement line instead of an invoice: the refund of the money it left in suspense.
  if (invoice.startsWith('stl:')) return refundWithLine(store, lineId, invoice, opts);
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
    await refuseTransferred(store, lineId, refuse);
    const mapping = reconcilableMapping(line, opts, refuse);
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
    if (!kindsFor(line).includes(invoice.kind)) {
      refuse(
        line.amount > 0
          ? `money in pays a sales invoice (out_invoice) or a vendor credit note (in_refund), not a ${KIND_NAMES[invoice.kind]} (${invoice.kind})`
          : `money out pays a bill (in_invoice) or a customer credit note (out_refund), not a ${KIND_NAMES[invoice.kind]} (${invoice.kind})`,
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
    const writeOff = await manualWriteOff(store, line, invoice, open, opts, refuse);
    const amount = Math.min(open, invoice.residual, opts.amount ?? Number.MAX_SAFE_INTEGER);
    const { docs, made } = paymentWrites(
      line,
      mapping,
      [{ invoice, amount }],
      mine,
      'manual',
      writeOff ? 'by hand, the difference written off' : 'by hand',
      roles,
      opts,
    );
    if (writeOff) applyWriteOff(docs, made, open, writeOff);
    await applyExchange(store, line, open, docs, opts, made);
    await store.putMany(docs);
    logPayments(opts, made);
    return { already: false, open: open - made[0].amount, payment: made[0] };
  });
}

/**
 * The write-off `opts.write_off` asks for: the invoice's residual minus the line's open amount,
 * undefined when they are equal. Refuses a difference above the limit (company currency)
 * (`LEDGER_WRITE_OFF_TOO_LARGE`), a malformed limit, and a write-off beside `amount`.
 */
async function manualWriteOff(
  store: BooksStore,
  line: StatementLineDoc,
  invoice: InvoiceDoc,
  open: number,
  opts: ManualOptions,
  refuse: (what: string) => never,
): Promise<WriteOff | undefined> {
  const asked = opts.write_off;
  if (!asked) return undefined;
  if (opts.amount !== undefined) refuse('a write-off pays the invoice in full; give no amount');
  const limitText = asked.limit ?? DEFAULT_WRITE_OFF_LIMIT;
  if (!/^\d+(\.\d+)?$/.test(limitText))
    refuse(`write-off limit ${JSON.stringify(limitText)} is not decimal text such as "5.00"`);
  const difference = invoice.residual - open;
  if (difference === 0) return undefined;
  // The limit is company currency, like a rule's tolerance (tolerance.ts).
  const { company, missing } = await companyRateFor(
    new RateBook(store),
    line,
    opts.company_currency,
  );
  if (missing) throw missing;
  const limit = lineTolerance(limitText, invoice.currency, company);
  if (Math.abs(difference) > limit) {
    const size = formatAmount(Math.abs(difference), invoice.currency);
    throw new AutomationError(
      'LEDGER_WRITE_OFF_TOO_LARGE',
      `${invoice._id}: the difference ${size} ${invoice.currency} is above the write-off limit ${formatAmount(limit, invoice.currency)}; give a larger --write-off-limit to book it`,
      {
        details: { invoice: invoice._id, difference, limit, currency: invoice.currency },
      },
    );
  }
  await checkAccountsExist(store, { write_off: asked.account });
  return { account: asked.account, amount: difference };
}

import { formatAmount } from '../../shared/money';
import type { Logger } from '../../shared/logger';
import {
  CREDITED_KIND,
  invoiceId,
  isCreditNote,
  type InvoiceDoc,
  type InvoiceKind,
} from '../model';
import type { BooksStore } from '../store';
import { docsById } from './books';
import type { CompanyFields } from './chart';
import { creditApplicationId } from './ids';
import { OPEN_STATES, type AutomationPaymentDoc } from './payments';

/**
 * Credit notes (README, "Refunds and credit notes"). A credit note (`out_refund`, `in_refund`) is
 * booked as the mirror of its kind of invoice; one that names the invoice it credits (`credits`)
 * is applied to it when it is created: both residuals go down by the applied amount, at most the
 * invoice's residual. What is left of the credit note stays open: money the company owes the
 * customer (or the vendor owes the company), cleared later by a refund through the bank.
 *
 * The application writes no move: the invoice's and the credit note's moves already sit on the
 * same receivable (payable) account with the same partner, so their residuals net there. Its
 * audit record is a pair of payment documents, one clearing each side (`applied_with` names the
 * other), whose `move` is the credit note's move; so every invoice's residual stays its total
 * minus its active payments, credit notes included. In a foreign currency the application books
 * no exchange difference: when the two documents' rates differ, their company-currency amounts
 * on the receivable (payable) do not net to zero (docs/CURRENCIES.md has no rule for it yet).
 */

type Obj = Record<string, unknown>;

/** `credits:` of a company-file invoice entry: `INV/2024/0003` or `invoice:INV/2024/0003`. */
export function readCredits(
  f: CompanyFields,
  o: Obj,
  where: string,
  kind: InvoiceKind,
): string | undefined {
  const credits = f.str(o, 'credits', where, false);
  if (credits === undefined) return undefined;
  if (!isCreditNote(kind))
    f.fail(
      `${where}.credits`,
      `is only for a credit note (kind out_refund or in_refund), not ${kind}`,
    );
  return credits.startsWith('invoice:') ? credits : invoiceId(credits);
}

/**
 * Checks every `credits:` of a company file: it names an invoice of the file of the credited kind
 * (a customer credit note credits a sales invoice, a vendor credit note a bill), with the same
 * partner and currency.
 */
export function checkCreditedInvoices(f: CompanyFields, invoices: readonly InvoiceDoc[]): void {
  const byId = new Map(invoices.map((i) => [i._id, i]));
  invoices.forEach((note, i) => {
    if (!note.credits || !isCreditNote(note.kind)) return;
    const where = `invoices[${i}].credits`;
    const target = byId.get(note.credits);
    if (!target) f.fail(where, `names ${note.credits}, which the file does not define`);
    const wanted = CREDITED_KIND[note.kind];
    if (target.kind !== wanted)
      f.fail(where, `names ${target._id}, a ${target.kind}; a ${note.kind} credits a ${wanted}`);
    if (target.partner !== note.partner)
      f.fail(where, `names ${target._id} of ${target.partner}, not of ${note.partner}`);
    if (target.currency !== note.currency)
      f.fail(
        where,
        `names ${target._id} in ${target.currency}, the credit note is in ${note.currency}`,
      );
  });
}

/** One credit note applied to its invoice. */
export interface CreditApplication {
  credit_note: string;
  invoice: string;
  /** Minor units cleared on both. */
  amount: number;
  currency: string;
  /** Residuals afterwards. */
  invoice_residual: number;
  credit_note_residual: number;
}

export interface AppliedCreditNotes {
  /** Payment documents (two per application), to create. */
  payments: AutomationPaymentDoc[];
  /** Invoices that exist in the books already, with their lowered residual: to update. */
  updated: InvoiceDoc[];
  applications: CreditApplication[];
  /** Credit notes that stay fully open because their invoice had nothing left to credit. */
  open: string[];
  log(logger: Logger | undefined): void;
}

function residualState(doc: InvoiceDoc, residual: number): InvoiceDoc['state'] {
  return residual === 0 ? 'paid' : residual === doc.total ? 'open' : 'partial';
}

function applicationPayment(
  cleared: InvoiceDoc,
  other: InvoiceDoc,
  note: InvoiceDoc,
  amount: number,
  side: 'invoice' | 'credit_note',
): AutomationPaymentDoc {
  const payment: AutomationPaymentDoc = {
    _id: creditApplicationId(note._id, note.credits!, side),
    type: 'payment',
    partner: note.partner,
    invoice: cleared._id,
    applied_with: other._id,
    move: (note as InvoiceDoc & { move?: string }).move ?? note._id,
    date: note.date,
    amount,
    currency: note.currency,
    state: 'posted',
    rule: 'credit_note',
  };
  return payment;
}

/**
 * Applies each new credit note among `fresh` that names an invoice (one of `fresh`, or one in the
 * books) to it. Changes the documents of `fresh` in place; returns what else to write. An invoice
 * that is paid, cancelled, in another currency or of another partner is left alone and the credit
 * note stays open.
 */
export async function applyCreditNotes(
  store: BooksStore,
  fresh: InvoiceDoc[],
): Promise<AppliedCreditNotes> {
  const notes = fresh.filter((i) => isCreditNote(i.kind) && i.credits !== undefined);
  const inBatch = new Map(fresh.map((i) => [i._id, i]));
  const stored = await docsById<InvoiceDoc>(
    store,
    notes.map((n) => n.credits!).filter((id) => !inBatch.has(id)),
  );
  const updated = new Map<string, InvoiceDoc>();
  const out: AppliedCreditNotes = {
    payments: [],
    updated: [],
    applications: [],
    open: [],
    log: (logger) => logApplications(out, logger),
  };
  for (const note of notes) {
    const id = note.credits!;
    const target = inBatch.get(id) ?? updated.get(id) ?? stored.get(id);
    const amount = target ? Math.min(note.residual, target.residual) : 0;
    if (
      !target ||
      target.type !== 'invoice' ||
      target.kind !== CREDITED_KIND[note.kind as 'out_refund' | 'in_refund'] ||
      target.partner !== note.partner ||
      target.currency !== note.currency ||
      !OPEN_STATES.has(target.state) ||
      amount <= 0
    ) {
      out.open.push(note._id);
      continue;
    }
    const next = { ...target, residual: target.residual - amount };
    next.state = residualState(next, next.residual);
    if (inBatch.has(id)) Object.assign(target, next);
    else updated.set(id, next);
    Object.assign(note, { residual: note.residual - amount });
    note.state = residualState(note, note.residual);
    out.payments.push(
      applicationPayment(next, note, note, amount, 'invoice'),
      applicationPayment(note, next, note, amount, 'credit_note'),
    );
    out.applications.push({
      credit_note: note._id,
      invoice: id,
      amount,
      currency: note.currency,
      invoice_residual: next.residual,
      credit_note_residual: note.residual,
    });
  }
  out.updated = [...updated.values()];
  return out;
}

function logApplications(applied: AppliedCreditNotes, logger: Logger | undefined): void {
  for (const a of applied.applications) {
    logger?.info(
      `${a.credit_note} credits ${formatAmount(a.amount, a.currency)} ${a.currency} of ${a.invoice} (${a.invoice} still owes ${formatAmount(a.invoice_residual, a.currency)}, ${formatAmount(a.credit_note_residual, a.currency)} of the credit note stays open)`,
      { event: 'ledger.credit_note_applied', ...a },
    );
  }
  for (const note of applied.open) {
    logger?.info(`${note}: its invoice has nothing left to credit; the credit note stays open`, {
      event: 'ledger.credit_note_open',
      credit_note: note,
    });
  }
}

import { isCreditNote, isCustomerKind, type InvoiceDoc } from '../model';
import type { BooksStore } from '../store';
import { OPEN_STATES } from './payments';

/**
 * Open invoices, bills and credit notes for `booksync report` (README, "Refunds and credit
 * notes"): each with what is still open, a credit note's as a negative amount, and per currency
 * what customers owe net of their credit notes (the receivable) and what the company owes vendors
 * net of theirs (the payable).
 */

export interface OpenItem {
  invoice: string;
  kind: InvoiceDoc['kind'];
  partner: string;
  date: string;
  due_date: string;
  currency: string;
  total: number;
  /** Minor units still open: positive for invoices and bills, negative for credit notes. */
  open: number;
  state: InvoiceDoc['state'];
  /** A credit note: the invoice it credits. */
  credits?: string;
}

export interface OpenTotal {
  currency: string;
  /** Open sales invoices minus open customer credit notes. */
  receivable: number;
  /** Open bills minus open vendor credit notes. */
  payable: number;
}

export interface OpenItems {
  items: OpenItem[];
  totals: OpenTotal[];
}

export async function openItems(store: BooksStore): Promise<OpenItems> {
  const invoices = (await store.allOfType<InvoiceDoc>('invoice')).filter(
    (i) => OPEN_STATES.has(i.state) && i.residual > 0,
  );
  const totals = new Map<string, OpenTotal>();
  const items = invoices
    .sort((a, b) => a.due_date.localeCompare(b.due_date) || (a._id < b._id ? -1 : 1))
    .map((i): OpenItem => {
      const open = isCreditNote(i.kind) ? -i.residual : i.residual;
      const t = totals.get(i.currency) ?? { currency: i.currency, receivable: 0, payable: 0 };
      if (isCustomerKind(i.kind)) t.receivable += open;
      else t.payable += open;
      totals.set(i.currency, t);
      return {
        invoice: i._id,
        kind: i.kind,
        partner: i.partner,
        date: i.date,
        due_date: i.due_date,
        currency: i.currency,
        total: i.total,
        open,
        state: i.state,
        ...(i.credits ? { credits: i.credits } : {}),
      };
    });
  return {
    items,
    totals: [...totals.values()].sort((a, b) => (a.currency < b.currency ? -1 : 1)),
  };
}

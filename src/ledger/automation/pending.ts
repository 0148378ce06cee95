import { type StatementLineDoc, type TransferDoc } from '../model';
import type { BooksStore } from '../store';
import { openAmount, type AutomationPaymentDoc } from './payments';
import { activeTransferLines } from './transfer-match';

export interface SuspenseLine {
  line: string;
  connection: string;
  date: string;
  /** Signed minor units of the whole line. */
  amount: number;
  /** Minor units still in suspense (> 0). */
  open: number;
  currency: string;
  state: StatementLineDoc['state'];
  move?: string;
  payee?: string;
  memo?: string;
  reference?: string;
}

/**
 * Lines whose money sits (partly) in suspense (`booksync reconcile --pending`): posted lines no
 * rule matched, and reconciled lines with an overpayment left (a transferred line is cleared
 * whole). Oldest first.
 */
export async function pendingLines(store: BooksStore): Promise<SuspenseLine[]> {
  const lines = await store.allOfType<StatementLineDoc>('statement_line');
  const payments = await store.allOfType<AutomationPaymentDoc>('payment');
  const byLine = new Map<string, AutomationPaymentDoc[]>();
  for (const p of payments)
    if (p.statement_line)
      byLine.set(p.statement_line, [...(byLine.get(p.statement_line) ?? []), p]);
  const transferred = activeTransferLines(await store.allOfType<TransferDoc>('transfer'));
  const out: SuspenseLine[] = [];
  for (const l of lines) {
    if (l.pending || (l.state !== 'posted' && l.state !== 'reconciled')) continue;
    if (transferred.has(l._id)) continue;
    const open = openAmount(l, byLine.get(l._id) ?? []);
    if (open <= 0) continue;
    out.push(suspenseLine(l, open));
  }
  return out.sort((a, b) => a.date.localeCompare(b.date) || (a.line < b.line ? -1 : 1));
}

export function suspenseLine(l: StatementLineDoc, open: number): SuspenseLine {
  const out: SuspenseLine = {
    line: l._id,
    connection: l.connection,
    date: l.date,
    amount: l.amount,
    open,
    currency: l.currency,
    state: l.state,
  };
  if (l.move) out.move = l.move;
  if (l.payee) out.payee = l.payee;
  if (l.memo) out.memo = l.memo;
  if (l.reference) out.reference = l.reference;
  return out;
}

import { reverseMove } from '../invariants';
import { type InvoiceDoc, type MoveDoc, type StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { docsById, docsWithPrefix } from './books';
import { linePaymentPrefix, reversalKey } from './ids';
import { serialized, today, type AutomationOptions } from './options';
import { isActive, loadLine, type AutomationPaymentDoc } from './payments';
import { voidRefundHalves } from './overpayment-refund';
import {
  activeTransferOf,
  removeVoidedTransferDrafts,
  undoTransfer,
  type TransferUndone,
} from './transfer-undo';
import { type WriteOffMade } from './write-off';

export interface UndoResult {
  line: string;
  /** Payments voided by this call (empty when there was nothing to undo). */
  undone: Array<{
    payment: string;
    invoice: string;
    /** The hand-made move a duplicate's match named (then `invoice` holds the same id). */
    entry?: string;
    /** The other line of a refund of an overpayment (then `invoice` holds the same id). */
    counterpart_line?: string;
    amount: number;
    currency: string;
    reversal?: string;
    removed_draft?: string;
    write_off?: WriteOffMade;
  }>;
  /** The line's transfer between own accounts, undone with both its lines. */
  transfer?: TransferUndone;
}

/**
 * Undoes every reconciliation of `lineId` (`booksync reconcile LINE --undo`): each posted payment
 * move gets its reversal (posted moves are never edited), a draft one is deleted; the payment is
 * voided (`state: cancelled`), the invoice's residual and state are restored and the line is back
 * to `posted`, in suspense. Idempotent: nothing left to undo returns an empty list. A line of a
 * transfer between own accounts undoes the whole transfer, both lines (transfer-undo.ts).
 */
export function undoReconciliation(
  store: BooksStore,
  lineId: string,
  opts: AutomationOptions = {},
): Promise<UndoResult> {
  return serialized(store, async () => {
    const line = await loadLine(store, lineId);
    const transfer = await activeTransferOf(store, lineId);
    if (transfer)
      return { line: lineId, undone: [], transfer: await undoTransfer(store, transfer, opts) };
    await removeVoidedTransferDrafts(store, lineId);
    const payments = await docsWithPrefix<AutomationPaymentDoc>(store, linePaymentPrefix(lineId));
    const active = payments.filter(isActive);
    const result: UndoResult = { line: lineId, undone: [] };
    const drafts: string[] = [];
    if (active.length > 0) {
      const date = today(opts);
      const related = await docsById<MoveDoc | InvoiceDoc>(store, [
        ...active.map((p) => p.move),
        // A duplicate's match (`entry`) names a hand-made move, a refund (`counterpart_line`) a
        // statement line; neither is an invoice.
        ...active.filter((p) => !p.entry && !p.counterpart_line).map((p) => p.invoice),
      ]);
      const invoices = new Map<string, InvoiceDoc>();
      const docs: Array<MoveDoc | AutomationPaymentDoc | InvoiceDoc | StatementLineDoc> = [];
      for (const p of active) {
        const move = related.get(p.move) as MoveDoc | undefined;
        let reversal: string | undefined;
        if (move && move.state === 'posted') {
          const rev = reverseMove(
            move,
            date < move.date ? move.date : date,
            reversalKey(move._id),
            { ref: `Undo of ${p._id}` },
          );
          reversal = rev._id;
          if (!(await store.get(rev._id))) docs.push(rev);
        } else if (move) {
          drafts.push(move._id);
        }
        const inv =
          p.entry || p.counterpart_line
            ? undefined
            : (invoices.get(p.invoice) ?? (related.get(p.invoice) as InvoiceDoc | undefined));
        if (inv) {
          const cleared = p.amount + (p.write_off?.amount ?? 0);
          const residual = Math.min(inv.total, inv.residual + cleared);
          const state: InvoiceDoc['state'] =
            inv.state === 'cancelled' || inv.state === 'draft'
              ? inv.state
              : residual === inv.total
                ? 'open'
                : residual === 0
                  ? 'paid'
                  : 'partial';
          invoices.set(inv._id, { ...inv, residual, state });
        }
        const voided: AutomationPaymentDoc = { ...p, state: 'cancelled' };
        if (reversal) voided.reversed_by = reversal;
        docs.push(voided);
        result.undone.push({
          payment: p._id,
          invoice: p.invoice,
          ...(p.entry ? { entry: p.entry } : {}),
          ...(p.counterpart_line ? { counterpart_line: p.counterpart_line } : {}),
          amount: p.amount,
          currency: p.currency,
          ...(reversal ? { reversal } : {}),
          ...(move && move.state !== 'posted' ? { removed_draft: move._id } : {}),
          ...(p.write_off ? { write_off: p.write_off } : {}),
        });
      }
      docs.push(...invoices.values());
      const voided = docs.filter((d): d is AutomationPaymentDoc => d.type === 'payment');
      docs.push(...(await voidRefundHalves(store, lineId, voided)));
      if (line.state === 'reconciled') docs.push({ ...line, state: 'posted' });
      await store.putMany(docs);
    } else if (line.state === 'reconciled') {
      await store.put({ ...line, state: 'posted' });
    }
    // Draft payment moves go after the batch; a crash in between leaves drafts of voided
    // payments, which the next undo of the line removes.
    for (const p of payments.filter((x) => !isActive(x))) {
      const move = await store.get<MoveDoc>(p.move);
      if (move && move.state === 'draft') drafts.push(move._id);
    }
    for (const id of new Set(drafts)) await store.remove(id);
    if (result.undone.length > 0) {
      opts.logger?.info(`${lineId}: undid ${result.undone.length} payment(s)`, {
        event: 'ledger.reconcile_undo',
        line: lineId,
        payments: result.undone.map((u) => u.payment),
      });
    }
    return result;
  });
}

import { reverseMove } from '../invariants';
import type { MoveDoc, StatementLineDoc, TransferDoc } from '../model';
import type { BooksStore } from '../store';
import { docsById } from './books';
import { reversalKey } from './ids';
import { today, type AutomationOptions } from './options';
import { activeTransferLines } from './transfer-match';

/**
 * Undoing a transfer between own accounts (`booksync reconcile LINE --undo` on either of its
 * lines): both moves get their reversal (a draft one is deleted), the transfer document is voided
 * (`state: cancelled`, kept for the audit trail and the attempt count) and both lines are back to
 * `posted`, in suspense. The next reconciliation run pairs them again (attempt 2), as it pays an
 * undone payment's invoice again.
 */

export interface TransferUndone {
  transfer: string;
  lines: [string, string];
  /** Reversals written (posted moves). */
  reversals: string[];
  /** Draft moves deleted. */
  removed_drafts: string[];
}

/** The active transfer of `lineId`, if any. */
export async function activeTransferOf(
  store: BooksStore,
  lineId: string,
): Promise<TransferDoc | undefined> {
  return activeTransferLines(await store.allOfType<TransferDoc>('transfer')).get(lineId);
}

/** Undoes `transfer` (active). Call inside `serialized`. */
export async function undoTransfer(
  store: BooksStore,
  transfer: TransferDoc,
  opts: AutomationOptions,
): Promise<TransferUndone> {
  const legs = [transfer.from, transfer.to];
  const found = await docsById<MoveDoc | StatementLineDoc>(store, [
    ...legs.map((l) => l.move),
    ...legs.map((l) => l.line),
  ]);
  const date = today(opts);
  const docs: Array<MoveDoc | StatementLineDoc | TransferDoc> = [];
  const reversals: string[] = [];
  const drafts: string[] = [];
  for (const leg of legs) {
    const move = found.get(leg.move) as MoveDoc | undefined;
    if (move?.state === 'posted') {
      const rev = reverseMove(move, date < move.date ? move.date : date, reversalKey(move._id), {
        ref: `Undo of ${transfer._id}`,
      });
      reversals.push(rev._id);
      if (!(await store.get(rev._id))) docs.push(rev);
    } else if (move) {
      drafts.push(move._id);
    }
    const line = found.get(leg.line) as StatementLineDoc | undefined;
    if (line?.state === 'reconciled') docs.push({ ...line, state: 'posted' });
  }
  docs.push({
    ...transfer,
    state: 'cancelled',
    ...(reversals.length > 0 ? { reversed_by: reversals } : {}),
  });
  await store.putMany(docs);
  // Drafts go after the batch; a crash in between leaves them, and the next undo of either line
  // removes them (removeVoidedTransferDrafts).
  for (const id of drafts) await store.remove(id);
  const undone: TransferUndone = {
    transfer: transfer._id,
    lines: [transfer.from.line, transfer.to.line],
    reversals,
    removed_drafts: drafts,
  };
  opts.logger?.info(
    `${transfer._id}: transfer ${transfer.from.line} → ${transfer.to.line} undone`,
    { event: 'ledger.transfer_undo', ...undone },
  );
  return undone;
}

/** Deletes draft moves left by an undone transfer of `lineId` (a crash after the undo's batch). */
export async function removeVoidedTransferDrafts(store: BooksStore, lineId: string): Promise<void> {
  const voided = (await store.allOfType<TransferDoc>('transfer')).filter(
    (t) => t.state === 'cancelled' && (t.from.line === lineId || t.to.line === lineId),
  );
  if (voided.length === 0) return;
  const moves = await docsById<MoveDoc>(
    store,
    voided.flatMap((t) => [t.from.move, t.to.move]),
  );
  for (const move of moves.values()) if (move.state === 'draft') await store.remove(move._id);
}

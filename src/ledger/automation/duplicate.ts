import { daysBetween } from '../../shared/dates';
import { formatAmount } from '../../shared/money';
import type { MoveDoc, MoveLine, StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { docsWithPrefix, moveEffect } from './books';
import { AutomationError } from './errors';
import { companyPart } from './fx';
import { duplicateMoveId, linePaymentPrefix, paymentDocId } from './ids';
import { postState, serialized } from './options';
import {
  isActive,
  loadLine,
  mappingFor,
  openAmount,
  type AutomationPaymentDoc,
  type ReconcileOptions,
} from './payments';
import { DUPLICATE_DAYS, isHandEntry, matchedEntries } from './suggest-sources';

/**
 * A bank line matched with a hand-made entry that duplicates it (README, "Explained
 * suggestions"). The line's posting put the money on the bank account against suspense, and the
 * entry put it on the bank account again: the bank holds it twice. The match books a clearing
 * move in the line's journal, suspense against the bank account, which takes the line's copy off
 * the bank and clears suspense; the entry stays as the user made it. A payment document
 * (`rule: manual_entry`, `entry` = the entry's move) links line and entry, which is how the line
 * counts as reconciled and how `--undo` finds the clearing move to reverse.
 */

export interface EntryMatch {
  line: string;
  entry: string;
  payment: string;
  move: string;
  amount: number;
  currency: string;
  /** True when the pair was matched before: nothing was written. */
  already: boolean;
}

/** The clearing move: the posting's two accounts swapped, valued like the posting. */
function clearingMove(
  line: StatementLineDoc,
  posting: MoveDoc | undefined,
  id: string,
  entry: MoveDoc,
  accounts: { journal: string; bank: string; suspense: string },
  state: 'draft' | 'posted',
): MoveDoc {
  const amount = Math.abs(line.amount);
  const incoming = line.amount > 0;
  const label = `Duplicate of ${entry.ref ?? entry._id}`;
  const company = posting?.lines.find((l) => l.account === accounts.suspense)?.company;
  const side = (account: string, debit: boolean): MoveLine => ({
    account,
    label,
    debit: debit ? amount : 0,
    credit: debit ? 0 : amount,
    currency: line.currency,
    ...(company
      ? { company: companyPart(company.currency, company.debit + company.credit, debit) }
      : {}),
  });
  return {
    _id: id,
    type: 'move',
    journal: accounts.journal,
    date: line.date,
    ref: label,
    state,
    // Money in: the posting credited suspense, so the clearing debits it and credits the bank.
    lines: [side(accounts.suspense, incoming), side(accounts.bank, !incoming)],
  };
}

/**
 * Matches `lineId` with the hand-made move `entryId` that duplicates it. Refuses
 * (`LEDGER_RECONCILE_REFUSED`) an entry that is not one: made by the automation, reversed,
 * another amount on the bank account, more than DUPLICATE_DAYS away, or matched already with
 * another line. Idempotent: the same pair again returns the existing match.
 */
export function matchDuplicate(
  store: BooksStore,
  lineId: string,
  entryId: string,
  opts: ReconcileOptions,
): Promise<EntryMatch> {
  return serialized(store, async () => {
    const refuse = (what: string): never => {
      throw new AutomationError('LEDGER_RECONCILE_REFUSED', `${lineId} with ${entryId}: ${what}`, {
        details: { line: lineId, entry: entryId },
      });
    };
    const line = await loadLine(store, lineId);
    const mine = await docsWithPrefix<AutomationPaymentDoc>(store, linePaymentPrefix(lineId));
    const current = mine.find((p) => isActive(p) && p.entry === entryId);
    if (current)
      return {
        line: lineId,
        entry: entryId,
        payment: current._id,
        move: current.move,
        amount: current.amount,
        currency: current.currency,
        already: true,
      };
    if (line.pending || line.state !== 'posted' || line.move === undefined)
      refuse(`the line is ${line.pending ? 'pending' : line.state}, not posted`);
    const mapping =
      mappingFor(opts, line.connection) ??
      refuse(`connection ${line.connection} has no ledger mapping`);
    if (openAmount(line, mine) !== Math.abs(line.amount))
      refuse('part of the line is reconciled already; undo that first');
    const moves = await store.allOfType<MoveDoc>('move');
    const entry = moves.find((m) => m._id === entryId);
    if (!entry)
      throw new AutomationError('LEDGER_NOT_FOUND', `no move ${entryId}`, {
        details: { move: entryId },
      });
    const reversed = new Set(moves.flatMap((m) => (m.reverses ? [m.reverses] : [])));
    if (!isHandEntry(entry, reversed))
      refuse('the move is not a posted entry made by hand (or it is reversed)');
    if (moveEffect(entry, mapping.bank_account, line.currency) !== line.amount)
      refuse(
        `the entry does not move bank account ${mapping.bank_account} by ${formatAmount(line.amount, line.currency)} ${line.currency}`,
      );
    if (Math.abs(daysBetween(entry.date, line.date)) > DUPLICATE_DAYS)
      refuse(`the entry is dated ${entry.date}, more than ${DUPLICATE_DAYS} days from the line`);
    const payments = await store.allOfType<AutomationPaymentDoc>('payment');
    if (matchedEntries(payments).has(entryId))
      refuse('the entry is matched with another bank line already');
    const n = mine.filter((p) => p.invoice === entryId).length + 1;
    const pid = paymentDocId(lineId, entryId, n);
    const mid = duplicateMoveId(mapping.journal, lineId, entryId, n);
    const posting = moves.find((m) => m._id === line.move);
    const move = clearingMove(
      line,
      posting,
      mid,
      entry,
      { journal: mapping.journal, bank: mapping.bank_account, suspense: mapping.suspense_account },
      postState(opts),
    );
    const payment: AutomationPaymentDoc = {
      _id: pid,
      type: 'payment',
      invoice: entryId,
      entry: entryId,
      statement_line: lineId,
      move: mid,
      date: line.date,
      amount: Math.abs(line.amount),
      currency: line.currency,
      state: 'posted',
      rule: 'manual_entry',
    };
    await store.putMany([
      { ...move, payment: pid } as MoveDoc,
      payment,
      { ...line, state: 'reconciled' },
    ]);
    const made = {
      line: lineId,
      entry: entryId,
      payment: pid,
      move: mid,
      amount: payment.amount,
      currency: line.currency,
    };
    opts.logger?.info(
      `${lineId} duplicates ${entryId}: ${formatAmount(made.amount, made.currency)} ${made.currency} cleared from ${mapping.bank_account} by ${mid}`,
      { event: 'ledger.reconcile_duplicate', ...made },
    );
    return { ...made, already: false };
  });
}

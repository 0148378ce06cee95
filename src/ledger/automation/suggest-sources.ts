import { daysBetween, type CalendarDate } from '../../shared/dates';
import type { InvoiceDoc, MoveDoc, PartnerDoc, StatementLineDoc } from '../model';
import { moveEffect } from './books';
import type { ConnectionMapping } from './options';
import { isActive, kindsFor, OPEN_STATES, type AutomationPaymentDoc } from './payments';
import {
  amountReason,
  dateReason,
  partnerReason,
  referenceReason,
  type LineText,
  type Reason,
} from './suggest-score';

/**
 * Where suggestions come from (README, "Explained suggestions"): one function per kind of
 * candidate, each given the same view of the books. A source only proposes and explains; what
 * accepting a candidate books is decided by its `kind` (suggest.ts).
 */

/** An amount_window rule's tolerance in minor units, and the account it writes differences off to. */
export interface AmountWindow {
  tolerance: number;
  /** The rule's text tolerance (`"2.00"`): the limit a write-off it proposes is accepted under. */
  tolerance_text: string;
  write_off?: string;
}

export interface SuggestionContext {
  line: StatementLineDoc;
  /** Minor units of the line still in suspense (> 0). */
  open: number;
  /** The line's connection mapping (undefined: the connection has none). */
  mapping?: ConnectionMapping;
  text: LineText;
  partners: ReadonlyMap<string, PartnerDoc>;
  invoices: readonly InvoiceDoc[];
  moves: readonly MoveDoc[];
  payments: readonly AutomationPaymentDoc[];
  /** The configured amount_window rules of the line's currency, in their order. */
  windows: readonly AmountWindow[];
}

/** What accepting a candidate books: a payment of an invoice or bill, or a duplicate's clearing. */
export type CandidateKind = 'invoice' | 'manual_entry';

export interface Candidate {
  /** The document accepting it reconciles the line with (`invoice:...`, `move:...`). */
  target: string;
  kind: CandidateKind;
  /** The source that proposed it. */
  source: string;
  /** What people recognise it by: the invoice number and partner, the entry's reference. */
  label: string;
  date: CalendarDate;
  due_date?: CalendarDate;
  partner?: string;
  /** Minor units the candidate has open (an invoice's residual, an entry's bank amount). */
  amount: number;
  currency: string;
  reasons: Reason[];
  /** The difference accepting books to an account (an amount_window rule's write_off). */
  write_off?: { account: string; amount: number; limit: string };
}

export interface CandidateSource {
  name: string;
  candidates(ctx: SuggestionContext): Candidate[];
}

/** Whether a candidate has evidence beyond its date: a matching amount, a reference or the partner. */
function hasEvidence(reasons: readonly Reason[]): boolean {
  return reasons.some((r) => r.kind !== 'date' && r.points > 0);
}

/**
 * Open invoices, bills and credit notes of the line's direction (kindsFor: money in pays sales
 * invoices and vendor credit notes, money out pays bills and customer credit notes) in the
 * line's currency.
 */
export const openInvoices: CandidateSource = {
  name: 'open_invoices',
  candidates(ctx) {
    const widest = Math.max(0, ...ctx.windows.map((w) => w.tolerance));
    const out: Candidate[] = [];
    for (const inv of ctx.invoices) {
      if (
        !OPEN_STATES.has(inv.state) ||
        inv.residual <= 0 ||
        !kindsFor(ctx.line).includes(inv.kind) ||
        inv.currency !== ctx.line.currency
      )
        continue;
      const amount = amountReason(ctx.open, inv.residual, inv.currency, widest);
      const partner = ctx.partners.get(inv.partner);
      const reasons = [
        amount,
        referenceReason(ctx.text, {
          number: inv.number,
          payment_reference: inv.payment_reference,
          words: [inv.number],
        }),
        partnerReason(ctx.line, ctx.partners, inv.partner),
        dateReason(ctx.line.date, inv.date, inv.due_date),
      ].filter((r): r is Reason => r !== undefined);
      if (!hasEvidence(reasons)) continue;
      const difference = inv.residual - ctx.open;
      const rule = ctx.windows.find(
        (w) => w.write_off !== undefined && Math.abs(difference) <= w.tolerance,
      );
      out.push({
        target: inv._id,
        kind: 'invoice',
        source: this.name,
        label: `${inv.number} ${partner?.name ?? inv.partner}`,
        date: inv.date,
        due_date: inv.due_date,
        partner: inv.partner,
        amount: inv.residual,
        currency: inv.currency,
        reasons,
        ...(difference !== 0 && rule?.write_off
          ? {
              write_off: {
                account: rule.write_off,
                amount: difference,
                limit: rule.tolerance_text,
              },
            }
          : {}),
      });
    }
    return out;
  },
};

/** Days a hand-made entry may lie from the bank line it duplicates. */
export const DUPLICATE_DAYS = 7;

/** Move keys (after `move:<journal>:`) the automation writes; anything else was entered by hand. */
const AUTOMATION_KEYS = ['stl:', 'pay:', 'dup:', 'opening:', 'invoice:', 'xfer-'];

function moveKey(id: string): string {
  return id.slice(id.indexOf(':', 'move:'.length) + 1);
}

/**
 * A posted move entered by hand: not a bank line's posting, a payment, a duplicate's clearing, an
 * opening balance or an invoice's move, not a reversal and not reversed.
 */
export function isHandEntry(move: MoveDoc, reversed: ReadonlySet<string>): boolean {
  const key = moveKey(move._id);
  return (
    move.state === 'posted' &&
    move.statement_line === undefined &&
    move.reverses === undefined &&
    (move as MoveDoc & { payment?: string }).payment === undefined &&
    !AUTOMATION_KEYS.some((k) => key.startsWith(k)) &&
    !key.endsWith(':rev') &&
    !reversed.has(move._id)
  );
}

/** The moves an active payment already matched as a bank line's duplicate. */
export function matchedEntries(payments: readonly AutomationPaymentDoc[]): Set<string> {
  return new Set(payments.filter((p) => isActive(p) && p.entry).map((p) => p.entry!));
}

/**
 * Entries made by hand that duplicate the line (Odoo #26394): a posted move entered by hand that
 * moves the line's bank account by the line's own signed amount, dated within DUPLICATE_DAYS,
 * not matched yet. Only a line nothing was reconciled from yet has a duplicate.
 */
export const manualEntries: CandidateSource = {
  name: 'manual_entries',
  candidates(ctx) {
    const { line, mapping } = ctx;
    if (!mapping || ctx.open !== Math.abs(line.amount)) return [];
    const reversed = new Set(ctx.moves.flatMap((m) => (m.reverses ? [m.reverses] : [])));
    const taken = matchedEntries(ctx.payments);
    const out: Candidate[] = [];
    for (const move of ctx.moves) {
      if (!isHandEntry(move, reversed) || taken.has(move._id)) continue;
      if (Math.abs(daysBetween(move.date, line.date)) > DUPLICATE_DAYS) continue;
      if (moveEffect(move, mapping.bank_account, line.currency) !== line.amount) continue;
      const partners = move.lines.flatMap((l) => (l.partner ? [l.partner] : []));
      const partner = partners.find((p) => partnerReason(line, ctx.partners, p) !== undefined);
      const words = [move.ref, ...move.lines.map((l) => l.label)].filter((w): w is string => !!w);
      const reasons = [
        amountReason(ctx.open, Math.abs(line.amount), line.currency, 0),
        referenceReason(ctx.text, { words }),
        partnerReason(line, ctx.partners, partner ?? partners[0]),
        dateReason(line.date, move.date, move.date),
      ].filter((r): r is Reason => r !== undefined);
      out.push({
        target: move._id,
        kind: 'manual_entry',
        source: this.name,
        label: `entry ${move.ref ?? move._id} on ${mapping.bank_account}`,
        date: move.date,
        ...((partner ?? partners[0]) ? { partner: partner ?? partners[0] } : {}),
        amount: Math.abs(line.amount),
        currency: line.currency,
        reasons,
      });
    }
    return out;
  },
};

/** The sources in the order their candidates are merged (order only breaks exact ties). */
export const CANDIDATE_SOURCES: readonly CandidateSource[] = [openInvoices, manualEntries];

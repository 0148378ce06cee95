import { formatAmount } from '../../shared/money';
import { reverseMove } from '../invariants';
import {
  type InvoiceDoc,
  type MoveDoc,
  type PartnerDoc,
  type PaymentDoc,
  type StatementLineDoc,
} from '../model';
import { stagedAmong } from '../staged-imports';
import type { BooksStore } from '../store';
import { checkAccountsExist, docsById, docsWithPrefix } from './books';
import { AutomationError } from './errors';
import { applyExchange } from './fx-payment';
import { linePaymentPrefix, paymentDocId, paymentMoveId, reversalKey } from './ids';
import {
  accountRoles,
  postState,
  serialized,
  today,
  type AccountRoles,
  type AutomationOptions,
  type ConnectionMapping,
} from './options';
import { compileRule, type CompiledRule, type RuleSpec } from './rules';
import { applyWriteOff, checkWriteOffAccounts, type WriteOffMade } from './write-off';

/**
 * Reconciliation (README, "Ledger automation"). A posted statement line sits on the suspense
 * account; a match books a payment move in the line's journal that clears suspense against the
 * receivable (money in, sales invoice) or payable (money out, bill) account with the invoice's
 * partner, writes a payment document and lowers the invoice's residual (paid, or partial).
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
};

export interface ReconcileOptions extends AutomationOptions {
  /** Mappings of the connections whose lines are reconciled; lines of other connections are left alone. */
  connections: readonly ConnectionMapping[];
}

export interface PaymentMade {
  line: string;
  invoice: string;
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

export interface ReconcileResult {
  /** Payments booked by this call, in line order. */
  matched: PaymentMade[];
  /** Lines left in suspense (no rule matched). */
  unmatched: string[];
}

const OPEN_STATES: ReadonlySet<InvoiceDoc['state']> = new Set(['open', 'partial']);

function isActive(p: AutomationPaymentDoc): boolean {
  return p.state !== 'cancelled';
}

function mappingFor(opts: ReconcileOptions, connection: string): ConnectionMapping | undefined {
  return opts.connections.find((m) => m.connection === connection);
}

function checkRoleAccounts(store: BooksStore, roles: AccountRoles): Promise<void> {
  return checkAccountsExist(store, { receivable: roles.receivable, payable: roles.payable });
}

/** Money of the line still in suspense: its absolute amount minus its active payments. */
function openAmount(line: StatementLineDoc, payments: readonly AutomationPaymentDoc[]): number {
  return Math.abs(line.amount) - payments.filter(isActive).reduce((s, p) => s + p.amount, 0);
}

/** The invoice kind a line pays: money in pays sales invoices, money out pays bills. */
function kindFor(line: StatementLineDoc): InvoiceDoc['kind'] {
  return line.amount > 0 ? 'out_invoice' : 'in_invoice';
}

/** Oldest due first, then oldest date, then id: the order money is allocated in. */
function byDue(a: InvoiceDoc, b: InvoiceDoc): number {
  return (
    a.due_date.localeCompare(b.due_date) ||
    a.date.localeCompare(b.date) ||
    (a._id < b._id ? -1 : a._id > b._id ? 1 : 0)
  );
}

interface Allocation {
  invoice: InvoiceDoc;
  amount: number;
}

/**
 * The documents that book `allocations` of `line`: a payment move, payment and invoice update per
 * allocation, and the line marked reconciled. `existing` are all payments of the line so far.
 */
function paymentWrites(
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
    const incoming = invoice.kind === 'out_invoice';
    const counterpart = incoming ? roles.receivable : roles.payable;
    const label = `${incoming ? 'Payment of' : 'Payment to'} ${invoice.number}`;
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
function allocate(open: number, invoices: readonly InvoiceDoc[]): Allocation[] {
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

function logPayments(opts: AutomationOptions, made: readonly PaymentMade[]): void {
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

/**
 * Runs `rules` (YAML specs or compiled) in order over every posted, not yet reconciled statement
 * line of the mapped connections, oldest first. Unknown rule kinds throw `LEDGER_RULE_UNKNOWN`
 * before anything is read. Running it again changes nothing.
 */
export async function reconcile(
  store: BooksStore,
  rules: ReadonlyArray<RuleSpec | Record<string, unknown> | CompiledRule>,
  opts: ReconcileOptions,
): Promise<ReconcileResult> {
  const compiled = rules.map((r, i) =>
    isCompiled(r) ? r : compileRule(r, `ledger.reconcile.rules[${i}]`),
  );
  return serialized(store, async () => {
    const roles = accountRoles(opts);
    const result: ReconcileResult = { matched: [], unmatched: [] };
    const lines = (await store.allOfType<StatementLineDoc>('statement_line'))
      .filter(
        (l) =>
          l.state === 'posted' &&
          !l.pending &&
          l.move !== undefined &&
          mappingFor(opts, l.connection) !== undefined,
      )
      .sort((a, b) => a.date.localeCompare(b.date) || (a._id < b._id ? -1 : 1));
    if (lines.length === 0) return result;
    await checkRoleAccounts(store, roles);
    await checkWriteOffAccounts(store, compiled);
    const invoices = new Map((await store.allOfType<InvoiceDoc>('invoice')).map((i) => [i._id, i]));
    const partners = new Map((await store.allOfType<PartnerDoc>('partner')).map((p) => [p._id, p]));
    const payments = await store.allOfType<AutomationPaymentDoc>('payment');
    for (const line of lines) {
      const mapping = mappingFor(opts, line.connection)!;
      const mine = payments.filter((p) => p.statement_line === line._id);
      const open = openAmount(line, mine);
      if (open <= 0) continue;
      const candidates = [...invoices.values()]
        .filter(
          (i) =>
            OPEN_STATES.has(i.state) &&
            i.residual > 0 &&
            i.kind === kindFor(line) &&
            i.currency === line.currency,
        )
        .sort(byDue);
      let booked = false;
      for (const rule of compiled) {
        const match =
          candidates.length > 0 ? rule.match({ line, open, candidates, partners }) : undefined;
        if (!match) continue;
        const allocations = allocate(open, match.invoices);
        if (allocations.length === 0) continue;
        const { docs, made } = paymentWrites(
          line,
          mapping,
          allocations,
          mine,
          rule.label,
          match.reason,
          roles,
          opts,
        );
        if (match.write_off) applyWriteOff(docs, made, open, match.write_off);
        await applyExchange(store, line, open, docs, opts);
        // Later lines of this run see the written revisions (and the lowered residuals).
        const written = await store.putMany(docs);
        for (const d of written) if (d.type === 'invoice') invoices.set(d._id, d);
        for (const d of written) if (d.type === 'payment') payments.push(d);
        result.matched.push(...made);
        logPayments(opts, made);
        booked = true;
        break;
      }
      if (!booked) result.unmatched.push(line._id);
    }
    if (result.matched.length > 0 || result.unmatched.length > 0) {
      opts.logger?.info(
        `reconciled ${new Set(result.matched.map((m) => m.line)).size} line(s), ${result.unmatched.length} left in suspense`,
        {
          event: 'ledger.reconcile_run',
          matched: result.matched.length,
          unmatched: result.unmatched.length,
        },
      );
    }
    return result;
  });
}

function isCompiled(r: unknown): r is CompiledRule {
  return typeof r === 'object' && r !== null && typeof (r as CompiledRule).match === 'function';
}

/** A visible statement line: one of an import that has not committed is not there yet. */
async function loadLine(store: BooksStore, lineId: string): Promise<StatementLineDoc> {
  const line = await store.get<StatementLineDoc>(lineId);
  if (!line || line.type !== 'statement_line' || (await stagedAmong(store, [line])).size > 0) {
    throw new AutomationError('LEDGER_NOT_FOUND', `no statement line ${lineId}`, {
      details: { line: lineId },
    });
  }
  return line;
}

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

export interface UndoResult {
  line: string;
  /** Payments voided by this call (empty when there was nothing to undo). */
  undone: Array<{
    payment: string;
    invoice: string;
    amount: number;
    currency: string;
    reversal?: string;
    removed_draft?: string;
    write_off?: WriteOffMade;
  }>;
}

/**
 * Undoes every reconciliation of `lineId` (`booksync reconcile LINE --undo`): each posted payment
 * move gets its reversal (posted moves are never edited), a draft one is deleted; the payment is
 * voided (`state: cancelled`), the invoice's residual and state are restored and the line is back
 * to `posted`, in suspense. Idempotent: nothing left to undo returns an empty list.
 */
export function undoReconciliation(
  store: BooksStore,
  lineId: string,
  opts: AutomationOptions = {},
): Promise<UndoResult> {
  return serialized(store, async () => {
    const line = await loadLine(store, lineId);
    const payments = await docsWithPrefix<AutomationPaymentDoc>(store, linePaymentPrefix(lineId));
    const active = payments.filter(isActive);
    const result: UndoResult = { line: lineId, undone: [] };
    const drafts: string[] = [];
    if (active.length > 0) {
      const date = today(opts);
      const related = await docsById<MoveDoc | InvoiceDoc>(store, [
        ...active.map((p) => p.move),
        ...active.map((p) => p.invoice),
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
        const inv = invoices.get(p.invoice) ?? (related.get(p.invoice) as InvoiceDoc | undefined);
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
          amount: p.amount,
          currency: p.currency,
          ...(reversal ? { reversal } : {}),
          ...(move && move.state !== 'posted' ? { removed_draft: move._id } : {}),
          ...(p.write_off ? { write_off: p.write_off } : {}),
        });
      }
      docs.push(...invoices.values());
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
 * rule matched, and reconciled lines with an overpayment left. Oldest first.
 */
export async function pendingLines(store: BooksStore): Promise<SuspenseLine[]> {
  const lines = await store.allOfType<StatementLineDoc>('statement_line');
  const payments = await store.allOfType<AutomationPaymentDoc>('payment');
  const byLine = new Map<string, AutomationPaymentDoc[]>();
  for (const p of payments)
    if (p.statement_line)
      byLine.set(p.statement_line, [...(byLine.get(p.statement_line) ?? []), p]);
  const out: SuspenseLine[] = [];
  for (const l of lines) {
    if (l.pending || (l.state !== 'posted' && l.state !== 'reconciled')) continue;
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

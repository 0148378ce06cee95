import { type InvoiceDoc, type PartnerDoc, type StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { RateBook } from './fx';
import { applyExchange } from './fx-payment';
import { accountRoles, serialized } from './options';
import {
  allocate,
  byDue,
  checkRoleAccounts,
  kindsFor,
  logPayments,
  mappingFor,
  openAmount,
  OPEN_STATES,
  paymentWrites,
  type AutomationPaymentDoc,
  type PaymentMade,
  type ReconcileOptions,
} from './payments';
import { OverpaymentRefunds } from './overpayment-refund';
import { checkOneTransferRule, compileRule, type CompiledRule, type RuleSpec } from './rules';
import { type TransferMade } from './transfer-book';
import { freeOfEarlierRules, transferMatcher } from './transfer-match';
import { companyRateFor } from './tolerance';
import { applyWriteOff, checkWriteOffAccounts } from './write-off';

export interface ReconcileResult {
  /** Payments booked by this call, in line order. */
  matched: PaymentMade[];
  /** Lines left in suspense (no rule matched). */
  unmatched: string[];
  /** Transfers between own accounts booked by this call (README, "Transfers between own accounts"). */
  transfers: TransferMade[];
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
  checkOneTransferRule(compiled);
  return serialized(store, async () => {
    const roles = accountRoles(opts);
    const result: ReconcileResult = { matched: [], unmatched: [], transfers: [] };
    const mapped = (await store.allOfType<StatementLineDoc>('statement_line')).filter(
      (l) => mappingFor(opts, l.connection) !== undefined,
    );
    const lines = mapped
      .filter((l) => l.state === 'posted' && !l.pending && l.move !== undefined)
      .sort((a, b) => a.date.localeCompare(b.date) || (a._id < b._id ? -1 : 1));
    if (lines.length === 0) return result;
    await checkRoleAccounts(store, roles);
    await checkWriteOffAccounts(store, compiled);
    const invoices = new Map((await store.allOfType<InvoiceDoc>('invoice')).map((i) => [i._id, i]));
    const partners = new Map((await store.allOfType<PartnerDoc>('partner')).map((p) => [p._id, p]));
    const payments = await store.allOfType<AutomationPaymentDoc>('payment');
    const rates = new RateBook(store);
    const refunds = new OverpaymentRefunds(store, opts, payments, partners, invoices);
    const paymentsOf = (line: StatementLineDoc) =>
      payments.filter((p) => p.statement_line === line._id);
    const candidatesFor = (line: StatementLineDoc) =>
      [...invoices.values()]
        .filter(
          (i) =>
            OPEN_STATES.has(i.state) &&
            i.residual > 0 &&
            kindsFor(line).includes(i.kind) &&
            i.currency === line.currency,
        )
        .sort(byDue);
    const transfers = await transferMatcher(store, compiled, lines, mapped, paymentsOf, opts);
    const partnerFree = freeOfEarlierRules(compiled, (line) => ({
      line,
      open: openAmount(line, paymentsOf(line)),
      candidates: candidatesFor(line),
      partners,
    }));
    await transfers?.pairOwnAccountLines(lines);
    for (const line of lines) {
      if (transfers?.isTaken(line._id)) continue;
      const mapping = mappingFor(opts, line.connection)!;
      const mine = paymentsOf(line);
      const open = openAmount(line, mine);
      if (open <= 0) continue;
      // Money to or from an own account is a transfer: it waits for its partner, never pays an invoice.
      if (transfers?.ownCounterparty(line)) {
        result.unmatched.push(line._id);
        continue;
      }
      const candidates = candidatesFor(line);
      const { company, missing } = await companyRateFor(rates, line, opts.company_currency);
      if (missing) {
        opts.logger?.warn(`${line._id} stays in suspense: ${missing.message}`, {
          event: 'ledger.rate_missing',
          line: line._id,
          from: missing.from,
          to: missing.to,
          date: missing.date,
        });
        result.unmatched.push(line._id);
        continue;
      }
      let booked = false;
      for (const rule of compiled) {
        if (rule.transfer) {
          booked = transfers !== undefined && (await transfers.tryLine(line, partnerFree));
          if (booked) break;
          continue;
        }
        const match =
          candidates.length > 0
            ? rule.match({ line, open, candidates, partners, ...(company ? { company } : {}) })
            : undefined;
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
        await applyExchange(store, line, open, docs, opts, made);
        // Later lines of this run see the written revisions (and the lowered residuals).
        const written = await store.putMany(docs);
        for (const d of written) if (d.type === 'invoice') invoices.set(d._id, d);
        for (const d of written) if (d.type === 'payment') payments.push(d);
        transfers?.take(line._id);
        result.matched.push(...made);
        logPayments(opts, made);
        booked = true;
        break;
      }
      const refund = booked ? undefined : await refunds.book(line, mapping, open, mine);
      if (refund) {
        transfers?.take(line._id);
        result.matched.push(refund);
      } else if (!booked) result.unmatched.push(line._id);
    }
    if (transfers) {
      result.transfers = transfers.made;
      result.unmatched = result.unmatched.filter((id) => !transfers.isTaken(id));
    }
    if (result.matched.length > 0 || result.unmatched.length > 0 || result.transfers.length > 0) {
      opts.logger?.info(
        `reconciled ${new Set(result.matched.map((m) => m.line)).size} line(s), ${result.transfers.length} transfer(s), ${result.unmatched.length} left in suspense`,
        {
          event: 'ledger.reconcile_run',
          matched: result.matched.length,
          transfers: result.transfers.length,
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

import { type InvoiceDoc, type PartnerDoc, type StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { RateBook } from './fx';
import { applyExchange } from './fx-payment';
import { accountRoles, serialized, type AccountRoles, type ConnectionMapping } from './options';
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
import {
  checkOneTransferRule,
  compileRule,
  type CompiledRule,
  type MatchContext,
  type RuleSpec,
} from './rules';
import { type TransferMade } from './transfer-book';
import {
  freeOfEarlierRules,
  transferMatcher,
  type PartnerCheck,
  type TransferMatcher,
} from './transfer-match';
import { companyRateFor } from './tolerance';
import type { RateMissingError } from './errors';
import { applyWriteOff, checkWriteOffAccounts } from './write-off';

export interface ReconcileResult {
  /** Payments booked by this call, in the order they were booked. */
  matched: PaymentMade[];
  /** Lines left in suspense (no rule matched). */
  unmatched: string[];
  /** Transfers between own accounts booked by this call (README, "Transfers between own accounts"). */
  transfers: TransferMade[];
}

/**
 * What one run reads once and keeps current as it writes: later lines (and later passes) see the
 * payments written and the residuals lowered before them.
 */
interface Run {
  store: BooksStore;
  opts: ReconcileOptions;
  rules: readonly CompiledRule[];
  roles: AccountRoles;
  invoices: Map<string, InvoiceDoc>;
  partners: Map<string, PartnerDoc>;
  payments: AutomationPaymentDoc[];
  rates: RateBook;
  refunds: OverpaymentRefunds;
  transfers: TransferMatcher | undefined;
  partnerFree: PartnerCheck;
  result: ReconcileResult;
  /** Lines whose missing rate is logged already: a line is tried once per pass. */
  rateWarned: Set<string>;
}

/** What trying a line did: booked it, left it waiting in suspense, or found it cleared already. */
type LineOutcome = 'booked' | 'waiting' | 'cleared';

/**
 * Runs `rules` (YAML specs or compiled) in order over every posted, not yet reconciled statement
 * line of the mapped connections, oldest first, and again over the lines still waiting while a
 * pass books something (`passes`). Unknown rule kinds throw `LEDGER_RULE_UNKNOWN` before anything
 * is read. Running it again changes nothing.
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
    const result: ReconcileResult = { matched: [], unmatched: [], transfers: [] };
    const mapped = (await store.allOfType<StatementLineDoc>('statement_line')).filter(
      (l) => mappingFor(opts, l.connection) !== undefined,
    );
    const lines = mapped
      .filter((l) => l.state === 'posted' && !l.pending && l.move !== undefined)
      .sort((a, b) => a.date.localeCompare(b.date) || (a._id < b._id ? -1 : 1));
    if (lines.length === 0) return result;
    const run = await startRun(store, compiled, lines, mapped, opts, result);
    await run.transfers?.pairOwnAccountLines(lines);
    const waiting = await passes(run, lines);
    result.unmatched = waiting.map((l) => l._id);
    if (run.transfers) {
      const transfers = run.transfers;
      result.transfers = transfers.made;
      result.unmatched = result.unmatched.filter((id) => !transfers.isTaken(id));
    }
    logRun(opts, result);
    return result;
  });
}

/** Checks the accounts the rules book to and reads what the run needs. */
async function startRun(
  store: BooksStore,
  rules: readonly CompiledRule[],
  lines: readonly StatementLineDoc[],
  mapped: readonly StatementLineDoc[],
  opts: ReconcileOptions,
  result: ReconcileResult,
): Promise<Run> {
  const roles = accountRoles(opts);
  await checkRoleAccounts(store, roles);
  await checkWriteOffAccounts(store, rules);
  const invoices = new Map((await store.allOfType<InvoiceDoc>('invoice')).map((i) => [i._id, i]));
  const partners = new Map((await store.allOfType<PartnerDoc>('partner')).map((p) => [p._id, p]));
  const payments = await store.allOfType<AutomationPaymentDoc>('payment');
  const refunds = new OverpaymentRefunds(store, opts, payments, partners, invoices);
  const run: Run = {
    store,
    opts,
    rules,
    roles,
    invoices,
    partners,
    payments,
    rates: new RateBook(store),
    refunds,
    transfers: undefined,
    partnerFree: () => true,
    result,
    rateWarned: new Set(),
  };
  run.transfers = await transferMatcher(
    store,
    rules,
    lines,
    mapped,
    (l) => paymentsOf(run, l),
    opts,
  );
  run.partnerFree = freeOfEarlierRules(rules, (line) => ({
    line,
    open: openAmount(line, paymentsOf(run, line)),
    candidates: candidatesFor(run, line),
    partners,
  }));
  return run;
}

/**
 * Tries every line, then the lines still waiting again while a pass booked something, and returns
 * the lines left waiting. A booking changes what other lines match (a partial payment leaves a
 * residual an earlier-dated line pays exactly), so one pass would leave work for the next run;
 * the run stops only when a pass books nothing, which is what a second run would find. Each
 * further pass follows a booking that removed a line, so there are at most `lines.length + 1`.
 */
async function passes(run: Run, lines: readonly StatementLineDoc[]): Promise<StatementLineDoc[]> {
  let waiting = [...lines];
  for (let pass = 0; pass <= lines.length; pass++) {
    const left: StatementLineDoc[] = [];
    let booked = false;
    for (const line of waiting) {
      const outcome = await tryLine(run, line);
      if (outcome === 'booked') booked = true;
      else if (outcome === 'waiting') left.push(line);
    }
    waiting = left;
    if (!booked) break;
  }
  return waiting;
}

/** The rules in order, then the refund of an overpayment, for one line. */
async function tryLine(run: Run, line: StatementLineDoc): Promise<LineOutcome> {
  const { transfers } = run;
  if (transfers?.isTaken(line._id)) return 'cleared';
  const mine = paymentsOf(run, line);
  const open = openAmount(line, mine);
  if (open <= 0) return 'cleared';
  // Money to or from an own account is a transfer: it waits for its partner, never pays an invoice.
  if (transfers?.ownCounterparty(line))
    return (await transfers.tryLine(line, () => true)) ? 'booked' : 'waiting';
  const { company, missing } = await companyRateFor(run.rates, line, run.opts.company_currency);
  if (missing) {
    warnRateMissing(run, line, missing);
    return 'waiting';
  }
  const mapping = mappingFor(run.opts, line.connection)!;
  const ctx: MatchContext = {
    line,
    open,
    candidates: candidatesFor(run, line),
    partners: run.partners,
    ...(company ? { company } : {}),
  };
  for (const rule of run.rules) {
    if (rule.transfer) {
      if (transfers && (await transfers.tryLine(line, run.partnerFree))) return 'booked';
    } else if (await payByRule(run, rule, ctx, mapping, mine)) return 'booked';
  }
  const refund = await run.refunds.book(line, mapping, open, mine);
  if (!refund) return 'waiting';
  transfers?.take(line._id);
  run.result.matched.push(refund);
  return 'booked';
}

/** Books the payments `rule` matches for the line, in one write; false when it matches nothing. */
async function payByRule(
  run: Run,
  rule: CompiledRule,
  ctx: MatchContext,
  mapping: ConnectionMapping,
  mine: readonly AutomationPaymentDoc[],
): Promise<boolean> {
  const match = ctx.candidates.length > 0 ? rule.match(ctx) : undefined;
  if (!match) return false;
  const allocations = allocate(ctx.open, match.invoices);
  if (allocations.length === 0) return false;
  const { line, open } = ctx;
  const { docs, made } = paymentWrites(
    line,
    mapping,
    allocations,
    mine,
    rule.label,
    match.reason,
    run.roles,
    run.opts,
  );
  if (match.write_off) applyWriteOff(docs, made, open, match.write_off);
  await applyExchange(run.store, line, open, docs, run.opts, made);
  const written = await run.store.putMany(docs);
  for (const d of written) if (d.type === 'invoice') run.invoices.set(d._id, d);
  for (const d of written) if (d.type === 'payment') run.payments.push(d);
  run.transfers?.take(line._id);
  run.result.matched.push(...made);
  logPayments(run.opts, made);
  return true;
}

function paymentsOf(run: Run, line: StatementLineDoc): AutomationPaymentDoc[] {
  return run.payments.filter((p) => p.statement_line === line._id);
}

/** Open invoices of the line's direction and currency, oldest due first. */
function candidatesFor(run: Run, line: StatementLineDoc): InvoiceDoc[] {
  return [...run.invoices.values()]
    .filter(
      (i) =>
        OPEN_STATES.has(i.state) &&
        i.residual > 0 &&
        kindsFor(line).includes(i.kind) &&
        i.currency === line.currency,
    )
    .sort(byDue);
}

function warnRateMissing(run: Run, line: StatementLineDoc, missing: RateMissingError): void {
  if (run.rateWarned.has(line._id)) return;
  run.rateWarned.add(line._id);
  run.opts.logger?.warn(`${line._id} stays in suspense: ${missing.message}`, {
    event: 'ledger.rate_missing',
    line: line._id,
    from: missing.from,
    to: missing.to,
    date: missing.date,
  });
}

function logRun(opts: ReconcileOptions, result: ReconcileResult): void {
  if (result.matched.length === 0 && result.unmatched.length === 0 && result.transfers.length === 0)
    return;
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

function isCompiled(r: unknown): r is CompiledRule {
  return typeof r === 'object' && r !== null && typeof (r as CompiledRule).match === 'function';
}

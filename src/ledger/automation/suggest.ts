import type { InvoiceDoc, MoveDoc, PartnerDoc, StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { readLocal, writeLocal } from './balances';
import { docsById } from './books';
import { matchDuplicate, type EntryMatch } from './duplicate';
import { AutomationError } from './errors';
import { shortHash } from './ids';
import { reconcileLine, type ManualReconciliation } from './manual';
import { serialized } from './options';
import {
  loadLine,
  mappingFor,
  openAmount,
  type AutomationPaymentDoc,
  type ReconcileOptions,
} from './payments';
import { pendingLines, suspenseLine, type SuspenseLine } from './pending';
import { RateBook } from './fx';
import { type RuleSpec } from './rules';
import { companyRateFor, lineTolerance, type CompanyRate } from './tolerance';
import { readLineText, scoreOf } from './suggest-score';
import {
  CANDIDATE_SOURCES,
  type AmountWindow,
  type Candidate,
  type CandidateKind,
  type CandidateSource,
} from './suggest-sources';

/**
 * Explained suggestions (README, "Explained suggestions"): for each line waiting in suspense, up
 * to three candidates with a score and the reasons for it, and `acceptSuggestion` to book one by
 * its number. The list is recomputed on every call, in a deterministic order, so the number the
 * user saw names the same candidate as long as the books did not change; what each number named
 * when it was last listed is remembered, and is how an accept notices that it changed.
 */

export const MAX_SUGGESTIONS = 3;

export interface Suggestion extends Candidate {
  /** 1-based: what `--accept N` takes. */
  n: number;
  /** 0–100, the sum of the reasons' points. */
  score: number;
}

export interface SuggestedLine extends SuspenseLine {
  candidates: Suggestion[];
}

export interface SuggestOptions extends ReconcileOptions {
  /** `ledger.reconcile.rules`: their amount_window tolerances and write-off accounts. */
  rules?: ReadonlyArray<RuleSpec | Record<string, unknown>>;
  /** Candidate sources, in order; default CANDIDATE_SOURCES. */
  sources?: readonly CandidateSource[];
}

/**
 * The amount_window rules as the suggestions use them, in the line's currency: a tolerance is
 * company currency, converted at the line date's rate like the rule does (tolerance.ts). A
 * foreign line whose rate is missing gets no windows: no amount is "within" without it.
 */
export function amountWindows(
  rules: SuggestOptions['rules'],
  currency: string,
  company?: CompanyRate | 'missing',
): AmountWindow[] {
  if (company === 'missing') return [];
  return (rules ?? []).flatMap((r) => {
    const spec = r as Record<string, unknown>;
    if (spec.kind !== 'amount_window') return [];
    const text = typeof spec.tolerance === 'string' ? spec.tolerance : '0';
    const account = typeof spec.write_off === 'string' ? spec.write_off : undefined;
    return [
      {
        tolerance: lineTolerance(text, currency, company),
        tolerance_text: text,
        ...(account ? { write_off: account } : {}),
      },
    ];
  });
}

/** The company rate of each foreign line, for its tolerances (`missing` when there is none yet). */
async function companyRates(
  store: BooksStore,
  lines: readonly StatementLineDoc[],
  company: string | undefined,
): Promise<Map<string, CompanyRate | 'missing'>> {
  const rates = new RateBook(store);
  const out = new Map<string, CompanyRate | 'missing'>();
  for (const line of lines) {
    const found = await companyRateFor(rates, line, company);
    if (found.company) out.set(line._id, found.company);
    else if (found.missing) out.set(line._id, 'missing');
  }
  return out;
}

interface BooksView {
  invoices: InvoiceDoc[];
  partners: Map<string, PartnerDoc>;
  moves: MoveDoc[];
  payments: AutomationPaymentDoc[];
}

async function readView(store: BooksStore): Promise<BooksView> {
  return {
    invoices: await store.allOfType<InvoiceDoc>('invoice'),
    partners: new Map((await store.allOfType<PartnerDoc>('partner')).map((p) => [p._id, p])),
    moves: await store.allOfType<MoveDoc>('move'),
    payments: await store.allOfType<AutomationPaymentDoc>('payment'),
  };
}

function differenceOf(c: Candidate): number {
  const amount = c.reasons.find((r) => r.kind === 'amount');
  return amount?.kind === 'amount' ? Math.abs(amount.difference) : Number.MAX_SAFE_INTEGER;
}

/** Best first: score, then the smaller amount difference, the earlier date, the id. */
function rank(candidates: readonly Candidate[]): Suggestion[] {
  return candidates
    .map((c) => ({ ...c, n: 0, score: scoreOf(c.reasons) }))
    .sort(
      (a, b) =>
        b.score - a.score ||
        differenceOf(a) - differenceOf(b) ||
        a.date.localeCompare(b.date) ||
        (a.target < b.target ? -1 : a.target > b.target ? 1 : 0),
    )
    .slice(0, MAX_SUGGESTIONS)
    .map((c, i) => ({ ...c, n: i + 1 }));
}

/** What accepting `c` books, as a key: another key under the same number is another booking. */
function bookingKey(open: number, c: Suggestion): string {
  return shortHash(
    String(open),
    c.target,
    String(c.amount),
    c.write_off?.account ?? '',
    String(c.write_off?.amount ?? 0),
  );
}

function suggestLine(
  line: StatementLineDoc,
  view: BooksView,
  opts: SuggestOptions,
  company?: CompanyRate | 'missing',
): SuggestedLine {
  const mine = view.payments.filter((p) => p.statement_line === line._id);
  const open = openAmount(line, mine);
  const mapping = mappingFor(opts, line.connection);
  const ctx = {
    line,
    open,
    ...(mapping ? { mapping } : {}),
    text: readLineText(line),
    partners: view.partners,
    invoices: view.invoices,
    moves: view.moves,
    payments: view.payments,
    windows: amountWindows(opts.rules, line.currency, company),
  };
  const candidates =
    open > 0 ? rank((opts.sources ?? CANDIDATE_SOURCES).flatMap((s) => s.candidates(ctx))) : [];
  return { ...suspenseLine(line, open), candidates };
}

/** Where the last listing's booking keys are kept, by line (this site only, never synced). */
const LISTED_ID = '_local/booksync-ledger-suggestions';

/**
 * The lines waiting in suspense (pending.ts) with their suggestions, oldest first. Remembers
 * what each line's numbers named, for `acceptSuggestion`.
 */
export async function pendingSuggestions(
  store: BooksStore,
  opts: SuggestOptions,
): Promise<SuggestedLine[]> {
  const pending = await pendingLines(store);
  const docs = await docsById<StatementLineDoc>(
    store,
    pending.map((p) => p.line),
  );
  const view = await readView(store);
  const rates = await companyRates(store, [...docs.values()], opts.company_currency);
  const out = pending.flatMap((p) => {
    const line = docs.get(p.line);
    return line ? [suggestLine(line, view, opts, rates.get(line._id))] : [];
  });
  await serialized(store, () =>
    writeLocal(
      store,
      LISTED_ID,
      Object.fromEntries(out.map((l) => [l.line, l.candidates.map((c) => bookingKey(l.open, c))])),
    ),
  );
  return out;
}

/** One line's suggestions as they are now (nothing remembered). */
export async function suggestionsFor(
  store: BooksStore,
  lineId: string,
  opts: SuggestOptions,
): Promise<SuggestedLine> {
  const line = await loadLine(store, lineId);
  const rates = await companyRates(store, [line], opts.company_currency);
  return suggestLine(line, await readView(store), opts, rates.get(line._id));
}

export interface AcceptedSuggestion {
  line: string;
  n: number;
  target: string;
  kind: CandidateKind;
  /** The payment booked (kind `invoice`). */
  reconciliation?: ManualReconciliation;
  /** The duplicate's match booked (kind `manual_entry`). */
  duplicate?: EntryMatch;
}

/** How each kind of candidate is booked: the same paths as `--with` and the duplicate match. */
const ACCEPT: Record<
  CandidateKind,
  (
    store: BooksStore,
    line: string,
    c: Suggestion,
    opts: SuggestOptions,
  ) => Promise<Pick<AcceptedSuggestion, 'reconciliation' | 'duplicate'>>
> = {
  invoice: async (store, line, c, opts) => ({
    reconciliation: await reconcileLine(store, line, c.target, {
      ...opts,
      ...(c.write_off
        ? { write_off: { account: c.write_off.account, limit: c.write_off.limit } }
        : {}),
    }),
  }),
  manual_entry: async (store, line, c, opts) => ({
    duplicate: await matchDuplicate(store, line, c.target, opts),
  }),
};

/**
 * Books candidate `n` of `lineId` (`booksync reconcile LINE --accept N`), recomputed now. With
 * `expect` (a target id, or an invoice number) it books only when candidate `n` is that target;
 * without, only when candidate `n` would book what number `n` named when the line was last
 * listed (the same target, amount and write-off). Otherwise it throws `LEDGER_SUGGESTION_STALE`
 * naming the current candidates, and books nothing.
 */
export async function acceptSuggestion(
  store: BooksStore,
  lineId: string,
  n: number,
  opts: SuggestOptions & { expect?: string },
): Promise<AcceptedSuggestion> {
  const now = await suggestionsFor(store, lineId, opts);
  const chosen = now.candidates.find((c) => c.n === n);
  const current = now.candidates.map((c) => `${c.n}: ${c.target}`).join(', ') || 'none';
  const stale: (why: string) => never = (why) => {
    throw new AutomationError(
      'LEDGER_SUGGESTION_STALE',
      `${lineId}: ${why}; its suggestions now are ${current} (list them again: booksync reconcile --pending)`,
      {
        details: {
          line: lineId,
          n,
          candidates: now.candidates.map((c) => ({ n: c.n, target: c.target })),
        },
      },
    );
  };
  if (opts.expect !== undefined) {
    const wanted = opts.expect;
    if (!chosen || (chosen.target !== wanted && chosen.target !== `invoice:${wanted}`))
      stale(`suggestion ${n} is ${chosen ? chosen.target : 'gone'}, not ${wanted}`);
  } else {
    const listed = (await readLocal<Record<string, string[]>>(store, LISTED_ID))?.[lineId];
    if (listed === undefined) stale('its suggestions were not listed (or it was not pending then)');
    if (!chosen || listed[n - 1] !== bookingKey(now.open, chosen))
      stale(
        `suggestion ${n} ${listed[n - 1] === undefined ? 'was not listed' : 'changed since it was listed'}`,
      );
  }
  if (!chosen) return stale(`there is no suggestion ${n}`);
  const booked = await ACCEPT[chosen.kind](store, lineId, chosen, opts);
  return { line: lineId, n, target: chosen.target, kind: chosen.kind, ...booked };
}

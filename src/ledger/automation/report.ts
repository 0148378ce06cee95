import type { CalendarDate } from '../../shared/dates';
import type { AccountDoc, AccountKind, MoveDoc, MoveLine, StatementLineDoc } from '../model';
import { visibleLines } from '../staged-imports';
import type { BooksStore } from '../store';
import { openItems, type OpenItems } from './open-items';
import { pendingLines, suspenseLine, type SuspenseLine } from './pending';

/**
 * The admin's daily check (`booksync report`): a trial balance and the bank lines not yet cleared.
 * Plain data; the CLI prints it as a table or as JSON.
 */

export interface TrialBalanceRow {
  code: string;
  name: string;
  /** Absent for an account code the moves use but the chart lacks. */
  kind?: AccountKind;
  currency: string;
  /** Sums of the period, minor units. */
  debit: number;
  credit: number;
  /** debit − credit. */
  balance: number;
  /**
   * With a company currency: the same sums in company currency (a line in it counts as is, a
   * foreign line by its `company` amount); null when a foreign line lacks one.
   */
  company_debit?: number | null;
  company_credit?: number | null;
  company_balance?: number | null;
}

export interface TrialBalanceTotal {
  currency: string;
  debit: number;
  credit: number;
  /** 0 when the books balance (they always should: every move balances per currency). */
  balance: number;
}

export interface TrialBalance {
  /** Moves dated up to this date (inclusive); absent: all. */
  date?: CalendarDate;
  include_draft: boolean;
  /** One row per account and currency with activity, by code then currency. */
  rows: TrialBalanceRow[];
  /** One per currency. */
  totals: TrialBalanceTotal[];
  /** True when every currency's debits equal its credits, and the company-currency ones too. */
  balanced: boolean;
  /** With a company currency: the total of the company-currency columns. */
  company_total?: TrialBalanceTotal;
}

export interface TrialBalanceOptions {
  date?: CalendarDate;
  /** Count draft moves too. @default false (a trial balance is of posted entries) */
  include_draft?: boolean;
  /** Adds company-currency columns (docs/CURRENCIES.md). */
  company_currency?: string;
}

/** A line's company-currency debit and credit, or undefined when it has none. */
function companySides(line: MoveLine, company: string): [number, number] | undefined {
  if (line.company?.currency === company) return [line.company.debit, line.company.credit];
  if (line.currency === company) return [line.debit, line.credit];
  return undefined;
}

function addCompany(row: TrialBalanceRow, line: MoveLine, company: string): void {
  const sides = companySides(line, company);
  const debit = row.company_debit === undefined ? 0 : row.company_debit;
  const credit = row.company_credit === undefined ? 0 : row.company_credit;
  if (!sides || debit === null || credit === null) {
    row.company_debit = row.company_credit = row.company_balance = null;
    return;
  }
  row.company_debit = debit + sides[0];
  row.company_credit = credit + sides[1];
  row.company_balance = row.company_debit - row.company_credit;
}

export async function trialBalance(
  store: BooksStore,
  opts: TrialBalanceOptions = {},
): Promise<TrialBalance> {
  const includeDraft = opts.include_draft ?? false;
  const accounts = new Map((await store.allOfType<AccountDoc>('account')).map((a) => [a.code, a]));
  const moves = await store.allOfType<MoveDoc>('move');
  const rows = new Map<string, TrialBalanceRow>();
  const totals = new Map<string, TrialBalanceTotal>();
  const company = opts.company_currency;
  const companyTotal: TrialBalanceTotal | undefined = company
    ? { currency: company, debit: 0, credit: 0, balance: 0 }
    : undefined;
  for (const m of moves) {
    if (m.state !== 'posted' && !includeDraft) continue;
    if (opts.date !== undefined && m.date > opts.date) continue;
    for (const l of m.lines) {
      const key = JSON.stringify([l.account, l.currency]);
      const acc = accounts.get(l.account);
      const row = rows.get(key) ?? {
        code: l.account,
        name: acc?.name ?? '(not in the chart)',
        ...(acc ? { kind: acc.kind } : {}),
        currency: l.currency,
        debit: 0,
        credit: 0,
        balance: 0,
      };
      row.debit += l.debit;
      row.credit += l.credit;
      row.balance = row.debit - row.credit;
      if (company && companyTotal) {
        addCompany(row, l, company);
        const sides = companySides(l, company);
        companyTotal.debit += sides?.[0] ?? 0;
        companyTotal.credit += sides?.[1] ?? 0;
        companyTotal.balance = companyTotal.debit - companyTotal.credit;
      }
      rows.set(key, row);
      const t = totals.get(l.currency) ?? { currency: l.currency, debit: 0, credit: 0, balance: 0 };
      t.debit += l.debit;
      t.credit += l.credit;
      t.balance = t.debit - t.credit;
      totals.set(l.currency, t);
    }
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const sortedTotals = [...totals.values()].sort((a, b) => cmp(a.currency, b.currency));
  return {
    ...(opts.date !== undefined ? { date: opts.date } : {}),
    include_draft: includeDraft,
    rows: [...rows.values()].sort((a, b) => cmp(a.code, b.code) || cmp(a.currency, b.currency)),
    totals: sortedTotals,
    balanced: sortedTotals.every((t) => t.balance === 0) && (companyTotal?.balance ?? 0) === 0,
    ...(companyTotal ? { company_total: companyTotal } : {}),
  };
}

export type UnreconciledStatus = 'unposted' | 'unmatched' | 'partly_matched';

export interface UnreconciledLine extends SuspenseLine {
  /** unposted: not booked yet (e.g. its currency is not the journal's); unmatched: all in suspense; partly_matched: some left after a payment. */
  status: UnreconciledStatus;
}

/**
 * Bank lines not cleared: booked lines never posted, posted lines in suspense, and reconciled lines
 * with money left in suspense. Pending lines are not listed (the bank has not booked them).
 */
export async function unreconciledLines(store: BooksStore): Promise<UnreconciledLine[]> {
  const suspense: UnreconciledLine[] = (await pendingLines(store)).map((l) => ({
    ...l,
    status: l.state === 'reconciled' ? 'partly_matched' : 'unmatched',
  }));
  const unposted: UnreconciledLine[] = (
    await visibleLines(store, await store.allOfType<StatementLineDoc>('statement_line'))
  )
    .filter((l) => l.state === 'new' && !l.pending && l.replaced_by === undefined && l.amount !== 0)
    .map((l) => ({ ...suspenseLine(l, Math.abs(l.amount)), status: 'unposted' }));
  return [...unposted, ...suspense].sort(
    (a, b) => a.date.localeCompare(b.date) || (a.line < b.line ? -1 : 1),
  );
}

export interface LedgerReport {
  trial_balance: TrialBalance;
  unreconciled: UnreconciledLine[];
  /** Open invoices, bills and credit notes, and the receivable / payable net of credit notes. */
  open_items: OpenItems;
}

/** The parts of `booksync report`. */
export async function ledgerReport(
  store: BooksStore,
  opts: TrialBalanceOptions = {},
): Promise<LedgerReport> {
  return {
    trial_balance: await trialBalance(store, opts),
    unreconciled: await unreconciledLines(store),
    open_items: await openItems(store),
  };
}

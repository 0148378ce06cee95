import type { TrialBalance } from '../ledger/automation';
import { formatAmount } from '../shared/money';

/**
 * The trial balance of `booksync report` as table rows: each account in its currency, and, with
 * a company currency, the same money in company currency beside it (docs/CURRENCIES.md,
 * "Report"). A `?` marks a foreign-currency row booked without company amounts.
 */

export type TrialBalanceView = Pick<TrialBalance, 'rows' | 'totals' | 'balanced' | 'company_total'>;

function amount(value: number | null | undefined, currency: string): string {
  if (value === null) return '?';
  return value === undefined ? '' : `${formatAmount(value, currency)} ${currency}`;
}

export function trialBalanceTable(tb: TrialBalanceView): string[][] {
  const company = tb.company_total?.currency;
  const own = (r: { debit: number; credit: number; currency: string }) => [
    amount(r.debit, r.currency),
    amount(r.credit, r.currency),
  ];
  const header = ['code', 'name', 'currency', 'debit', 'credit', 'balance'];
  if (!company) {
    return [
      header,
      ...tb.rows.map((r) => [r.code, r.name, r.currency, ...own(r), amount(r.balance, r.currency)]),
      ...tb.totals.map((t) => ['total', '', t.currency, ...own(t), '']),
    ];
  }
  return [
    [...header, `${company} debit`, `${company} credit`, `${company} balance`],
    ...tb.rows.map((r) => [
      r.code,
      r.name,
      r.currency,
      ...own(r),
      amount(r.balance, r.currency),
      amount(r.company_debit, company),
      amount(r.company_credit, company),
      amount(r.company_balance, company),
    ]),
    ...tb.totals.map((t) => ['total', '', t.currency, ...own(t), '', '', '', '']),
    [
      `total ${company}`,
      '',
      '',
      '',
      '',
      '',
      ...own(tb.company_total!),
      amount(tb.company_total!.balance, company),
    ],
  ];
}

import type { OpenItems } from '../ledger/automation';
import { formatAmount } from '../shared/money';
import { valueText } from '../shared/text';
import { table } from './format';

/**
 * The open invoices, bills and credit notes of `booksync report`: a credit note's open amount is
 * negative, and the totals are the receivable and payable net of credit notes (README, "Refunds
 * and credit notes").
 */

export type OpenItemsView = OpenItems;

const money = (value: number, currency: string) => `${formatAmount(value, currency)} ${currency}`;

export function openItemsText(view: OpenItemsView | undefined): string {
  const items = view?.items ?? [];
  const lines = [`\nOpen invoices, bills and credit notes: ${items.length}`];
  if (items.length === 0) return lines.join('\n');
  lines.push(
    table([
      ['invoice', 'kind', 'partner', 'due', 'total', 'open', 'credits'],
      ...items.map((i) => [
        valueText(i.invoice),
        i.kind,
        valueText(i.partner),
        i.due_date,
        money(i.total, i.currency),
        money(i.open, i.currency),
        valueText(i.credits ?? '-'),
      ]),
    ]),
  );
  for (const t of view?.totals ?? [])
    lines.push(
      `Receivable net of credit notes: ${money(t.receivable, t.currency)}; payable net of credit notes: ${money(t.payable, t.currency)}`,
    );
  return lines.join('\n');
}

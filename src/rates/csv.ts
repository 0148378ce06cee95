import { isCalendarDate } from '../shared/dates';
import { isCurrency } from '../shared/money';
import { isRateText } from '../shared/rate';
import { malformed } from './errors';
import type { RateQuote } from './quote';

/**
 * A rates CSV file (docs/CURRENCIES.md, "Rates files"): a header naming the columns `date`,
 * `base`, `quote` and `rate` (any order, other columns ignored), then one rate a line, comma
 * separated: `2024-02-01,EUR,USD,1.0830` means 1 EUR = 1.0830 USD on 2024-02-01. Rates are
 * plain decimals with a `.`; blank lines are skipped. Any bad line makes the whole file an error
 * naming the file and line: nothing of it is stored.
 */

const COLUMNS = ['date', 'base', 'quote', 'rate'] as const;

export function parseRatesCsv(text: string, source: string): RateQuote[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = lines[0]?.split(',').map((h) => h.trim().toLowerCase()) ?? [];
  const at = Object.fromEntries(COLUMNS.map((c) => [c, header.indexOf(c)])) as Record<
    (typeof COLUMNS)[number],
    number
  >;
  const missing = COLUMNS.filter((c) => at[c] < 0);
  if (missing.length > 0)
    throw malformed(
      source,
      1,
      `the header lacks column(s) ${missing.join(', ')} (expected date,base,quote,rate)`,
    );
  const quotes: RateQuote[] = [];
  const seen = new Map<string, RateQuote>();
  lines.slice(1).forEach((raw, i) => {
    const line = i + 2;
    if (raw.trim() === '') return;
    const cells = raw.split(',').map((c) => c.trim());
    if (cells.length !== header.length)
      throw malformed(source, line, `${cells.length} columns, the header has ${header.length}`);
    const [date, base, quote, rate] = COLUMNS.map((c) => cells[at[c]]);
    if (!isCalendarDate(date))
      throw malformed(source, line, `date '${String(date)}' is not a date YYYY-MM-DD`);
    for (const [what, code] of [
      ['base', base],
      ['quote', quote],
    ] as const)
      if (!isCurrency(code))
        throw malformed(source, line, `${what} '${code}' is not an ISO 4217 currency code`);
    if (base === quote) throw malformed(source, line, `base and quote are both ${base}`);
    if (!isRateText(rate))
      throw malformed(
        source,
        line,
        `rate '${String(rate)}' is not a positive decimal such as 1.0830`,
      );
    const key = `${base}:${quote}:${date}`;
    const before = seen.get(key);
    if (before && before.rate !== rate)
      throw malformed(
        source,
        line,
        `${base}/${quote} on ${date} is ${rate} here but ${before.rate} on line ${before.line}`,
      );
    if (before) return;
    const q: RateQuote = { base, quote, date, rate, line };
    seen.set(key, q);
    quotes.push(q);
  });
  if (quotes.length === 0) throw malformed(source, 1, 'no rates after the header');
  return quotes;
}

import type { RateDoc } from '../ledger/model';
import type { BooksStore } from '../ledger/store';

/**
 * What the books hold of exchange rates, for people (`booksync rates fetch` and `rates list`,
 * docs/CURRENCIES.md "Rates sources"): rate documents grouped by pair, and the documents of a pair.
 */

/** The rate documents of one pair a run stored, or the books hold: first and last date, how many. */
export interface RatePairSummary {
  /** `BASE:QUOTE`, as stored: 1 BASE = rate QUOTE. */
  pair: string;
  first: string;
  last: string;
  count: number;
}

/** Groups rate document ids (`rate:EUR:USD:2024-02-01`) by pair, pairs and dates in order. */
export function summarizeRateIds(ids: readonly string[]): RatePairSummary[] {
  const byPair = new Map<string, string[]>();
  for (const id of ids) {
    const [type, base, quote, date] = id.split(':');
    if (type !== 'rate' || !base || !quote || !date) continue;
    const pair = `${base}:${quote}`;
    const dates = byPair.get(pair);
    if (dates) dates.push(date);
    else byPair.set(pair, [date]);
  }
  return [...byPair.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([pair, dates]) => {
      const sorted = [...dates].sort();
      return { pair, first: sorted[0], last: sorted[sorted.length - 1], count: sorted.length };
    });
}

/** A pair as people write it: `EUR:USD`, any case. */
export const PAIR_TEXT = /^([A-Za-z]{3}):([A-Za-z]{3})$/;

/** A pair as people write it (`PAIR_TEXT`): `{ base, quote }`, or undefined when it is not one. */
export function parsePair(text: string): { base: string; quote: string } | undefined {
  const m = PAIR_TEXT.exec(text.trim());
  return m ? { base: m[1].toUpperCase(), quote: m[2].toUpperCase() } : undefined;
}

/** The rate documents of the books, oldest first per pair; only `pair` (`EUR:USD`) when given. */
export async function listRates(store: BooksStore, pair?: string): Promise<RateDoc[]> {
  const wanted = pair === undefined ? undefined : parsePair(pair);
  if (pair !== undefined && !wanted) return [];
  const prefix = wanted ? `rate:${wanted.base}:${wanted.quote}:` : 'rate:';
  const res = await store.db.allDocs({
    include_docs: true,
    startkey: prefix,
    endkey: `${prefix}\uffff`,
  });
  return res.rows.flatMap((r) => (r.doc ? [r.doc as unknown as RateDoc] : []));
}

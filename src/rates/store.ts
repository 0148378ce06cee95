import { rateId, type RateDoc } from '../ledger/model';
import type { BooksStore } from '../ledger/store';
import { parseRate } from '../shared/rate';
import { RatesError } from './errors';
import type { RateQuote } from './quote';

/**
 * Rate documents from quotes (docs/CURRENCIES.md, "Rate documents"). A quote whose document exists
 * with the same rate changes nothing (re-reading a file or a day's answer is a no-op); one whose
 * document holds another rate is a conflict, and then nothing of the batch is written: a published
 * rate is never silently replaced, the admin decides.
 */

export interface StoredRates {
  created: string[];
  unchanged: number;
}

const BATCH = 500;

function sameRate(a: string, b: string): boolean {
  const x = parseRate(a);
  const y = parseRate(b);
  return x.num === y.num && x.den === y.den;
}

export async function storeRates(
  store: BooksStore,
  quotes: readonly RateQuote[],
  source: string,
  where: string,
): Promise<StoredRates> {
  const docs: RateDoc[] = quotes.map((q) => ({
    _id: rateId(q.base, q.quote, q.date),
    type: 'rate',
    base: q.base,
    quote: q.quote,
    date: q.date,
    rate: q.rate,
    source,
  }));
  const fresh: RateDoc[] = [];
  const conflicts: string[] = [];
  let unchanged = 0;
  for (let i = 0; i < docs.length; i += BATCH) {
    const slice = docs.slice(i, i + BATCH);
    const res = await store.db.allDocs({ keys: slice.map((d) => d._id), include_docs: true });
    res.rows.forEach((row, k) => {
      const existing = (row as { doc?: RateDoc | null }).doc;
      const doc = slice[k];
      if (!existing) fresh.push(doc);
      else if (sameRate(existing.rate, doc.rate)) unchanged += 1;
      else
        conflicts.push(
          `${doc._id} is ${existing.rate} in the books (${existing.source}), ${doc.rate} in ${where} (line ${quotes[i + k].line})`,
        );
    });
  }
  if (conflicts.length > 0) {
    throw new RatesError(
      'RATES_CONFLICT',
      `${where}: ${conflicts.length} rate(s) differ from the books, nothing stored: ${conflicts.slice(0, 3).join('; ')}${conflicts.length > 3 ? ' ...' : ''}`,
      { details: { source: where, conflicts: conflicts.length } },
    );
  }
  for (let i = 0; i < fresh.length; i += BATCH) await store.putMany(fresh.slice(i, i + BATCH));
  return { created: fresh.map((d) => d._id), unchanged };
}

import { addDays, type CalendarDate } from '../../shared/dates';
import {
  convertMinor,
  crossRate,
  formatRate,
  invertRate,
  parseRate,
  type Rational,
} from '../../shared/rate';
import type { CompanyAmount, RateDoc } from '../model';
import type { BooksStore } from '../store';
import { RateMissingError } from './errors';

/**
 * Exchange rates read from the books' rate documents (docs/CURRENCIES.md, "Which rate").
 *
 * The rate of a date D for a pair is the one published for D; when there is none (a weekend, a
 * holiday: the ECB publishes on TARGET working days), the last one published within
 * `RATE_LOOKBACK_DAYS` before D, but only once a rate after D exists too, which shows that D was
 * not a publishing day. Until then the rate is missing and the line waits: a posting never uses
 * a rate that a later publication would have replaced, so re-runs and two sites agree.
 *
 * A pair is found as stored (`rate:<from>:<to>:D`), inverted (`rate:<to>:<from>:D`), or crossed
 * via EUR (`rate:EUR:<from>:D` and `rate:EUR:<to>:D`, the ECB's quotes), exactly, with no
 * intermediate rounding.
 */

export const RATE_LOOKBACK_DAYS = 7;

/** The hub of cross rates: the ECB quotes every currency against the euro. */
const CROSS_VIA = 'EUR';

export interface CompanyConversion {
  /** Minor units of the company currency (same sign as the input). */
  amount: number;
  /** The rate used, decimal text (or `num/den` for a cross rate without a finite expansion). */
  rate: string;
}

export class RateBook {
  private readonly memo = new Map<string, Promise<Rational | undefined>>();

  constructor(private readonly store: BooksStore) {}

  /** 1 `from` = result `to` on `date`; throws `RateMissingError` (`LEDGER_RATE_MISSING`). */
  async rate(from: string, to: string, date: CalendarDate): Promise<Rational> {
    if (from === to) return { num: 1n, den: 1n };
    const found = await this.find(from, to, date);
    if (!found) throw new RateMissingError(from, to, date);
    return found;
  }

  /** `amount` minor units of `from` in `to` at the rate of `date`; throws `RateMissingError`. */
  async convert(
    amount: number,
    from: string,
    to: string,
    date: CalendarDate,
  ): Promise<CompanyConversion> {
    const rate = await this.rate(from, to, date);
    return { amount: convertMinor(amount, from, to, rate), rate: formatRate(rate) };
  }

  private async find(from: string, to: string, date: CalendarDate): Promise<Rational | undefined> {
    const direct = await this.stored(from, to, date);
    if (direct) return direct;
    const inverse = await this.stored(to, from, date);
    if (inverse) return invertRate(inverse);
    if (from === CROSS_VIA || to === CROSS_VIA) return undefined;
    const viaFrom = await this.stored(CROSS_VIA, from, date);
    const viaTo = viaFrom && (await this.stored(CROSS_VIA, to, date));
    return viaFrom && viaTo ? crossRate(viaFrom, viaTo) : undefined;
  }

  private stored(base: string, quote: string, date: CalendarDate): Promise<Rational | undefined> {
    const key = `${base}:${quote}:${date}`;
    let found = this.memo.get(key);
    if (!found) {
      found = rateInForce(this.store, base, quote, date);
      this.memo.set(key, found);
    }
    return found;
  }
}

/** The stored rate of `base`/`quote` in force on `date` by the rule above, or undefined. */
async function rateInForce(
  store: BooksStore,
  base: string,
  quote: string,
  date: CalendarDate,
): Promise<Rational | undefined> {
  const prefix = `rate:${base}:${quote}:`;
  const before = await store.db.allDocs({
    include_docs: true,
    startkey: `${prefix}${date}`,
    endkey: `${prefix}${addDays(date, -RATE_LOOKBACK_DAYS)}`,
    descending: true,
    limit: 1,
  });
  const doc = before.rows[0]?.doc as RateDoc | undefined;
  if (!doc) return undefined;
  if (doc.date !== date) {
    const later = await store.db.allDocs({
      startkey: `${prefix}${addDays(date, 1)}`,
      endkey: `${prefix}\uffff`,
      limit: 1,
    });
    if (later.rows.length === 0) return undefined;
  }
  return parseRate(doc.rate);
}

/** The company part of a move line: `amount` (≥ 0) on the debit or credit side. */
export function companyPart(
  currency: string,
  amount: number,
  debit: boolean,
  rate?: string,
): CompanyAmount {
  return {
    currency,
    debit: debit ? amount : 0,
    credit: debit ? 0 : amount,
    ...(rate !== undefined ? { rate } : {}),
  };
}

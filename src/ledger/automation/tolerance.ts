import { currencyExponent, parseAmount } from '../../shared/money';
import { convertMinor, type Rational } from '../../shared/rate';
import type { StatementLineDoc } from '../model';
import { RateMissingError } from './errors';
import type { RateBook } from './fx';

/**
 * A rule's tolerance (`amount_window`, README "Write-offs") is written in the company currency:
 * `tolerance: "2.00"` in an EUR company allows at most 2.00 EUR of difference, whatever the
 * line's currency. For a line in another currency it is converted at the rate of the line's date
 * (docs/CURRENCIES.md, "Which rate") and rounded toward zero, so the converted limit never allows
 * more than the written one.
 */

/** The company currency and 1 unit of it in the line's currency on the line's date. */
export interface CompanyRate {
  currency: string;
  rate: Rational;
}

/**
 * A decimal tolerance (`"0.50"`) in minor units of `currency`. Digits beyond the currency's minor
 * unit are dropped (0.50 JPY is 0 yen): the tolerance only ever narrows, never widens.
 */
export function toleranceIn(text: string, currency: string): number {
  const [int, frac = ''] = text.split('.');
  const kept = frac.slice(0, currencyExponent(currency));
  return parseAmount(kept ? `${int}.${kept}` : int, currency, { decimal: '.', grouping: false });
}

/**
 * The tolerance `text` (company currency) in minor units of `lineCurrency`; without a company
 * currency, or for a line in it, the text is read in the line's currency.
 */
export function lineTolerance(text: string, lineCurrency: string, company?: CompanyRate): number {
  if (!company || company.currency === lineCurrency) return toleranceIn(text, lineCurrency);
  return convertMinor(
    toleranceIn(text, company.currency),
    company.currency,
    lineCurrency,
    company.rate,
    'toward_zero',
  );
}

/**
 * The company rate a rule needs for `line`, or undefined when the line is in company currency
 * (or there is none). A missing rate is `undefined` with `missing` set: the line is left alone.
 */
export async function companyRateFor(
  rates: RateBook,
  line: StatementLineDoc,
  company: string | undefined,
): Promise<{ company?: CompanyRate; missing?: RateMissingError }> {
  if (company === undefined || company === line.currency) return {};
  try {
    return {
      company: { currency: company, rate: await rates.rate(company, line.currency, line.date) },
    };
  } catch (err) {
    if (err instanceof RateMissingError) return { missing: err };
    throw err;
  }
}

import type { CodesRaisedAs, ErrorCatalog } from '../shared/errors';

/** The stable codes of the exchange-rate sources (docs/CURRENCIES.md); listed in docs/ERRORS.md. */
export const RATES_ERROR_CODES = {
  RATES_MALFORMED: {
    raisedAs: 'RatesError',
    meaning: 'a rates file or answer cannot be read; the message names the place (source:line)',
  },
  RATES_FETCH: {
    raisedAs: 'RatesError',
    meaning: 'the rates provider cannot be reached or answered an HTTP error',
  },
  RATES_CONFLICT: {
    raisedAs: 'RatesError',
    meaning: 'a rate disagrees with the rate document already in the books; nothing is overwritten',
  },
} as const satisfies ErrorCatalog;

/** The rates codes that the class named `Raiser` raises. */
export type RatesCodeOf<Raiser extends string> = CodesRaisedAs<typeof RATES_ERROR_CODES, Raiser>;

import type { CodesRaisedAs, ErrorCatalog } from './errors';

/**
 * The stable codes raised by the shared helpers (values, state files), with the class that raises
 * each and its meaning; listed in docs/ERRORS.md.
 */
export const SHARED_ERROR_CODES = {
  DATE_INVALID: {
    raisedAs: 'InvalidValueError',
    meaning:
      'a value is not a calendar date YYYY-MM-DD, or date arithmetic leaves the years 0000-9999',
  },
  DURATION_INVALID: {
    raisedAs: 'InvalidValueError',
    meaning: 'a value is not a duration (500ms, 90s, 15m, 4h, 1d, 2w) or is too long',
  },
  MONEY_CURRENCY: {
    raisedAs: 'InvalidValueError',
    meaning: 'a currency is not an ISO 4217 code booksync knows',
  },
  MONEY_NOT_INTEGER: {
    raisedAs: 'InvalidValueError',
    meaning: 'an amount is not an integer number of minor units',
  },
  RATE_INVALID: {
    raisedAs: 'InvalidValueError',
    meaning: 'a text cannot be read as an exchange rate (a positive plain decimal such as 1.0853)',
  },
  MONEY_PARSE: {
    raisedAs: 'InvalidValueError',
    meaning: 'a text cannot be read as an amount in its currency (too many decimals, not a number)',
  },
  MONEY_OVERFLOW: {
    raisedAs: 'InvalidValueError',
    meaning: 'a sum of amounts leaves the safe integer range',
  },
  STATE_FILE_READ: {
    raisedAs: 'StateFileError',
    meaning: 'a credential state file cannot be read (owner, mode); retrying will not help',
  },
  STATE_FILE_WRITE: {
    raisedAs: 'StateFileError',
    meaning: 'a credential state file cannot be written (owner, full disk); retrying will not help',
  },
  INTERNAL: {
    raisedAs: 'last_error',
    meaning:
      'an unexpected failure that is not a booksync error (a bug, or a library error without a code)',
  },
} as const satisfies ErrorCatalog;

export type SharedErrorCode = keyof typeof SHARED_ERROR_CODES;

/** The shared codes that the class named `Raiser` raises. */
export type SharedCodeOf<Raiser extends string> = CodesRaisedAs<typeof SHARED_ERROR_CODES, Raiser>;

import { BooksyncError, codesRaisedAs } from '../shared/errors';
import { RATES_ERROR_CODES, type RatesCodeOf } from './error-codes';

/**
 * Stable codes of the rates sources (docs/CURRENCIES.md, "Rates sources"): a file or answer that
 * cannot be read (`RATES_MALFORMED`, naming the place), a provider that cannot be reached
 * (`RATES_FETCH`), rates that disagree with rate documents already in the books
 * (`RATES_CONFLICT`: nothing is overwritten).
 */
export type RatesErrorCode = RatesCodeOf<'RatesError'>;

export class RatesError extends BooksyncError {
  static readonly codes = codesRaisedAs(RATES_ERROR_CODES, 'RatesError');
  declare readonly code: RatesErrorCode;

  constructor(
    code: RatesErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

/** `RATES_MALFORMED` at `source:line`. */
export function malformed(source: string, line: number, what: string): RatesError {
  return new RatesError('RATES_MALFORMED', `${source}:${line}: ${what}`, {
    details: { source, line },
  });
}

import { LEDGER_ERROR_CODES, type LedgerCodeOf } from '../error-codes';
import { BooksyncError, codesRaisedAs } from '../../shared/errors';

/** Stable codes of the ledger automation (src/ledger/error-codes.ts). */
export type AutomationErrorCode = LedgerCodeOf<'AutomationError'>;
/** The codes of the automation's own subclasses, which pass them up. */
type SubclassCode = LedgerCodeOf<'RateMissingError'>;

/** Every error of the ledger automation. `details` name the documents involved. */
export class AutomationError extends BooksyncError {
  static readonly codes = codesRaisedAs(LEDGER_ERROR_CODES, 'AutomationError');
  declare readonly code: AutomationErrorCode | SubclassCode;

  constructor(
    code: AutomationErrorCode | SubclassCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

/**
 * No exchange rate converts `from` into `to` on `date` yet (docs/CURRENCIES.md, "Which rate"):
 * the line or invoice waits unposted, and is posted when the rate document arrives.
 */
export class RateMissingError extends AutomationError {
  static readonly code = 'LEDGER_RATE_MISSING' satisfies LedgerCodeOf<'RateMissingError'>;

  constructor(
    readonly from: string,
    readonly to: string,
    readonly date: string,
  ) {
    super(
      RateMissingError.code,
      `no exchange rate ${from}/${to} for ${date} yet (a rate of ${date}, or of the last publishing day before it once a later one is published)`,
      { details: { from, to, date } },
    );
  }
}

import { LEDGER_ERROR_CODES, type LedgerCodeOf } from '../error-codes';
import { BooksyncError, codesRaisedAs } from '../../shared/errors';

/** Stable codes of the ledger automation (src/ledger/error-codes.ts). */
export type AutomationErrorCode = LedgerCodeOf<'AutomationError'>;

/** Every error of the ledger automation. `details` name the documents involved. */
export class AutomationError extends BooksyncError {
  static readonly codes = codesRaisedAs(LEDGER_ERROR_CODES, 'AutomationError');
  declare readonly code: AutomationErrorCode;

  constructor(
    code: AutomationErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

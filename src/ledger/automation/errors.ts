import { BooksyncError } from '../../shared/errors';

/**
 * Stable codes of the ledger automation (posting, reconciliation, balances, chart). Callers branch
 * on the class or the code, never on the message.
 */
export type AutomationErrorCode =
  /** A connection mapping names a journal or account the books do not have, or disagrees with it. */
  | 'LEDGER_MAPPING_INVALID'
  /** A statement line's currency differs from its connection's (no FX conversion is invented). */
  | 'LEDGER_CURRENCY_MISMATCH'
  /** No exchange rate for a currency pair on a date yet (the line waits for it). */
  | 'LEDGER_RATE_MISSING'
  /** A reconciliation rule names a kind the registry does not know. */
  | 'LEDGER_RULE_UNKNOWN'
  /** A reconciliation rule's settings are wrong (tolerance, days). */
  | 'LEDGER_RULE_INVALID'
  /** A statement line, invoice or move named by the caller does not exist. */
  | 'LEDGER_NOT_FOUND'
  /** A manual reconciliation or undo that the books cannot honour (wrong direction, nothing left). */
  | 'LEDGER_RECONCILE_REFUSED'
  /** The chart / company file is malformed. */
  | 'LEDGER_CHART_INVALID';

/** Every error of the ledger automation. `details` name the documents involved. */
export class AutomationError extends BooksyncError {
  declare readonly code: AutomationErrorCode;

  constructor(
    code: AutomationErrorCode,
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
  constructor(
    readonly from: string,
    readonly to: string,
    readonly date: string,
  ) {
    super(
      'LEDGER_RATE_MISSING',
      `no exchange rate ${from}/${to} for ${date} yet (a rate of ${date}, or of the last publishing day before it once a later one is published)`,
      { details: { from, to, date } },
    );
  }
}

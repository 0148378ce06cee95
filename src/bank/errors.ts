import { BANK_ERROR_CODES, type BankCodeOf } from './error-codes';
import {
  BooksyncError,
  PermanentError,
  codesRaisedAs,
  type BooksyncErrorOptions,
} from '../shared/errors';
import { redactText } from '../shared/redact';

/** The codes a `BankError` or one of its subclasses carries. */
type BankErrorFamilyCode = BankCodeOf<
  'BankError' | 'BankUnavailableError' | 'MalformedStatementError' | 'RateLimitedError'
>;

/**
 * Provider failures, one class per condition the fetch loop acts on. Each provider maps its
 * HTTP statuses and protocol codes to these in one function; each class takes only the codes
 * src/bank/error-codes.ts assigns to it.
 */
export class BankError extends BooksyncError {
  static readonly codes: readonly BankErrorFamilyCode[] = codesRaisedAs(
    BANK_ERROR_CODES,
    'BankError',
  );
  declare readonly code: BankErrorFamilyCode;

  constructor(code: BankErrorFamilyCode, message: string, options: BooksyncErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * A provider's answer lacks what its reader needs (an object that is not one, a missing amount).
 * Raised inside a provider's reader, which knows no connection; the provider turns it into its own
 * `*_MALFORMED` code with {@link unreadableAnswer}.
 */
export class AnswerShapeError extends BooksyncError {
  static readonly code = 'BANK_ANSWER_SHAPE' satisfies BankCodeOf<'AnswerShapeError'>;

  constructor(message: string) {
    super(AnswerShapeError.code, message);
  }
}

/**
 * A provider's {@link AnswerShapeError} as the MalformedStatementError the fetch loop reports:
 * the connection named, the reader's words redacted of the connection's secrets.
 */
export function unreadableAnswer(
  err: AnswerShapeError,
  code: BankCodeOf<'MalformedStatementError'>,
  what: string,
  connection: string,
  secrets: readonly string[],
): MalformedStatementError {
  return new MalformedStatementError(
    code,
    `${connection}: ${what} cannot be read: ${redactText(err.message, secrets)}`,
    { cause: err, details: { connection } },
  );
}

/** Credentials rejected: status auth_required; no retry until the credentials change. */
export class BankAuthError extends PermanentError {
  static readonly codes = codesRaisedAs(BANK_ERROR_CODES, 'BankAuthError');
  declare readonly code: BankCodeOf<'BankAuthError'>;

  constructor(
    code: BankCodeOf<'BankAuthError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** Consent / agreement / access expired: status consent_expired; no retry until renewed. */
export class ConsentExpiredError extends PermanentError {
  static readonly codes = codesRaisedAs(BANK_ERROR_CODES, 'ConsentExpiredError');
  declare readonly code: BankCodeOf<'ConsentExpiredError'>;

  constructor(
    code: BankCodeOf<'ConsentExpiredError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** The provider said slow down: status rate_limited; no call before `retryAt`. */
export class RateLimitedError extends BankError {
  static readonly code = 'BANK_RATE_LIMITED' satisfies BankCodeOf<'RateLimitedError'>;
  static override readonly codes = [RateLimitedError.code] as const;
  declare readonly code: typeof RateLimitedError.code;

  constructor(
    message: string,
    readonly retryAt: Date,
    options: BooksyncErrorOptions = {},
  ) {
    super(RateLimitedError.code, message, {
      ...options,
      details: { ...(options.details ?? {}), retry_at: retryAt.toISOString() },
    });
  }
}

/** Transient: network error, timeout, 5xx, hung server. Status error; retried on schedule. */
export class BankUnavailableError extends BankError {
  static override readonly codes = codesRaisedAs(BANK_ERROR_CODES, 'BankUnavailableError');
  declare readonly code: BankCodeOf<'BankUnavailableError'>;

  constructor(
    code: BankCodeOf<'BankUnavailableError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** The bank sent something we cannot read (malformed file or body). Status error; nothing imported. */
export class MalformedStatementError extends BankError {
  static override readonly codes = codesRaisedAs(BANK_ERROR_CODES, 'MalformedStatementError');
  declare readonly code: BankCodeOf<'MalformedStatementError'>;

  constructor(
    code: BankCodeOf<'MalformedStatementError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

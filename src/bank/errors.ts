import { BooksyncError, PermanentError } from '../shared/errors';

/**
 * Provider failures, one class per condition the fetch loop acts on. Each provider maps its
 * HTTP statuses and protocol codes to these in one function.
 */
export class BankError extends BooksyncError {}

/** Credentials rejected: status auth_required; no retry until the credentials change. */
export class BankAuthError extends PermanentError {}

/** Consent / agreement / access expired: status consent_expired; no retry until renewed. */
export class ConsentExpiredError extends PermanentError {}

/** The provider said slow down: status rate_limited; no call before `retryAt`. */
export class RateLimitedError extends BankError {
  constructor(
    message: string,
    readonly retryAt: Date,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('BANK_RATE_LIMITED', message, {
      ...options,
      details: { ...(options.details ?? {}), retry_at: retryAt.toISOString() },
    });
  }
}

/** Transient: network error, timeout, 5xx, hung server. Status error; retried on schedule. */
export class BankUnavailableError extends BankError {}

/** The bank sent something we cannot read (malformed file or body). Status error; nothing imported. */
export class MalformedStatementError extends BankError {}

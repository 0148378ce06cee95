import {
  BankAuthError,
  BankUnavailableError,
  ConsentExpiredError,
  RateLimitedError,
  type BankError,
} from '../../errors';
import {
  BankRequestRejectedError,
  errorObject,
  parseRetryAfter,
  statusError,
  type HttpResponse,
} from '../../http';
import { remoteExcerpt } from '../../../shared/redact';
import type { PermanentError } from '../../../shared/errors';

/**
 * The one mapping from Enable Banking answers to booksync errors. Error bodies are
 * `{code, message, error?, detail?}` where `error` is a stable upper-case name (EXPIRED_SESSION,
 * ASPSP_RATE_LIMIT_EXCEEDED, ...) and `code` repeats the HTTP status.
 *
 * @link https://enablebanking.com/docs/api/reference/ ("Errors")
 */

export interface EbErrorBody {
  message?: string;
  error?: string;
}

export function errorBody(res: HttpResponse): EbErrorBody {
  const o = errorObject(res);
  return {
    ...(typeof o.message === 'string' ? { message: o.message } : {}),
    ...(typeof o.error === 'string' ? { error: o.error.toUpperCase() } : {}),
  };
}

/** The session no longer gives access: the account holder must authorise a new one. */
const SESSION_GONE = new Set(['EXPIRED_SESSION', 'REVOKED_SESSION', 'CLOSED_SESSION']);
/** The bank (ASPSP) behind Enable Banking failed or timed out: the next run retries. */
const BANK_DOWN = new Set(['ASPSP_ERROR', 'ASPSP_TIMEOUT']);
/** The application itself is refused: its key, id or allowed services are wrong. */
const APP_REFUSED = new Set([
  'UNAUTHORIZED_ACCESS',
  'AUTHORIZATION_NOT_PROVIDED',
  'WRONG_CREDENTIALS_PROVIDED',
  'ACCESS_DENIED',
  'UNAUTHORIZED_IP',
  'INVALID_HOST',
]);

/** A rate-limited call may be retried at Retry-After, else the next UTC midnight (the banks' daily quota). */
export function rateLimitRetryAt(res: HttpResponse, now: Date): Date {
  const after = parseRetryAfter(res.headers.get('retry-after'), now);
  if (after) return after;
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return next;
}

/** Any non-2xx answer → the error the fetch loop acts on (connection state, backoff, alert). */
export function enableBankingError(
  res: HttpResponse,
  connection: string,
  now: Date,
  secrets: readonly string[],
): BankError | PermanentError {
  const body = errorBody(res);
  const said = body.message ? remoteExcerpt(body.message, secrets, 300) : '';
  const reason = said || body.error ? ` (${[body.error, said].filter(Boolean).join(': ')})` : '';
  const where = `${connection}: ${res.what}`;
  const details = { connection, status: res.status, ...(body.error ? { error: body.error } : {}) };
  const code = body.error ?? '';
  if (SESSION_GONE.has(code)) {
    return new ConsentExpiredError(
      'ENABLEBANKING_SESSION_EXPIRED',
      `${where}: the bank authorisation session has ended${reason}; the account holder must authorise again (a new session), then update session_id`,
      { details },
    );
  }
  if (res.status === 429 || code === 'ASPSP_RATE_LIMIT_EXCEEDED') {
    const at = rateLimitRetryAt(res, now);
    return new RateLimitedError(
      `${where}: rate limited by the bank or Enable Banking${reason}; next call allowed after ${at.toISOString()}`,
      at,
      { details },
    );
  }
  if (BANK_DOWN.has(code) || res.status >= 500) {
    return new BankUnavailableError(
      'ENABLEBANKING_UNAVAILABLE',
      `${where}: Enable Banking answered HTTP ${res.status}${reason}`,
      { details },
    );
  }
  if (APP_REFUSED.has(code) || res.status === 401 || res.status === 403) {
    return new BankAuthError(
      'ENABLEBANKING_APP_REFUSED',
      `${where}: Enable Banking refused the application (HTTP ${res.status})${reason}; check application_id and the private_key of the application in the Enable Banking control panel`,
      { details },
    );
  }
  if (code === 'ASPSP_ACCOUNT_NOT_ACCESSIBLE' || code === 'ACCOUNT_DOES_NOT_EXIST') {
    return new BankAuthError(
      'ENABLEBANKING_ACCOUNT_GONE',
      `${where}: the account is no longer accessible in this session${reason}; the account holder must authorise again`,
      { details },
    );
  }
  if (code === 'SESSION_DOES_NOT_EXIST' || res.status === 404) {
    return new BankRequestRejectedError(
      'ENABLEBANKING_NOT_FOUND',
      `${where}: not found (HTTP ${res.status})${reason}; check session_id and accounts in the settings`,
      { details },
    );
  }
  if (res.status === 400 || res.status === 422) {
    return new BankRequestRejectedError(
      'ENABLEBANKING_BAD_REQUEST',
      `${where}: Enable Banking rejected the request (HTTP ${res.status})${reason}`,
      { details },
    );
  }
  return statusError(res, { connection, now, secrets, ...(said ? { reason: said } : {}) });
}

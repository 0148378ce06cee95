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
 * The one mapping from GoCardless Bank Account Data answers to booksync errors.
 *
 * Error bodies are `{summary, detail, status_code, type?}`; 400 bodies may instead be keyed by
 * field (`{"date_from": {summary, detail}, "status_code": 400}`). 401 means an invalid/expired
 * token, an expired end-user agreement, or `type: AccountInactiveError`; 409 a suspended account;
 * 429 the per-account, per-scope daily limit of the bank (4/day).
 *
 * @link https://bankaccountdata.gocardless.com/api/docs
 */

export interface GcErrorBody {
  summary?: string;
  detail?: string;
  type?: string;
}

/** Reads summary/detail from an error body, including the field-keyed 400 form. */
export function errorBody(res: HttpResponse): GcErrorBody {
  const o = errorObject(res);
  const pick = (x: Record<string, unknown>): GcErrorBody => ({
    summary:
      typeof x.summary === 'string'
        ? x.summary
        : Array.isArray(x.summary)
          ? x.summary.join(' ')
          : undefined,
    detail:
      typeof x.detail === 'string'
        ? x.detail
        : Array.isArray(x.detail)
          ? x.detail.join(' ')
          : undefined,
    type: typeof x.type === 'string' ? x.type : undefined,
  });
  const top = pick(o);
  if (top.summary || top.detail) return top;
  for (const [key, value] of Object.entries(o)) {
    if (key === 'status_code' || typeof value !== 'object' || value === null) continue;
    const field = pick(value as Record<string, unknown>);
    if (field.summary || field.detail)
      return { ...field, summary: `${key}: ${field.summary ?? ''}`.trim() };
  }
  return {};
}

/** 401 "Invalid token" / token expired: the client refreshes once and retries. */
export function isTokenError(res: HttpResponse, body: GcErrorBody): boolean {
  if (res.status !== 401) return false;
  if (isAgreementExpired(body) || body.type === 'AccountInactiveError') return false;
  return true;
}

function isAgreementExpired(body: GcErrorBody): boolean {
  return /end user agreement.*expired|EUA.*expired/i.test(
    `${body.summary ?? ''} ${body.detail ?? ''}`,
  );
}

function header(res: HttpResponse, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = res.headers.get(n);
    if (v !== null && v.trim() !== '') return v.trim();
  }
  return undefined;
}

/**
 * When a 429 may be retried: the account-success reset when that limit is spent, else the
 * seconds named in `detail` ("try again in 85092 seconds"), else the general reset, else
 * Retry-After, else one hour. Both header spellings are read (documented `HTTP_X_RATELIMIT_*`,
 * sent `x-ratelimit-*`).
 */
export function rateLimitRetryAt(res: HttpResponse, body: GcErrorBody, now: Date): Date {
  const seconds = (v: string | undefined) =>
    v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  const accountRemaining = seconds(
    header(res, [
      'http_x_ratelimit_account_success_remaining',
      'x-ratelimit-account-success-remaining',
    ]),
  );
  const accountReset = seconds(
    header(res, ['http_x_ratelimit_account_success_reset', 'x-ratelimit-account-success-reset']),
  );
  const inDetail = seconds(/try again in (\d+) seconds?/i.exec(body.detail ?? '')?.[1]);
  const generalReset = seconds(header(res, ['http_x_ratelimit_reset', 'x-ratelimit-reset']));
  const pick =
    accountRemaining === 0 && accountReset !== undefined
      ? accountReset
      : (inDetail ?? accountReset ?? generalReset);
  if (pick !== undefined) return new Date(now.getTime() + pick * 1000);
  return (
    parseRetryAfter(res.headers.get('retry-after'), now) ?? new Date(now.getTime() + 3_600_000)
  );
}

/** Any non-2xx answer → the error the fetch loop acts on. */
export function gocardlessError(
  res: HttpResponse,
  connection: string,
  now: Date,
  secrets: readonly string[],
): BankError | PermanentError {
  const body = errorBody(res);
  const said = [body.summary, body.detail]
    .filter(Boolean)
    .map((s) => remoteExcerpt(String(s), secrets, 300))
    .join(': ');
  const reason = said ? ` ("${said}")` : '';
  const where = `${connection}: ${res.what}`;
  const details = { connection, status: res.status, ...(body.type ? { type: body.type } : {}) };
  switch (res.status) {
    case 400:
      return new BankRequestRejectedError(
        'GOCARDLESS_BAD_REQUEST',
        `${where}: GoCardless rejected the request (HTTP 400)${reason}`,
        { details },
      );
    case 401:
      if (isAgreementExpired(body)) {
        return new ConsentExpiredError(
          'GOCARDLESS_AGREEMENT_EXPIRED',
          `${where}: the end-user agreement has expired${reason}; the account holder must consent again (a new requisition), then update requisition_id`,
          { details },
        );
      }
      if (body.type === 'AccountInactiveError') {
        return new BankAuthError(
          'GOCARDLESS_ACCOUNT_INACTIVE',
          `${where}: the account was deactivated or no longer exists${reason}; link the bank again (a new requisition)`,
          { details },
        );
      }
      return new BankAuthError(
        'GOCARDLESS_TOKEN_REFUSED',
        `${where}: GoCardless refused a fresh access token (HTTP 401)${reason}; check secret_id and secret_key`,
        { details },
      );
    case 403:
      return new BankAuthError(
        'GOCARDLESS_ACCESS_DENIED',
        `${where}: access denied (HTTP 403)${reason}; the agreement may not cover this scope, or the secrets belong to another account`,
        { details },
      );
    case 404:
      return new BankRequestRejectedError(
        'GOCARDLESS_NOT_FOUND',
        `${where}: not found (HTTP 404)${reason}; check requisition_id and accounts in the settings`,
        { details },
      );
    case 409:
      return new BankAuthError(
        'GOCARDLESS_ACCOUNT_SUSPENDED',
        `${where}: the account is suspended after repeated failures (HTTP 409)${reason}; link the bank again (a new requisition)`,
        { details },
      );
    case 429: {
      const at = rateLimitRetryAt(res, body, now);
      return new RateLimitedError(
        `${where}: rate limited by the bank or GoCardless${reason}; next call allowed after ${at.toISOString()}`,
        at,
        { details },
      );
    }
    default:
      if (res.status >= 500) {
        return new BankUnavailableError(
          'GOCARDLESS_UNAVAILABLE',
          `${where}: GoCardless answered HTTP ${res.status}${reason}`,
          { details },
        );
      }
      return statusError(res, { connection, now, secrets, ...(said ? { reason: said } : {}) });
  }
}

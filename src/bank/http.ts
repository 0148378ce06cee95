import {
  BankAuthError,
  BankError,
  BankUnavailableError,
  MalformedStatementError,
  RateLimitedError,
} from './errors';
import type { Deadline } from '../shared/deadline';
import { fetchWithDeadline } from '../shared/fetch-deadline';
import { BANK_ERROR_CODES, type BankCodeOf } from './error-codes';
import { PermanentError, codesRaisedAs, type BooksyncErrorOptions } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { MAX_REDACTED_TEXT, redactText, truncateText } from '../shared/redact';
import { isHttpsOrLoopback, splitUrlCredentials } from '../shared/urls';

/**
 * The provider toolkit for talking HTTP to a bank or aggregator: one request function with a
 * per-request timeout chained to the run's abort signal, a capped body reader, Retry-After
 * parsing, credential-free URLs and messages, and a default HTTP status → error mapping that a
 * provider refines with its own hook.
 *
 * Nothing here retries: retrying is the fetch loop's job ("retry at the edge", §2).
 */

/** The bank rejected the request for a reason a retry cannot fix (account unknown, payment due, a bad setting). */
export class BankRequestRejectedError extends PermanentError {
  static readonly codes = codesRaisedAs(BANK_ERROR_CODES, 'BankRequestRejectedError');
  declare readonly code: BankCodeOf<'BankRequestRejectedError'>;

  constructor(
    code: BankCodeOf<'BankRequestRejectedError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** The part of `FetchContext` this module needs. */
export interface HttpContext {
  connection: string;
  signal: AbortSignal;
  requestTimeoutMs: number;
  now: () => Date;
  logger?: Logger;
}

export interface HttpRequest {
  url: URL | string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  /** Largest body accepted; a bigger one is a `MalformedStatementError`. @default DEFAULT_MAX_BODY_BYTES */
  maxBytes?: number;
  /** What the request is for, in messages ("GET /accounts", "OFX statement request"). Never holds credentials. */
  what: string;
  /** Values that must never appear in a message (passwords, tokens); masked as `***`. */
  secrets?: readonly string[];
  /** The URL to show in messages and logs when the path itself is secret (a claim token). @default safeUrl(url) */
  displayUrl?: string;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** The request URL without credentials or query, for messages. */
  safeUrl: string;
  what: string;
  /** The body decoded as UTF-8 (or `encoding`). */
  text(encoding?: string): string;
}

/** 20 MiB: far above any real statement, small enough that a runaway body cannot exhaust memory. */
export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;

/**
 * Sends one request and reads the whole body (under the same timeout). Network failures,
 * timeouts and aborts become `BankUnavailableError`; any HTTP status is returned as is, for the
 * caller to map with `statusError`.
 */
export async function httpRequest(ctx: HttpContext, req: HttpRequest): Promise<HttpResponse> {
  const url = typeof req.url === 'string' ? new URL(req.url) : req.url;
  if (url.username || url.password) {
    // Node's fetch refuses URLs with credentials, and they must never reach a message anyway.
    throw new BankError(
      'BANK_URL_CREDENTIALS',
      `${ctx.connection}: refusing to send credentials inside a URL (${req.what}); use splitCredentials()`,
    );
  }
  const safe = req.displayUrl ?? safeUrl(url);
  const secrets = req.secrets ?? [];
  const started = Date.now();
  // The run's signal or the per-request timeout, whichever comes first, and an abort that always
  // lands (shared/fetch-deadline.ts: a hung bank must not hold the run past its timeout).
  // Redirects are not followed: a bank URL that moved is a settings change, and following a
  // 307 would re-send a password in the body to wherever the Location points.
  const exchange = await fetchWithDeadline(
    url,
    { method: req.method ?? 'GET', headers: req.headers, body: req.body, redirect: 'manual' },
    { timeoutMs: ctx.requestTimeoutMs, signal: ctx.signal },
    (response, deadline) =>
      readCapped(response, req.maxBytes ?? DEFAULT_MAX_BODY_BYTES, ctx, req.what, deadline),
  );
  if (!exchange.ok) {
    if (exchange.error instanceof BankError) throw exchange.error;
    throw transportError(ctx, req.what, safe, exchange.error, secrets);
  }
  const { response: res, body } = exchange;
  ctx.logger?.debug(`${req.what}: HTTP ${res.status}`, {
    event: 'bank.http',
    connection: ctx.connection,
    method: req.method ?? 'GET',
    url: safe,
    status: res.status,
    bytes: body.length,
    ms: Date.now() - started,
  });
  return {
    status: res.status,
    headers: res.headers,
    body,
    safeUrl: safe,
    what: req.what,
    text: (encoding = 'utf-8') => decodeText(body, encoding),
  };
}

async function readCapped(
  res: Response,
  maxBytes: number,
  ctx: HttpContext,
  what: string,
  deadline: Deadline,
): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw tooLarge(ctx, what, maxBytes);
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await deadline.race(reader.read());
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(ctx, what, maxBytes);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}

function tooLarge(ctx: HttpContext, what: string, maxBytes: number): MalformedStatementError {
  return new MalformedStatementError(
    'BANK_BODY_TOO_LARGE',
    `${ctx.connection}: ${what}: the response is larger than ${maxBytes} bytes`,
    {
      details: { connection: ctx.connection, max_bytes: maxBytes },
    },
  );
}

/** Maps a failed fetch (timeout, abort, refused connection, TLS...) to a human `BankUnavailableError`. */
function transportError(
  ctx: HttpContext,
  what: string,
  safe: string,
  err: unknown,
  secrets: readonly string[],
): BankUnavailableError {
  const details = { connection: ctx.connection, url: safe };
  if (ctx.signal.aborted) {
    return new BankUnavailableError(
      'BANK_ABORTED',
      `${ctx.connection}: ${what} to ${safe} was cancelled`,
      { details },
    );
  }
  const name = err instanceof Error ? err.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new BankUnavailableError(
      'BANK_TIMEOUT',
      `${ctx.connection}: ${what}: no answer from ${safe} within ${ctx.requestTimeoutMs} ms`,
      {
        details: { ...details, timeout_ms: ctx.requestTimeoutMs },
      },
    );
  }
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const reason = redactText(cause instanceof Error ? cause.message : String(cause), secrets);
  return new BankUnavailableError(
    'BANK_NETWORK',
    `${ctx.connection}: ${what}: cannot reach ${safe}: ${typeof code === 'string' ? code : reason}`,
    {
      details: { ...details, reason },
    },
  );
}

/** Decodes bytes with a WHATWG label (utf-8, windows-1252, iso-8859-1...); an unknown label falls back to UTF-8. */
export function decodeText(body: Uint8Array, encoding = 'utf-8'): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding);
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(body);
}

/**
 * Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date. Returns the instant,
 * never earlier than `now`; `undefined` when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): Date | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return new Date(now.getTime() + Number(text) * 1000);
  // An HTTP date always names the weekday and GMT; anything else (e.g. "soon", "1.5") is ignored.
  if (
    !/^[A-Za-z]{3},? .*\d{2}:\d{2}:\d{2} GMT$/.test(text) &&
    !/^[A-Za-z]+, \d{2}-[A-Za-z]{3}-\d{2} /.test(text)
  )
    return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return new Date(Math.max(at, now.getTime()));
}

/** `https://host:port/path` of a URL: no userinfo, no query, no fragment. Safe for logs and messages. */
export function safeUrl(url: URL | string): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return '(invalid URL)';
  }
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * Splits `https://user:pass@host/path` into the URL without userinfo and a Basic `Authorization`
 * header value (userinfo is percent-decoded first, RFC 3986 §3.2.1).
 */
export function splitCredentials(url: URL | string): {
  url: URL;
  authorization?: string;
  username?: string;
  password?: string;
} {
  const { url: bare, credentials } = splitUrlCredentials(url);
  if (!credentials) return { url: bare };
  const { username, password } = credentials;
  return {
    url: bare,
    username,
    password,
    authorization: `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`,
  };
}

export function looksLikeHtml(text: string): boolean {
  return (
    /^\s*(<!doctype html|<html[\s>]|<head[\s>]|<body[\s>])/i.test(text) ||
    /<html[\s>][\s\S]*<\/html>/i.test(text.slice(0, 4096))
  );
}

/**
 * A short, single-line, secret-free excerpt of a response body for an error message: redacted
 * (shared/redact.ts) before an HTML page is reduced to its title and before it is cut.
 */
export function bodySnippet(text: string, secrets: readonly string[] = [], max = 160): string {
  let s = redactText(text.slice(0, MAX_REDACTED_TEXT), secrets);
  if (looksLikeHtml(s)) {
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(s)?.[1];
    const h1 = /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(s)?.[1];
    s = (title ?? h1 ?? s.replace(/<[^>]*>/g, ' ')).replace(/<[^>]*>/g, ' ');
  }
  return truncateText(s.replace(/\s+/g, ' ').trim(), max);
}

/** Parses a JSON body; anything unreadable is a `MalformedStatementError` naming the request. */
export function readJson(
  res: HttpResponse,
  connection: string,
  secrets: readonly string[] = [],
): unknown {
  const text = res.text();
  try {
    return JSON.parse(text);
  } catch (err) {
    const kind = looksLikeHtml(text)
      ? `an HTML page ("${bodySnippet(text, secrets)}")`
      : text.trim() === ''
        ? 'an empty body'
        : 'a body that is not JSON';
    throw new MalformedStatementError(
      'BANK_BODY_NOT_JSON',
      `${connection}: ${res.what}: ${res.safeUrl} answered HTTP ${res.status} with ${kind}`,
      {
        cause: err,
        details: { connection, status: res.status, url: res.safeUrl },
      },
    );
  }
}

/** An error answer's body as parsed JSON when it is an object or a list, else `{}` (an HTML page, plain text). */
export function errorObject(res: HttpResponse): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.text());
  } catch {
    return {};
  }
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

export interface StatusErrorOptions {
  connection: string;
  now: Date;
  secrets?: readonly string[];
  /** The provider's own reading of the response; `undefined` falls back to the default mapping. */
  map?: (res: HttpResponse) => BankError | PermanentError | undefined;
  /** Delay used for a 429/503 without a usable Retry-After. @default 3_600_000 (1 h) */
  defaultRetryMs?: number;
  /** A reason to put in the message instead of the body excerpt (e.g. a JSON error's `detail`). */
  reason?: string;
}

/**
 * The default HTTP status → error mapping, after the provider's `map` hook:
 * 401/403 → `BankAuthError`; 429 → `RateLimitedError` (Retry-After); 503 with Retry-After →
 * `RateLimitedError`; 408/5xx → `BankUnavailableError`; 3xx (never followed) → a permanent
 * redirect error naming the new location; 402/404/410 and other 4xx →
 * `BankRequestRejectedError` (retrying the same request cannot help); an HTML body is named.
 */
export function statusError(
  res: HttpResponse,
  opts: StatusErrorOptions,
): BankError | PermanentError {
  const mapped = opts.map?.(res);
  if (mapped) return mapped;
  const secrets = opts.secrets ?? [];
  const text = res.text();
  const reason = opts.reason ?? (text.trim() === '' ? '' : bodySnippet(text, secrets));
  const message = `${opts.connection}: ${res.what}: ${res.safeUrl} answered HTTP ${res.status}${reason ? ` (${reason})` : ''}`;
  const details = { connection: opts.connection, status: res.status, url: res.safeUrl };
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'), opts.now);
  const status = res.status;
  if (status === 401 || status === 403)
    return new BankAuthError('BANK_HTTP_AUTH', `${message}: the credentials were refused`, {
      details,
    });
  if (status === 429 || (status === 503 && retryAfter)) {
    const at = retryAfter ?? new Date(opts.now.getTime() + (opts.defaultRetryMs ?? 3_600_000));
    return new RateLimitedError(`${message}: rate limited, retry after ${at.toISOString()}`, at, {
      details,
    });
  }
  if (status === 408 || status >= 500)
    return new BankUnavailableError('BANK_HTTP_UNAVAILABLE', message, { details });
  if (status >= 300 && status < 400) {
    const location = res.headers.get('location');
    let to = 'an unnamed location';
    try {
      if (location) to = safeUrl(new URL(location, res.safeUrl).href);
    } catch {
      to = 'an unreadable location';
    }
    return new BankRequestRejectedError(
      'BANK_HTTP_REDIRECT',
      `${opts.connection}: ${res.what}: ${res.safeUrl} redirects (HTTP ${status}) to ${to}; check the URL in the settings`,
      { details },
    );
  }
  if (status >= 400)
    return new BankRequestRejectedError('BANK_HTTP_REJECTED', message, { details });
  return new MalformedStatementError('BANK_HTTP_UNEXPECTED', `${message}: unexpected status`, {
    details,
  });
}

/**
 * A provider's `base_url` setting (`fallback` when absent): a URL, https or http to a loopback
 * address. `invalid` throws the provider's own settings error with the message given.
 */
export function readBaseUrl(raw: unknown, fallback: string, invalid: (m: string) => never): string {
  const baseUrl = raw === undefined ? fallback : raw;
  if (typeof baseUrl !== 'string') return invalid("'base_url' must be a URL");
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return invalid(`'base_url' ${baseUrl} is not a URL`);
  }
  if (!isHttpsOrLoopback(url)) invalid("'base_url' must be https");
  return baseUrl;
}

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The one local user (config `local_api.username` / `password`). */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export type AuthResult =
  | {
      ok: true;
      name: string;
      via: 'basic' | 'cookie';
      /** A fresh session cookie value to send back. */ renew?: string;
    }
  | { ok: false; reason: 'no_credentials' | 'bad_session' }
  | {
      ok: false;
      reason: 'bad_credentials';
      /** The user name the client tried, when its header had one. */ name?: string;
    };

export const SESSION_COOKIE = 'AuthSession';

/**
 * HTTP Basic and CouchDB-style cookie sessions against one configured user.
 *
 * The session cookie is CouchDB's shape, `base64url(name:issued_hex:hmac)`, signed with a key
 * drawn when the listener starts: a restart or a credentials change (which restarts the listener)
 * ends every session. Both names and passwords are compared in constant time (over SHA-256
 * digests, so lengths leak nothing either).
 * @link https://docs.couchdb.org/en/stable/api/server/authn.html#cookie-authentication
 */
export class Authenticator {
  private readonly key = randomBytes(32).toString('hex');
  private readonly userDigest: Uint8Array;
  private readonly passDigest: Uint8Array;

  constructor(
    private readonly credentials: Credentials,
    private readonly clock: () => Date,
    /** Session lifetime (CouchDB's `[chttpd_auth] timeout`, 600 s by default). */
    readonly sessionSeconds = 600,
  ) {
    this.userDigest = digest(credentials.username);
    this.passDigest = digest(credentials.password);
  }

  get username(): string {
    return this.credentials.username;
  }

  /** True when `name` / `password` are the configured ones. */
  verify(name: string, password: string): boolean {
    const userOk = timingSafeEqual(digest(name), this.userDigest);
    const passOk = timingSafeEqual(digest(password), this.passDigest);
    return userOk && passOk;
  }

  /** The user name an `Authorization` header claims (before any check), for throttling. */
  claimedName(headers: IncomingHttpHeaders): string | undefined {
    const header = headers.authorization;
    return typeof header === 'string' ? parseBasic(header)?.name : undefined;
  }

  /**
   * Checks a request's `Authorization: Basic` header, else its session cookie. A wrong header is
   * a failed login; an expired or forged cookie is not (it cannot be guessed, only replayed).
   */
  check(headers: IncomingHttpHeaders): AuthResult {
    const header = headers.authorization;
    if (typeof header === 'string' && header.trim() !== '') {
      const basic = parseBasic(header);
      if (basic && this.verify(basic.name, basic.password))
        return { ok: true, name: this.username, via: 'basic' };
      return { ok: false, reason: 'bad_credentials', ...(basic ? { name: basic.name } : {}) };
    }
    const cookie = readCookie(headers.cookie, SESSION_COOKIE);
    if (cookie === undefined || cookie === '') return { ok: false, reason: 'no_credentials' };
    const issued = this.sessionIssued(cookie);
    if (issued === undefined) return { ok: false, reason: 'bad_session' };
    // Like CouchDB, hand out a fresh cookie once a tenth of the lifetime has passed.
    const age = this.now() - issued;
    return {
      ok: true,
      name: this.username,
      via: 'cookie',
      ...(age * 10 >= this.sessionSeconds ? { renew: this.newSession() } : {}),
    };
  }

  /** A new session cookie value for the configured user. */
  newSession(): string {
    const payload = `${this.username}:${this.now().toString(16).toUpperCase()}`;
    return Buffer.from(`${payload}:${this.sign(payload)}`).toString('base64url');
  }

  /** The `Set-Cookie` header for a session value (an empty value with `Max-Age=0` ends it). */
  setCookie(value: string): string {
    const maxAge = value === '' ? 0 : this.sessionSeconds;
    return `${SESSION_COOKIE}=${value}; Version=1; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict`;
  }

  /** Issue time (epoch seconds) of a valid, unexpired session cookie; `undefined` otherwise. */
  private sessionIssued(value: string): number | undefined {
    const text = Buffer.from(value, 'base64url').toString('utf8');
    const sigAt = text.lastIndexOf(':');
    const tsAt = text.lastIndexOf(':', sigAt - 1);
    if (sigAt <= 0 || tsAt <= 0) return undefined;
    const payload = text.slice(0, sigAt);
    if (!timingSafeEqual(digest(text.slice(sigAt + 1)), digest(this.sign(payload))))
      return undefined;
    if (!timingSafeEqual(digest(text.slice(0, tsAt)), this.userDigest)) return undefined;
    const issued = Number.parseInt(text.slice(tsAt + 1, sigAt), 16);
    if (!Number.isFinite(issued)) return undefined;
    const age = this.now() - issued;
    return age >= 0 && age < this.sessionSeconds ? issued : undefined;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('hex');
  }

  private now(): number {
    return Math.floor(this.clock().getTime() / 1000);
  }
}

function digest(text: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(text, 'utf8').digest());
}

/** `Basic base64(name:password)` → its parts; `undefined` for any other scheme or a malformed value. */
export function parseBasic(header: string): { name: string; password: string } | undefined {
  const m = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The value of cookie `name` in a `Cookie` header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name)
      return part
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

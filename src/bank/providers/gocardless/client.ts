import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { BankAuthError, MalformedStatementError } from '../../errors';
import { httpRequest, readJson, type HttpContext, type HttpResponse } from '../../http';
import { readPrivateFile, writePrivateFile } from '../../../shared/private-file';
import { errorBody, gocardlessError, isTokenError } from './errors';
import { valueText } from '../../../shared/text';

/**
 * GoCardless Bank Account Data HTTP client: JWT access/refresh tokens kept in the connection's
 * state folder (mode 0600), refreshed when expired, one refresh-and-retry on a 401, JSON bodies.
 *
 * @link https://bankaccountdata.gocardless.com/api/docs (token/new, token/refresh)
 */

export const TOKEN_FILE = 'gocardless-tokens.json';
export const DEFAULT_BASE_URL = 'https://bankaccountdata.gocardless.com/api/v2';
/** Renew a token this long before it expires, so it does not lapse mid-run. */
const EXPIRY_MARGIN_MS = 60_000;

interface StoredTokens {
  /** SHA-256 of secret_id: new secrets in the config discard the stored tokens. */
  secret: string;
  access: string;
  access_expires_at: string;
  refresh: string;
  refresh_expires_at: string;
}

export interface ClientContext extends HttpContext {
  stateDir: string;
}

export class GoCardlessClient {
  private tokens?: StoredTokens;
  private readonly file: string;
  private readonly secretHash: string;
  readonly secrets: string[];

  constructor(
    private readonly ctx: ClientContext,
    private readonly baseUrl: string,
    private readonly secretId: string,
    private readonly secretKey: string,
  ) {
    this.file = path.join(ctx.stateDir, TOKEN_FILE);
    this.secretHash = createHash('sha256').update(secretId).digest('hex');
    this.secrets = [secretKey, secretId];
  }

  private url(p: string, query?: Record<string, string>): URL {
    const u = new URL(`${this.baseUrl.replace(/\/+$/, '')}${p}`);
    for (const [k, v] of Object.entries(query ?? {})) u.searchParams.set(k, v);
    return u;
  }

  private async post(p: string, body: unknown, what: string): Promise<HttpResponse> {
    return httpRequest(this.ctx, {
      url: this.url(p),
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
      what,
      secrets: this.allSecrets(),
    });
  }

  private allSecrets(): string[] {
    return this.tokens ? [...this.secrets, this.tokens.access, this.tokens.refresh] : this.secrets;
  }

  private expired(at: string | undefined): boolean {
    return !at || Date.parse(at) - EXPIRY_MARGIN_MS <= this.ctx.now().getTime();
  }

  private at(seconds: unknown): string {
    const s = typeof seconds === 'number' && Number.isFinite(seconds) ? seconds : 0;
    return new Date(this.ctx.now().getTime() + s * 1000).toISOString();
  }

  private async load(): Promise<void> {
    if (this.tokens) return;
    const text = await readPrivateFile(this.file);
    if (!text) return;
    try {
      const t = JSON.parse(text) as StoredTokens;
      if (
        t.secret === this.secretHash &&
        typeof t.access === 'string' &&
        typeof t.refresh === 'string'
      )
        this.tokens = t;
    } catch {
      // An unreadable token file is replaced by new tokens.
    }
  }

  private async save(): Promise<void> {
    // Persist at once: a token obtained now must survive any later failure of the run.
    await writePrivateFile(this.file, `${JSON.stringify(this.tokens)}\n`);
  }

  private tokenBody(res: HttpResponse, what: string): Record<string, unknown> {
    const body = readJson(res, this.ctx.connection, this.allSecrets());
    if (
      typeof body !== 'object' ||
      body === null ||
      typeof (body as Record<string, unknown>).access !== 'string'
    ) {
      throw new MalformedStatementError(
        'GOCARDLESS_MALFORMED',
        `${this.ctx.connection}: ${what}: the answer has no access token`,
        { details: { connection: this.ctx.connection } },
      );
    }
    return body as Record<string, unknown>;
  }

  /** POST /token/new/ with the user secrets: a new access (24 h) and refresh (30 d) pair. */
  private async newTokens(): Promise<void> {
    const what = 'GoCardless POST /token/new/';
    const res = await this.post(
      '/token/new/',
      { secret_id: this.secretId, secret_key: this.secretKey },
      what,
    );
    if (res.status === 401 || res.status === 403) {
      throw new BankAuthError(
        'GOCARDLESS_SECRETS_INVALID',
        `${this.ctx.connection}: GoCardless refused secret_id/secret_key (HTTP ${res.status}); create new user secrets in the GoCardless Bank Account Data portal and update the secrets`,
        {
          details: { connection: this.ctx.connection, status: res.status },
        },
      );
    }
    if (res.status < 200 || res.status >= 300)
      throw gocardlessError(res, this.ctx.connection, this.ctx.now(), this.allSecrets());
    const b = this.tokenBody(res, what);
    this.tokens = {
      secret: this.secretHash,
      access: String(b.access),
      access_expires_at: this.at(b.access_expires),
      refresh: valueText(b.refresh ?? ''),
      refresh_expires_at: this.at(b.refresh_expires),
    };
    await this.save();
    this.ctx.logger?.info('GoCardless tokens obtained', {
      event: 'bank.gocardless.token',
      connection: this.ctx.connection,
      kind: 'new',
    });
  }

  /** POST /token/refresh/: a new access token; a refused refresh token falls back to new tokens. */
  private async refreshAccess(): Promise<void> {
    const t = this.tokens;
    if (!t || !t.refresh || this.expired(t.refresh_expires_at)) return this.newTokens();
    const what = 'GoCardless POST /token/refresh/';
    const res = await this.post('/token/refresh/', { refresh: t.refresh }, what);
    if (res.status === 401) return this.newTokens();
    if (res.status < 200 || res.status >= 300)
      throw gocardlessError(res, this.ctx.connection, this.ctx.now(), this.allSecrets());
    const b = this.tokenBody(res, what);
    this.tokens = { ...t, access: String(b.access), access_expires_at: this.at(b.access_expires) };
    if (typeof b.refresh === 'string') {
      this.tokens.refresh = b.refresh;
      this.tokens.refresh_expires_at = this.at(b.refresh_expires);
    }
    await this.save();
    this.ctx.logger?.info('GoCardless access token refreshed', {
      event: 'bank.gocardless.token',
      connection: this.ctx.connection,
      kind: 'refresh',
    });
  }

  private async accessToken(): Promise<string> {
    await this.load();
    if (!this.tokens) await this.newTokens();
    else if (this.expired(this.tokens.access_expires_at)) await this.refreshAccess();
    return this.tokens!.access;
  }

  /**
   * GET `p` (a path under the base URL, ending with `/`) as JSON. A 401 that is about the
   * token refreshes it once and retries; any other failure maps through `gocardlessError`.
   */
  async get(p: string, query?: Record<string, string>): Promise<unknown> {
    const what = `GoCardless GET ${p.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, '{id}')}`;
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken();
      const res = await httpRequest(this.ctx, {
        url: this.url(p, query),
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
        what,
        secrets: this.allSecrets(),
      });
      if (res.status >= 200 && res.status < 300)
        return readJson(res, this.ctx.connection, this.allSecrets());
      if (attempt === 0 && isTokenError(res, errorBody(res))) {
        // The stored access token was revoked or expired early: force a refresh, then retry once.
        this.tokens!.access_expires_at = new Date(0).toISOString();
        continue;
      }
      throw gocardlessError(res, this.ctx.connection, this.ctx.now(), this.allSecrets());
    }
  }
}

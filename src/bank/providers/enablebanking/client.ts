import type { KeyObject } from 'node:crypto';
import { httpRequest, readJson, type HttpContext } from '../../http';
import { applicationToken } from './jwt';
import { enableBankingError } from './errors';

/**
 * Enable Banking HTTP client: every call carries a freshly signed application JWT (see jwt.ts);
 * JSON bodies; any non-2xx answer maps through `enableBankingError`.
 *
 * @link https://enablebanking.com/docs/api/reference/
 */

export const DEFAULT_BASE_URL = 'https://api.enablebanking.com';

export class EnableBankingClient {
  private token?: { value: string; until: number };

  constructor(
    private readonly ctx: HttpContext,
    private readonly baseUrl: string,
    private readonly applicationId: string,
    private readonly key: KeyObject,
  ) {}

  /** Tokens and the key's PEM never reach a message. */
  get secrets(): string[] {
    return this.token ? [this.token.value] : [];
  }

  private bearer(): string {
    const now = this.ctx.now();
    // A token lives an hour; a new one is signed when less than five minutes remain.
    if (!this.token || this.token.until - now.getTime() < 300_000) {
      this.token = {
        value: applicationToken(this.applicationId, this.key, now),
        until: now.getTime() + 3_600_000,
      };
    }
    return this.token.value;
  }

  /** GET `p` (a path under the base URL) as JSON. */
  async get(p: string, query?: Record<string, string>): Promise<unknown> {
    const url = new URL(`${this.baseUrl.replace(/\/+$/, '')}${p}`);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    const what = `Enable Banking GET ${p.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, '{id}')}`;
    const res = await httpRequest(this.ctx, {
      url,
      headers: { Authorization: `Bearer ${this.bearer()}`, Accept: 'application/json' },
      what,
      secrets: this.secrets,
    });
    if (res.status >= 200 && res.status < 300)
      return readJson(res, this.ctx.connection, this.secrets);
    throw enableBankingError(res, this.ctx.connection, this.ctx.now(), this.secrets);
  }
}

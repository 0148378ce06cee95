import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A GoCardless Bank Account Data API v2 simulator, written from the public API reference
 * (https://bankaccountdata.gocardless.com/api/docs): JWT-like access (24 h) and refresh (30 d) tokens on an
 * injected clock, requisitions with status codes, end-user agreements that expire, account
 * metadata / transactions / balances, the bank's daily limit per account and scope (4 calls a day,
 * counted on the injected clock, with `HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_*` headers and the real
 * 429 body), error bodies `{summary, detail, status_code}`, and scripted faults.
 */

export interface GcSimTransaction {
  transactionId?: string;
  internalTransactionId?: string;
  bookingDate?: string;
  valueDate?: string;
  transactionAmount: { amount: string; currency: string };
  creditorName?: string;
  creditorAccount?: { iban: string };
  debtorName?: string;
  debtorAccount?: { iban: string };
  remittanceInformationUnstructured?: string;
  remittanceInformationUnstructuredArray?: string[];
  remittanceInformationStructured?: string;
  endToEndId?: string;
}

export interface GcSimAccount {
  id: string;
  iban?: string;
  institution_id: string;
  status?: string;
  booked: GcSimTransaction[];
  pending: GcSimTransaction[];
  balances: Array<{
    balanceAmount: { amount: string; currency: string };
    balanceType: string;
    referenceDate?: string;
  }>;
}

export interface GcSimRequisition {
  id: string;
  status: string | { short: string; long: string; description: string };
  agreement?: string;
  accounts: string[];
  created: string;
  link: string;
}

export interface GcSimAgreement {
  id: string;
  created: string;
  accepted: string | null;
  max_historical_days: number;
  access_valid_for_days: number;
}

export type GcEndpoint =
  'token' | 'refresh' | 'requisition' | 'agreement' | 'account' | 'transactions' | 'balances';

export type GcFault =
  | { kind: 'http'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'raw'; body: string }
  | { kind: 'hang' };

export interface GcSimOptions {
  secretId: string;
  secretKey: string;
  requisitions: GcSimRequisition[];
  agreements: GcSimAgreement[];
  accounts: GcSimAccount[];
  /** Successful calls allowed per account, scope and UTC day. @default 4 */
  dailyLimit?: number;
  /** Leave the rate-limit headers out (the client must read `detail`). */
  omitRateLimitHeaders?: boolean;
  now: () => Date;
}

export interface GcRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization?: string;
  body: string;
}

const DAY = 86_400;

export class GoCardlessServer {
  readonly requests: GcRequest[] = [];
  private readonly faults = new Map<GcEndpoint, GcFault[]>();
  private readonly access = new Map<string, number>();
  private readonly refresh = new Map<string, number>();
  private readonly usage = new Map<string, number>();
  private server?: http.Server;
  baseUrl = '';

  constructor(readonly options: GcSimOptions) {}

  fail(endpoint: GcEndpoint, ...faults: GcFault[]): this {
    this.faults.set(endpoint, [...(this.faults.get(endpoint) ?? []), ...faults]);
    return this;
  }

  /** Invalidates every issued access token (as if GoCardless rotated its signing keys). */
  revokeAccessTokens(): void {
    this.access.clear();
  }

  revokeAllTokens(): void {
    this.access.clear();
    this.refresh.clear();
  }

  count(path: RegExp): number {
    return this.requests.filter((r) => path.test(r.path)).length;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v2`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private nowSec(): number {
    return Math.floor(this.options.now().getTime() / 1000);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://sim');
      const path = url.pathname.replace(/^\/api\/v2/, '');
      this.requests.push({
        method: req.method ?? '',
        path,
        query: url.searchParams,
        authorization: req.headers.authorization,
        body,
      });
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };
      const error = (
        status: number,
        summary: string,
        detail: string,
        extra: Record<string, unknown> = {},
        headers: Record<string, string> = {},
      ) => json(status, { summary, detail, status_code: status, ...extra }, headers);
      const route = this.route(req.method ?? '', path);
      if (!route) return error(404, 'Not found.', 'Not found.');
      const fault = this.faults.get(route.endpoint)?.shift();
      if (fault?.kind === 'hang') return;
      if (fault?.kind === 'raw') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(fault.body);
      }
      if (fault?.kind === 'http')
        return json(
          fault.status,
          fault.body ?? { summary: 'Error', detail: 'Scripted failure', status_code: fault.status },
          fault.headers,
        );

      const now = this.nowSec();
      if (route.endpoint === 'token') {
        const b = parse(body);
        if (b?.secret_id !== this.options.secretId || b?.secret_key !== this.options.secretKey) {
          return error(
            401,
            'Authentication failed',
            'No active account found with the given credentials',
          );
        }
        const access = `acc-${randomUUID()}`;
        const refresh = `ref-${randomUUID()}`;
        this.access.set(access, now + DAY);
        this.refresh.set(refresh, now + 30 * DAY);
        return json(200, { access, access_expires: DAY, refresh, refresh_expires: 30 * DAY });
      }
      if (route.endpoint === 'refresh') {
        const b = parse(body);
        const exp = typeof b?.refresh === 'string' ? this.refresh.get(b.refresh) : undefined;
        if (exp === undefined || exp <= now)
          return error(401, 'Invalid token', 'Token is invalid or expired', {
            type: 'token_not_valid',
          });
        const access = `acc-${randomUUID()}`;
        this.access.set(access, now + DAY);
        return json(200, { access, access_expires: DAY });
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const exp = bearer ? this.access.get(bearer) : undefined;
      if (exp === undefined || exp <= now)
        return error(401, 'Invalid token', 'Token is invalid or expired', {
          type: 'token_not_valid',
        });

      if (route.endpoint === 'requisition') {
        const r = this.options.requisitions.find((x) => x.id === route.id);
        if (!r) return error(404, 'Not found.', 'Not found.');
        return json(200, {
          ...r,
          redirect: 'https://booksync.example/linked',
          institution_id: 'SANDBOXFINANCE_SFIN0000',
          reference: r.id,
          user_language: 'EN',
        });
      }
      if (route.endpoint === 'agreement') {
        const a = this.options.agreements.find((x) => x.id === route.id);
        if (!a) return error(404, 'Not found.', 'Not found.');
        return json(200, {
          ...a,
          access_scope: ['balances', 'details', 'transactions'],
          institution_id: 'SANDBOXFINANCE_SFIN0000',
        });
      }
      const account = this.options.accounts.find((x) => x.id === route.id);
      if (!account) return error(404, 'Not found.', `Account ${route.id} not found`);
      if (route.endpoint === 'account') {
        return json(200, {
          id: account.id,
          created: '2024-01-01T00:00:00Z',
          last_accessed: null,
          iban: account.iban,
          institution_id: account.institution_id,
          status: account.status ?? 'READY',
          owner_name: 'Jane Doe',
        });
      }
      // Data endpoints: the agreement must still be valid.
      const requisition = this.options.requisitions.find((r) => r.accounts.includes(account.id));
      const agreement = this.options.agreements.find((a) => a.id === requisition?.agreement);
      if (agreement) {
        const start = Date.parse(agreement.accepted ?? agreement.created) / 1000;
        if (now >= start + agreement.access_valid_for_days * DAY) {
          return error(
            401,
            `End User Agreement (EUA) ${agreement.id} has expired`,
            `EUA was valid for ${agreement.access_valid_for_days} days and it expired. The end user must create a new EUA`,
          );
        }
      }
      const limit = this.options.dailyLimit ?? 4;
      const day = Math.floor(now / DAY);
      const key = `${account.id}/${route.endpoint}/${day}`;
      const used = this.usage.get(key) ?? 0;
      const reset = (day + 1) * DAY - now;
      const headers = (remaining: number): Record<string, string> =>
        this.options.omitRateLimitHeaders
          ? {}
          : {
              HTTP_X_RATELIMIT_LIMIT: '100',
              HTTP_X_RATELIMIT_REMAINING: '99',
              HTTP_X_RATELIMIT_RESET: '60',
              HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_LIMIT: String(limit),
              HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING: String(remaining),
              HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET: String(reset),
            };
      if (used >= limit) {
        return error(
          429,
          'Rate limit exceeded',
          `The rate limit for this resource is ${limit}/day. Please try again in ${reset} seconds`,
          {},
          headers(0),
        );
      }
      if (route.endpoint === 'balances') {
        this.usage.set(key, used + 1);
        return json(200, { balances: account.balances }, headers(limit - used - 1));
      }
      const from = url.searchParams.get('date_from');
      const to = url.searchParams.get('date_to');
      for (const [name, value] of [
        ['date_from', from],
        ['date_to', to],
      ] as const) {
        if (value !== null && !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
          return json(400, {
            [name]: { summary: 'Invalid date', detail: `${name} must be YYYY-MM-DD` },
            status_code: 400,
          });
        }
      }
      if (from && agreement) {
        const earliest = new Date((now - (agreement.max_historical_days - 1) * DAY) * 1000)
          .toISOString()
          .slice(0, 10);
        if (from < earliest) {
          return json(400, {
            date_from: {
              summary: 'Date too far in the past',
              detail: `date_from must be no earlier than ${agreement.max_historical_days} days ago`,
            },
            status_code: 400,
          });
        }
      }
      const inRange = (t: GcSimTransaction) => {
        const d = t.bookingDate ?? t.valueDate;
        if (!d) return true;
        return (!from || d >= from) && (!to || d <= to);
      };
      this.usage.set(key, used + 1);
      return json(
        200,
        {
          transactions: {
            booked: account.booked.filter(inRange),
            pending: account.pending.filter(inRange),
          },
        },
        headers(limit - used - 1),
      );
    });
  }

  private route(method: string, path: string): { endpoint: GcEndpoint; id?: string } | undefined {
    if (method === 'POST' && path === '/token/new/') return { endpoint: 'token' };
    if (method === 'POST' && path === '/token/refresh/') return { endpoint: 'refresh' };
    if (method !== 'GET') return undefined;
    let m = /^\/requisitions\/([^/]+)\/$/.exec(path);
    if (m) return { endpoint: 'requisition', id: m[1] };
    m = /^\/agreements\/enduser\/([^/]+)\/$/.exec(path);
    if (m) return { endpoint: 'agreement', id: m[1] };
    m = /^\/accounts\/([^/]+)\/(transactions\/|balances\/)?$/.exec(path);
    if (m)
      return {
        endpoint:
          m[2] === 'transactions/' ? 'transactions' : m[2] === 'balances/' ? 'balances' : 'account',
        id: m[1],
      };
    return undefined;
  }
}

function parse(body: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An Enable Banking API simulator, written from the public API reference
 * (https://enablebanking.com/docs/api/reference/): every call must carry an RS256 application JWT
 * (`kid` = application id, `iss: enablebanking.com`, `aud: api.enablebanking.com`, `exp` in the
 * future and at most 24 h after `iat`) verified against the application's public key; sessions
 * with a status, accounts and `access.valid_until`; account details, balances and transactions
 * paged by `continuation_key`; error bodies `{code, message, error}`; and scripted faults
 * (an HTTP error, a malformed body, a slow answer, a hung server).
 */

export interface EbSimTransaction {
  entry_reference?: string;
  transaction_id?: string;
  transaction_amount: { amount: string; currency: string };
  credit_debit_indicator?: 'CRDT' | 'DBIT';
  status: string;
  booking_date?: string;
  value_date?: string;
  transaction_date?: string;
  creditor?: { name: string };
  creditor_account?: { iban?: string; other?: { identification: string; scheme_name: string } };
  debtor?: { name: string };
  debtor_account?: { iban?: string };
  remittance_information?: string[];
  reference_number?: string;
  bank_transaction_code?: { description?: string; code?: string };
  exchange_rate?: {
    exchange_rate?: string;
    instructed_amount?: { amount: string; currency: string };
  };
}

export interface EbSimAccount {
  uid: string;
  iban?: string;
  currency: string;
  bic?: string;
  transactions: EbSimTransaction[];
  balances: Array<{
    name?: string;
    balance_amount: { amount: string; currency: string };
    balance_type: string;
    reference_date?: string;
  }>;
}

export interface EbSimSession {
  session_id: string;
  status: string;
  valid_until: string;
  accounts: string[];
}

export type EbEndpoint = 'session' | 'details' | 'balances' | 'transactions';

export type EbFault =
  | {
      kind: 'http';
      status: number;
      error?: string;
      message?: string;
      headers?: Record<string, string>;
    }
  | { kind: 'raw'; body: string }
  | { kind: 'slow'; ms: number }
  | { kind: 'hang' };

export interface EbSimOptions {
  applicationId: string;
  /** The application's public key (the control panel keeps it; the application keeps the private one). */
  publicKey: KeyObject | string;
  sessions: EbSimSession[];
  accounts: EbSimAccount[];
  /** Transactions per page. @default 2 */
  pageSize?: number;
  now: () => Date;
}

export interface EbRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization?: string;
}

export class EnableBankingServer {
  readonly requests: EbRequest[] = [];
  private readonly faults = new Map<EbEndpoint, EbFault[]>();
  private readonly publicKey: KeyObject;
  private server?: http.Server;
  baseUrl = '';

  constructor(readonly options: EbSimOptions) {
    this.publicKey =
      typeof options.publicKey === 'string'
        ? createPublicKey(options.publicKey)
        : options.publicKey;
  }

  fail(endpoint: EbEndpoint, ...faults: EbFault[]): this {
    this.faults.set(endpoint, [...(this.faults.get(endpoint) ?? []), ...faults]);
    return this;
  }

  count(path: RegExp): number {
    return this.requests.filter((r) => path.test(r.path)).length;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Why the JWT is refused, or undefined when it is good. */
  private jwtProblem(authorization: string | undefined): string | undefined {
    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    if (!token) return 'no bearer token';
    const parts = token.split('.');
    if (parts.length !== 3) return 'not a JWT';
    const [h, p, s] = parts;
    const decode = (x: string): Record<string, unknown> =>
      JSON.parse(Buffer.from(x, 'base64url').toString('utf8')) as Record<string, unknown>;
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = decode(h);
      payload = decode(p);
    } catch {
      return 'unreadable JWT';
    }
    if (header.alg !== 'RS256' || header.typ !== 'JWT') return 'alg must be RS256';
    if (header.kid !== this.options.applicationId) return 'unknown application (kid)';
    const ok = verify(
      'sha256',
      new TextEncoder().encode(`${h}.${p}`),
      this.publicKey,
      new Uint8Array(Buffer.from(s, 'base64url')),
    );
    if (!ok) return 'bad signature';
    if (payload.iss !== 'enablebanking.com' || payload.aud !== 'api.enablebanking.com')
      return 'wrong iss/aud';
    const now = Math.floor(this.options.now().getTime() / 1000);
    const iat = Number(payload.iat);
    const exp = Number(payload.exp);
    if (!(exp > now)) return 'token expired';
    if (!(iat <= now + 60) || exp - iat > 86_400) return 'token lifetime over 24 hours';
    return undefined;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    req.on('end', () => void this.answer(req, res));
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname;
    this.requests.push({
      method: req.method ?? '',
      path,
      query: url.searchParams,
      authorization: req.headers.authorization,
    });
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    const error = (status: number, name: string, message: string, headers = {}) =>
      json(status, { code: status, message, error: name }, headers);
    const route = this.route(req.method ?? '', path);
    if (!route) return error(404, 'NOT_FOUND', 'Not found');
    const fault = this.faults.get(route.endpoint)?.shift();
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.kind === 'raw') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(fault.body);
    }
    if (fault?.kind === 'http')
      return error(
        fault.status,
        fault.error ?? 'ASPSP_ERROR',
        fault.message ?? 'Scripted failure',
        fault.headers,
      );
    const problem = this.jwtProblem(req.headers.authorization);
    if (problem) return error(401, 'UNAUTHORIZED_ACCESS', `Unauthorized: ${problem}`);

    if (route.endpoint === 'session') {
      const s = this.options.sessions.find((x) => x.session_id === route.id);
      if (!s) return error(404, 'SESSION_DOES_NOT_EXIST', 'No session found matching provided id');
      return json(200, {
        status: s.status,
        accounts: s.accounts,
        accounts_data: s.accounts.map((uid) => ({ uid, identification_hash: `h-${uid}` })),
        aspsp: { name: 'Mock ASPSP', country: 'FI' },
        psu_type: 'business',
        access: { valid_until: s.valid_until },
        created: '2024-02-01T10:00:00Z',
      });
    }
    const account = this.options.accounts.find((x) => x.uid === route.id);
    if (!account)
      return error(404, 'ACCOUNT_DOES_NOT_EXIST', 'No account found matching provided id');
    const session = this.options.sessions.find((x) => x.accounts.includes(account.uid));
    if (!session || Date.parse(session.valid_until) <= this.options.now().getTime())
      return error(401, 'EXPIRED_SESSION', 'Session is expired');
    if (session.status !== 'AUTHORIZED')
      return error(400, 'WRONG_SESSION_STATUS', `Session status is ${session.status}`);
    if (route.endpoint === 'details') {
      return json(200, {
        account_id: account.iban ? { iban: account.iban } : undefined,
        account_servicer: account.bic ? { bic_fi: account.bic } : undefined,
        name: 'Demo Company',
        cash_account_type: 'CACC',
        currency: account.currency,
        uid: account.uid,
        identification_hash: `h-${account.uid}`,
      });
    }
    if (route.endpoint === 'balances') return json(200, { balances: account.balances });
    return this.transactions(account, url.searchParams, json, error);
  }

  private transactions(
    account: EbSimAccount,
    query: URLSearchParams,
    json: (status: number, value: unknown) => void,
    error: (status: number, name: string, message: string) => void,
  ): void {
    const from = query.get('date_from');
    const to = query.get('date_to');
    for (const v of [from, to])
      if (v !== null && !/^\d{4}-\d{2}-\d{2}$/.test(v))
        return error(422, 'WRONG_REQUEST_PARAMETERS', 'dates must be YYYY-MM-DD');
    if (to && !from) return error(422, 'DATE_TO_WITHOUT_DATE_FROM', 'date_from must be provided');
    if (from && to && from > to)
      return error(422, 'WRONG_DATE_INTERVAL', 'date_from should be less than or equal date_to');
    const inRange = (t: EbSimTransaction) => {
      const d = t.booking_date ?? t.transaction_date ?? t.value_date;
      return !d || ((!from || d >= from) && (!to || d <= to));
    };
    const all = account.transactions.filter(inRange);
    const size = this.options.pageSize ?? 2;
    const key = query.get('continuation_key');
    let start = 0;
    if (key !== null) {
      const m = /^page-(\d+)$/.exec(key);
      if (!m) return error(422, 'WRONG_CONTINUATION_KEY', 'Wrong continuation key provided');
      start = Number(m[1]) * size;
    }
    const page = all.slice(start, start + size);
    const next = start + size < all.length ? `page-${start / size + 1}` : undefined;
    json(200, { transactions: page, ...(next ? { continuation_key: next } : {}) });
  }

  private route(method: string, path: string): { endpoint: EbEndpoint; id: string } | undefined {
    if (method !== 'GET') return undefined;
    let m = /^\/sessions\/([^/]+)$/.exec(path);
    if (m) return { endpoint: 'session', id: m[1] };
    m = /^\/accounts\/([^/]+)\/(details|balances|transactions)$/.exec(path);
    if (m) return { endpoint: m[2] as EbEndpoint, id: m[1] };
    return undefined;
  }
}

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A SimpleFIN server (a SimpleFIN Bridge stand-in), written from the protocol
 * (https://www.simplefin.org/protocol.html, v1 and v2) and the Bridge's documented limits:
 * one-time claim of setup tokens, Basic-authenticated
 * GET /accounts with start-date/end-date/pending/account, the 90-day range limit (capped with a
 * `gen.api` errlist entry, or rejected), a daily request quota counted on an injected clock,
 * v1 `errors` or v2 `errlist`, and scripted faults.
 */

export interface SfinTransaction {
  id: string;
  /** Epoch seconds; 0 while pending. */
  posted: number;
  amount: string;
  description: string;
  transacted_at?: number;
  pending?: boolean;
  payee?: string;
  memo?: string;
}

export interface SfinAccount {
  id: string;
  name: string;
  currency: string;
  balance: string;
  'available-balance'?: string;
  'balance-date': number;
  conn_id?: string;
  transactions: SfinTransaction[];
}

export interface SfinErrItem {
  code: string;
  msg?: string;
  message?: string;
  conn_id?: string;
  account_id?: string;
}

export type SfinFault =
  | { kind: 'http'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'raw'; body: string; contentType?: string }
  | { kind: 'errlist'; items: SfinErrItem[] }
  | { kind: 'errors'; items: string[] }
  | { kind: 'hang' };

export interface SfinOptions {
  /** Setup tokens' secret path parts that may be claimed once. */
  claimTokens: string[];
  username: string;
  password: string;
  accounts: SfinAccount[];
  /** v1: `errors` + `org`; v2: `errlist` + `connections` + `conn_id`. @default 'v2' */
  format?: 'v1' | 'v2';
  /** What a range longer than 90 days gets. @default 'cap' (the Bridge's behaviour) */
  rangeLimit?: 'cap' | 'reject';
  /** Requests allowed per UTC day on /accounts; then 429 with Retry-After until midnight. */
  dailyQuota?: number;
  now?: () => Date;
}

export interface SfinRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization?: string;
  /** The raw request line target (to check no credentials were in it). */
  target: string;
}

const DAY = 86_400;

export class SimplefinServer {
  readonly requests: SfinRequest[] = [];
  readonly faults: SfinFault[] = [];
  private readonly claimed = new Set<string>();
  private readonly usage = new Map<string, number>();
  private server?: http.Server;
  origin = '';

  constructor(readonly options: SfinOptions) {}

  /** The setup token for a claim path part: base64 of the claim URL. */
  setupToken(claimToken: string): string {
    return Buffer.from(`${this.origin}/simplefin/claim/${claimToken}`).toString('base64');
  }

  get accessUrl(): string {
    return `${this.origin.replace('://', `://${encodeURIComponent(this.options.username)}:${encodeURIComponent(this.options.password)}@`)}/simplefin`;
  }

  fail(...faults: SfinFault[]): this {
    this.faults.push(...faults);
    return this;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', this.origin);
      this.requests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        authorization: req.headers.authorization,
        target: req.url ?? '',
      });
      const text = (status: number, body: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'Content-Type': 'text/plain', ...headers });
        res.end(body);
      };
      const claim = /^\/simplefin\/claim\/([^/]+)$/.exec(url.pathname);
      if (claim && req.method === 'POST') {
        const token = decodeURIComponent(claim[1]);
        if (!this.options.claimTokens.includes(token) || this.claimed.has(token))
          return text(403, 'Forbidden');
        this.claimed.add(token);
        return text(200, this.accessUrl);
      }
      if (url.pathname === '/simplefin/info' && req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ versions: ['1.0', '2.0'] }));
      }
      if (url.pathname !== '/simplefin/accounts' || req.method !== 'GET')
        return text(404, 'Not Found');
      const expected = `Basic ${Buffer.from(`${this.options.username}:${this.options.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) return text(403, 'Forbidden');
      const fault = this.faults.shift();
      if (fault?.kind === 'hang') return;
      if (fault?.kind === 'http') return text(fault.status, fault.body ?? '', fault.headers);
      if (fault?.kind === 'raw') {
        res.writeHead(200, { 'Content-Type': fault.contentType ?? 'application/json' });
        return res.end(fault.body);
      }
      if (this.options.dailyQuota !== undefined) {
        const nowSec = Math.floor(this.now().getTime() / 1000);
        const day = String(Math.floor(nowSec / DAY));
        const used = this.usage.get(day) ?? 0;
        if (used >= this.options.dailyQuota) {
          return text(429, 'Too many requests today', {
            'Retry-After': String((Number(day) + 1) * DAY - nowSec),
          });
        }
        this.usage.set(day, used + 1);
      }
      this.accounts(url.searchParams, fault, res);
    });
  }

  private accounts(
    q: URLSearchParams,
    fault: SfinFault | undefined,
    res: http.ServerResponse,
  ): void {
    const v2 = (this.options.format ?? 'v2') === 'v2';
    const errlist: SfinErrItem[] = [];
    const errors: string[] = [];
    let start = q.has('start-date') ? Number(q.get('start-date')) : 0;
    const end = q.has('end-date')
      ? Number(q.get('end-date'))
      : Math.floor(this.now().getTime() / 1000);
    if (end - start > 90 * DAY) {
      if (this.options.rangeLimit === 'reject') {
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        return void res.end('Requested date range exceeds limit of 90 days');
      }
      start = end - 90 * DAY;
      const msg = 'Requested date range exceeds limit of 90 days and was capped.';
      if (v2) errlist.push({ code: 'gen.api', msg });
      else errors.push(msg);
    }
    const pending = q.get('pending') === '1';
    const only = q.getAll('account');
    const accounts = this.options.accounts
      .filter((a) => only.length === 0 || only.includes(a.id))
      .map((a) => {
        const { conn_id: connId, ...rest } = a;
        const out: Record<string, unknown> = {
          ...rest,
          transactions: a.transactions.filter((t) => {
            if (t.posted === 0)
              return (
                pending &&
                (t.transacted_at === undefined ||
                  (t.transacted_at >= start && t.transacted_at < end))
              );
            return t.posted >= start && t.posted < end;
          }),
        };
        if (v2) out.conn_id = connId ?? 'CON-1';
        else
          out.org = {
            domain: 'bank.example',
            'sfin-url': `${this.origin}/simplefin`,
            name: 'Example Bank',
          };
        return out;
      });
    if (fault?.kind === 'errlist') errlist.push(...fault.items);
    if (fault?.kind === 'errors') errors.push(...fault.items);
    const body: Record<string, unknown> = v2
      ? {
          errlist,
          connections: [
            {
              conn_id: 'CON-1',
              name: 'Example Bank',
              org_id: 'ORG-1',
              sfin_url: `${this.origin}/simplefin`,
            },
          ],
          accounts,
        }
      : { errors, accounts };
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}

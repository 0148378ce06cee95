import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import winston from 'winston';
import Transport from 'winston-transport';
import { type AccountDoc, BooksStore, type MoveDoc } from '../../src/ledger';
import { LocalApi, type LocalApiOptions, type LocalApiSettings } from '../../src/local-api';

/** Keeps every log entry in memory so a test can look for an event (or for a leaked secret). */
export class MemoryTransport extends Transport {
  readonly entries: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.entries.push(info);
    next();
  }
  text(): string {
    return this.entries.map((e) => JSON.stringify(e)).join('\n');
  }
}

export const USER = 'clerk';
export const PASSWORD = 'hunter2-Zq9!local';
export const FROZEN = new Date('2024-03-05T10:00:00.000Z');
export const BASIC = basic(USER, PASSWORD);

export function basic(name: string, password: string): string {
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
}

export function account(code: string, over: Partial<AccountDoc> = {}): AccountDoc {
  return {
    _id: `account:${code}`,
    type: 'account',
    code,
    name: `Account ${code}`,
    kind: 'asset',
    ...over,
  };
}

export function move(
  key: string,
  state: 'draft' | 'posted',
  debit = 1000,
  credit = debit,
): MoveDoc {
  return {
    _id: `move:BNK1:${key}`,
    type: 'move',
    journal: 'BNK1',
    date: '2024-03-01',
    state,
    lines: [
      { account: '1010', debit, credit: 0, currency: 'EUR' },
      { account: '499', debit: 0, credit, currency: 'EUR' },
    ],
  };
}

export interface Harness {
  dir: string;
  store: BooksStore;
  api: LocalApi;
  logs: MemoryTransport;
  logger: winston.Logger;
  db: string;
  config: LocalApiSettings;
}

export function settings(over: Partial<LocalApiSettings> = {}): LocalApiSettings {
  return { enabled: true, host: '127.0.0.1', port: 0, username: USER, password: PASSWORD, ...over };
}

/**
 * Real books on LevelDB in a temporary directory and the API on 127.0.0.1:0. Failed logins
 * answer at once unless `options.delay` says otherwise.
 */
export async function harness(
  over: Partial<LocalApiSettings> = {},
  options: Partial<LocalApiOptions> = {},
): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-local-api-'));
  const logs = new MemoryTransport();
  const logger = winston.createLogger({ level: 'debug', transports: [logs] });
  const clock = options.clock ?? (() => FROZEN);
  const store = await BooksStore.open(path.join(dir, 'books'), { logger, clock });
  const cfg = settings(over);
  const api = new LocalApi({
    store,
    settings: cfg,
    logger,
    clock,
    delay: () => Promise.resolve(),
    ...options,
  });
  await api.start();
  return { dir, store, api, logs, logger, db: api.databaseUrl ?? '', config: cfg };
}

export async function teardown(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.api.stop(Date.now() + 1000);
  await h.store.close();
  fs.rmSync(h.dir, { recursive: true, force: true });
}

export interface CallResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the body's shape depends on the endpoint, and the component tests read its fields directly
  body: any;
  headers: Headers;
}

/** fetch with the right credentials unless `auth` says otherwise; JSON in, JSON out. */
export async function call(
  url: string,
  init: {
    method?: string;
    body?: unknown;
    auth?: string | null;
    headers?: Record<string, string>;
  } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { Accept: 'application/json', ...(init.headers ?? {}) };
  const auth = init.auth === undefined ? BASIC : init.auth;
  if (auth !== null) headers.Authorization = auth;
  if (init.body !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    body:
      init.body === undefined
        ? undefined
        : typeof init.body === 'string'
          ? init.body
          : JSON.stringify(init.body),
  });
  const text = await res.text();
  const body: unknown = text === '' ? undefined : JSON.parse(text);
  return {
    status: res.status,
    body,
    headers: res.headers,
  };
}

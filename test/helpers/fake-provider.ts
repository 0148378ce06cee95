import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import winston from 'winston';
import Transport from 'winston-transport';
import type {
  BankAccountStatement,
  BankProvider,
  BankTransaction,
  FetchContext,
  FetchResult,
} from '../../src/bank/provider';
import type { ConnectionSpec } from '../../src/bank/fetch-loop';
import { BooksStore } from '../../src/ledger';
import type { Logger } from '../../src/shared/logger';

/**
 * A bank provider scripted call by call: each `fetch` consumes the next step — a result, an error
 * to throw, `'hang'` (never answers, ignores its signal), or a function of the context. Every
 * call's context is recorded, so tests can assert the window asked for and that no call happened.
 */
export type FakeStep =
  FetchResult | Error | 'hang' | ((ctx: FetchContext) => FetchResult | Promise<FetchResult>);

export class FakeProvider implements BankProvider {
  readonly description = 'scripted fake provider for tests';
  readonly calls: FetchContext[] = [];
  private readonly steps: FakeStep[];

  constructor(
    readonly id = 'fake',
    steps: FakeStep[] = [],
  ) {
    this.steps = [...steps];
  }

  /** Appends steps to the script. */
  then(...steps: FakeStep[]): this {
    this.steps.push(...steps);
    return this;
  }

  async fetch(ctx: FetchContext): Promise<FetchResult> {
    this.calls.push(ctx);
    const step = this.steps.shift();
    if (step === undefined)
      throw new Error(`FakeProvider ${this.id}: no scripted step for call ${this.calls.length}`);
    if (step === 'hang') return new Promise<FetchResult>(() => undefined);
    if (step instanceof Error) throw step;
    if (typeof step === 'function') return step(ctx);
    return step;
  }
}

let txCounter = 0;

/** A booked transaction with sensible defaults (EUR, 2024-03-10, −12.50). */
export function tx(fields: Partial<BankTransaction> = {}): BankTransaction {
  txCounter += 1;
  return {
    bookingDate: '2024-03-10',
    amount: -1250,
    currency: 'EUR',
    payee: `Payee ${txCounter}`,
    pending: false,
    ...fields,
  };
}

export function statement(
  accountId: string,
  transactions: BankTransaction[],
  extra: Partial<BankAccountStatement> = {},
): BankAccountStatement {
  return { accountId, currency: 'EUR', transactions, balances: [], ...extra };
}

export function result(
  statements: BankAccountStatement[],
  extra: Partial<FetchResult> = {},
): FetchResult {
  return { statements, warnings: [], ...extra };
}

/** Log entries captured from a winston logger. */
export interface CapturedLog {
  logger: Logger;
  entries: Array<Record<string, unknown>>;
  events(name: string): Array<Record<string, unknown>>;
}

class CaptureTransport extends Transport {
  constructor(private readonly sink: Array<Record<string, unknown>>) {
    super({ level: 'debug' });
  }

  override log(info: Record<string, unknown>, next: () => void): void {
    this.sink.push({ ...info });
    next();
  }
}

export function captureLogger(): CapturedLog {
  const entries: Array<Record<string, unknown>> = [];
  const logger = winston.createLogger({
    level: 'debug',
    transports: [new CaptureTransport(entries)],
  });
  return { logger, entries, events: (name) => entries.filter((e) => e.event === name) };
}

/** A temporary folder removed by `cleanup()`. */
export function tempDir(prefix = 'booksync-bank-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh LevelDB books store in a temp folder; `close()` closes and removes it. */
export async function tempStore(
  logger: Logger,
  clock?: () => Date,
): Promise<{ store: BooksStore; dir: string; close(): Promise<void> }> {
  const tmp = tempDir('booksync-books-');
  const store = await BooksStore.open(path.join(tmp.dir, 'books'), {
    logger,
    ...(clock ? { clock } : {}),
  });
  return {
    store,
    dir: tmp.dir,
    close: async () => {
      await store.close();
      tmp.cleanup();
    },
  };
}

/** A connection spec for the fake provider. */
export function fakeSpec(stateDir: string, fields: Partial<ConnectionSpec> = {}): ConnectionSpec {
  return {
    name: 'acme',
    provider: 'fake',
    institution: 'demo-bank',
    settings: {},
    secrets: { token: 's3cret' },
    historyDays: 30,
    overlapDays: 7,
    includePending: false,
    requestTimeoutMs: 1_000,
    stateDir: path.join(stateDir, fields.name ?? 'acme'),
    ...fields,
  };
}

/** A settable clock. */
export function fakeClock(start: string): {
  now: () => Date;
  set(iso: string): void;
  advance(ms: number): void;
} {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    set: (iso) => {
      t = Date.parse(iso);
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

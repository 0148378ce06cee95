import express from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import PouchDB from 'pouchdb-node';
import Transport from 'winston-transport';
import * as winston from 'winston';
import { BooksStore } from '../../src/ledger';
import { merge, firstValueFrom } from 'rxjs';
import { openSync, type SyncEngine, type SyncRuntime, type SyncSetup } from '../../src/sync';
import { fullQuorumFetch, needsFullQuorum } from './full-quorum';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const expressPouchdb = require('express-pouchdb') as (
  p: PouchDB.Static,
  opts: Record<string, unknown>,
) => express.Express;

/**
 * A CouchDB-protocol server (express-pouchdb over LevelDB in a temp folder) on 127.0.0.1, port 0,
 * standing in for the cloud. `stop()` / `start()` take it off the network and back on the same
 * port with the same data; `destroy()` removes the folder.
 */
export class CloudServer {
  readonly dir: string;
  readonly Pouch: PouchDB.Static;
  private server: Server | null = null;
  private app: express.Express | null = null;
  port = 0;

  private constructor(dir: string) {
    this.dir = dir;
    this.Pouch = PouchDB.defaults({
      prefix: dir + '/',
    }) as unknown as PouchDB.Static;
  }

  static async start(): Promise<CloudServer> {
    const s = new CloudServer(mkdtempSync(path.join(os.tmpdir(), 'booksync-cloud-')));
    await s.start();
    return s;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  dbUrl(name: string): string {
    return `${this.origin}/${name}`;
  }

  async start(): Promise<void> {
    // One app for the server's life: express-pouchdb keeps its database registry in memory.
    this.app ??= express().use(
      '/',
      expressPouchdb(this.Pouch, {
        mode: 'minimumForPouchDB',
        inMemoryConfig: true,
        logPath: path.join(this.dir, 'log.txt'),
      }),
    );
    const app = this.app;
    this.server = await new Promise<Server>((resolve, reject) => {
      const srv = app.listen(this.port, '127.0.0.1', () => resolve(srv));
      srv.on('error', reject);
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Takes the server off the network (open connections are cut); data stays. */
  async stop(): Promise<void> {
    const srv = this.server;
    if (!srv) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    });
  }

  /** A raw document as the server stores it, read with plain fetch (no client library). */
  async raw(db: string, id: string): Promise<Record<string, unknown> | null> {
    const res = await fetch(`${this.dbUrl(db)}/${encodeURIComponent(id)}?conflicts=true`);
    if (res.status === 404) return null;
    return (await res.json()) as Record<string, unknown>;
  }

  /** Every live document of `db`, by plain fetch. */
  async allRaw(db: string): Promise<Array<Record<string, unknown>>> {
    const res = await fetch(`${this.dbUrl(db)}/_all_docs?include_docs=true&conflicts=true`);
    if (!res.ok) throw new Error(`_all_docs of ${db}: HTTP ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { rows: Array<{ doc: Record<string, unknown> }> };
    return body.rows.map((r) => r.doc);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---- a booksync site: its own books, bookkeeping and engine ------------------------------------

/** Log lines kept in memory, for assertions on events. */
export class MemoryTransport extends Transport {
  readonly lines: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push(info);
    next();
  }
  events(name: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.event === name);
  }
}

export function memoryLogger(): { logger: winston.Logger; memory: MemoryTransport } {
  const memory = new MemoryTransport();
  const logger = winston.createLogger({ level: 'debug', transports: [memory] });
  return { logger, memory };
}

export type SiteOptions = Partial<Omit<SyncSetup, 'books' | 'bookkeepingDir' | 'logger'>>;

export class Site {
  private constructor(
    readonly dir: string,
    readonly books: BooksStore,
    public runtime: SyncRuntime,
    readonly memory: MemoryTransport,
    private setup: SyncSetup,
  ) {}

  static async open(cloudUrl: string, options: SiteOptions = {}, dir?: string): Promise<Site> {
    const home = dir ?? mkdtempSync(path.join(os.tmpdir(), 'booksync-site-'));
    const { logger, memory } = memoryLogger();
    const books = await BooksStore.open(path.join(home, 'books'), { logger });
    const setup: SyncSetup = {
      mode: 'interval',
      intervalMs: 3_600_000,
      backoff: 'fixed',
      backoffBaseMs: 20,
      backoffMaxMs: 50,
      ...options,
      cloud: {
        requestTimeoutMs: 5000,
        ...(needsFullQuorum(options.cloud?.url ?? cloudUrl) ? { fetch: fullQuorumFetch } : {}),
        ...(options.cloud ?? {}),
        url: options.cloud?.url ?? cloudUrl,
      },
      books,
      bookkeepingDir: path.join(home, 'sync'),
      logger,
    };
    const runtime = await openSync(setup);
    return new Site(home, books, runtime, memory, setup);
  }

  get engine() {
    return this.runtime.engine;
  }

  /** Stops the engine and reopens it on the same stores (a daemon restart without losing the books). */
  async restartEngine(): Promise<void> {
    await this.runtime.close();
    this.runtime = await openSync(this.setup);
  }

  /** A restart with changed options (rules, cloud URL): what a config reload does to the engine. */
  async restartWith(patch: SiteOptions): Promise<void> {
    await this.runtime.close();
    this.setup = {
      ...this.setup,
      ...patch,
      cloud: { ...this.setup.cloud, ...(patch.cloud ?? {}) },
    };
    this.runtime = await openSync(this.setup);
  }

  async close(): Promise<void> {
    await this.runtime.close();
    await this.books.close();
  }

  async destroy(): Promise<void> {
    await this.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Waits until `check()` holds, re-checking after every engine cycle (subscribed before each check,
 * so no cycle is missed). Bounded: throws `what` after `ms`.
 */
export async function until(
  check: () => Promise<boolean>,
  engines: SyncEngine[],
  ms: number,
  what: () => Promise<string> | string = () => 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const next = firstValueFrom(merge(...engines.map((e) => e.cycle$))).catch(() => undefined);
    if (await check()) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${await what()}`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([next, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
    clearTimeout(timer);
  }
}

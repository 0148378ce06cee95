import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BooksStore } from '../ledger';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { createApp } from './app';
import { Authenticator } from './auth';
import { ChangesHub } from './changes-hub';
import { LocalApiError } from './errors';
import type { LocalApiObserver } from './routes';
import { LoginThrottle, type ThrottleOptions } from './throttle';
import { VisibleBooks } from './visible-books';
import { LedgerWriter } from './writes';

/** Where and for whom the API listens; a change of any of it on `reload` rebinds. */
export interface LocalApiSettings {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  /** Required when enabled. */
  readonly username: string | null;
  /** Required when enabled. */
  readonly password: string | null;
}

export interface LocalApiOptions {
  /** The daemon's open books; the API reads `store.db` and writes through the store (one process holds the LevelDB). */
  store: BooksStore;
  settings: LocalApiSettings;
  logger: Logger;
  /** The one database name clients see. @default 'books' */
  databaseName?: string;
  /** The clock writes are stamped with, sessions age by and login failures are counted by; tests freeze it. */
  clock?: () => Date;
  /** Largest request body; bigger ones get 413. @default 64 MiB */
  maxBodyBytes?: number;
  /** Cookie session lifetime. @default 600 (CouchDB's) */
  sessionSeconds?: number;
  /** Login throttling limits (defaults: 10 failures a minute, 100 ms doubling to 5 s). */
  throttle?: ThrottleOptions;
  /** Holds a failed login's answer back; tests pass one that records and returns at once. */
  delay?: (ms: number) => Promise<void>;
  /** Told about every answer and every refused login (for metrics). */
  observer?: LocalApiObserver;
}

/** The `_local` document that keeps the server uuid of these books (PouchDB replication ids use it). */
const SERVER_ID_DOC = '_local/booksync-local-api';

/** One bound HTTP server and what lives as long as it does. */
interface Listener {
  server: Server;
  hub: ChangesHub;
  url: string;
  key: string;
  stopping: boolean;
  /** Logs quiet bursts of failed logins even when no further attempt comes. */
  sweeper: NodeJS.Timeout;
}

/** The observer with its failures logged instead of thrown: counting must never fail a request. */
function guardObserver(observer: LocalApiObserver, log: Logger): LocalApiObserver {
  const guarded = (name: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      log.error(`local API observer failed in ${name}: ${describeError(err).message}`, {
        event: 'local_api.error',
        stack: (err as Error)?.stack,
      });
    }
  };
  return {
    onResponse: (status) => guarded('onResponse', () => observer.onResponse(status)),
    onLoginDenied: () => guarded('onLoginDenied', () => observer.onLoginDenied()),
  };
}

/** Waits `ms` without keeping the process alive for it. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * The local access API: the books as one CouchDB-compatible database on `settings.host:port`,
 * for accounting tools and PouchDB replication while the daemon holds the store. Off unless
 * `enabled`; every request needs the configured credentials (HTTP Basic or a `POST /_session`
 * cookie), and failed logins are throttled. Writes go through the store's checked writes
 * (`BooksStore.writeRevisions`), so the sync engine, which follows the books' changes, syncs them
 * like any other write.
 */
export class LocalApi {
  private config: LocalApiSettings;
  private readonly store: BooksStore;
  private readonly log: Logger;
  private readonly dbName: string;
  private readonly clock: () => Date;
  private readonly maxBodyBytes: number;
  private readonly sessionSeconds: number;
  private readonly writer: LedgerWriter;
  private readonly throttle: LoginThrottle;
  private readonly delay: (ms: number) => Promise<void>;
  private readonly observer: LocalApiObserver | undefined;
  private listener: Listener | undefined;
  private uuid: string | undefined;
  /** Serialises start / stop / reload. */
  private lifecycle: Promise<unknown> = Promise.resolve();

  constructor(options: LocalApiOptions) {
    this.store = options.store;
    this.config = options.settings;
    this.log = options.logger.child({ component: 'local_api' });
    this.dbName = options.databaseName ?? 'books';
    this.clock = options.clock ?? (() => new Date());
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.sessionSeconds = options.sessionSeconds ?? 600;
    this.writer = new LedgerWriter(this.store, this.clock, this.log);
    this.delay = options.delay ?? sleep;
    this.observer = options.observer && guardObserver(options.observer, this.log);
    this.throttle = new LoginThrottle(this.clock, this.log, options.throttle);
  }

  /** `http://host:port` while listening (the bound port when configured as 0); no credentials. */
  get url(): string | undefined {
    return this.listener?.url;
  }

  /** The database URL (`<url>/books`) while listening. */
  get databaseUrl(): string | undefined {
    return this.listener ? `${this.listener.url}/${encodeURIComponent(this.dbName)}` : undefined;
  }

  /** Starts listening when enabled; a no-op when disabled. Throws `LocalApiError` when it cannot bind. */
  start(): Promise<void> {
    return this.serial(async () => {
      if (!this.config.enabled || this.listener) return;
      this.listener = await this.listen(this.config);
    });
  }

  /** Stops listening, ends open `_changes` feeds at once and other requests by `deadline` (epoch ms). */
  stop(deadline: number): Promise<void> {
    return this.serial(async () => {
      const l = this.listener;
      this.listener = undefined;
      if (l) await this.close(l, deadline);
    });
  }

  /**
   * Applies new settings: starts, stops, or rebinds when host, port or credentials changed (a
   * restart also ends sessions and open feeds made with the old credentials). A new address is
   * bound before the old one is let go, so a failed bind leaves the API as it was.
   */
  reload(next: LocalApiSettings): Promise<void> {
    return this.serial(async () => {
      const old = this.listener;
      if (!next.enabled) {
        this.config = next;
        this.listener = undefined;
        if (old) await this.close(old, Date.now() + 2_000);
        return;
      }
      if (old && old.key === listenerKey(next)) {
        this.config = next;
        return;
      }
      const sameAddress = old !== undefined && old.key.startsWith(addressKey(next));
      if (old && sameAddress) {
        this.listener = undefined;
        await this.close(old, Date.now() + 2_000);
      }
      const fresh = await this.listen(next);
      this.config = next;
      this.listener = fresh;
      if (old && !sameAddress) await this.close(old, Date.now() + 2_000);
    });
  }

  status(): Promise<Record<string, unknown>> {
    return Promise.resolve({
      enabled: this.config.enabled,
      url: this.url ?? null,
      database: this.databaseUrl ?? null,
      open_feeds: this.listener?.hub.open ?? 0,
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lifecycle.then(fn);
    this.lifecycle = run.catch(() => undefined);
    return run;
  }

  private async listen(config: LocalApiSettings): Promise<Listener> {
    if (!config.username || !config.password) {
      throw new LocalApiError(
        'LOCAL_API_CONFIG',
        'local_api is enabled but local_api.username or local_api.password is missing',
      );
    }
    const uuid = await this.serverUuid();
    const hub = new ChangesHub(this.store.db, (err) =>
      this.log.error(`local API lost the books' changes feed: ${describeError(err).message}`, {
        event: 'local_api.error',
        ...describeError(err),
      }),
    );
    const auth = new Authenticator(
      { username: config.username, password: config.password },
      this.clock,
      this.sessionSeconds,
    );
    const server = createServer();
    const sweeper = setInterval(() => this.throttle.sweep(), this.throttle.windowMillis).unref();
    const listener: Listener = {
      server,
      hub,
      url: '',
      key: listenerKey(config),
      stopping: false,
      sweeper,
    };
    const app = createApp({
      db: new VisibleBooks(this.store.db),
      dbName: this.dbName,
      uuid,
      auth,
      writer: this.writer,
      hub,
      logger: this.log,
      login: {
        auth,
        throttle: this.throttle,
        logger: this.log,
        observer: this.observer,
        delay: this.delay,
      },
      maxBodyBytes: this.maxBodyBytes,
      stopping: () => listener.stopping,
      responseDone: () => {
        // While stopping, a connection whose last answer just went out is let go at once.
        if (listener.stopping) setImmediate(() => server.closeIdleConnections());
      },
    });
    server.on('request', app);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        clearInterval(sweeper);
        reject(
          new LocalApiError(
            'LOCAL_API_LISTEN',
            `the local API cannot listen on ${config.host}:${config.port}: ${err.code ?? err.message}`,
            {
              cause: err,
              details: { host: config.host, port: config.port },
            },
          ),
        );
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(config.port, config.host);
    });
    server.on('error', (err) =>
      this.log.error(`local API server error: ${err.message}`, {
        event: 'local_api.error',
        ...describeError(err),
      }),
    );
    hub.start();
    const port = (server.address() as AddressInfo).port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    listener.url = `http://${host}:${port}`;
    this.log.info(`local API listening on ${listener.url}/${this.dbName}`, {
      event: 'local_api.listening',
      host: config.host,
      port,
      database: this.dbName,
    });
    return listener;
  }

  private async close(l: Listener, deadline: number): Promise<void> {
    l.stopping = true;
    clearInterval(l.sweeper);
    this.throttle.flush();
    const closed = new Promise<void>((resolve) => l.server.close(() => resolve()));
    // Open feeds answer now (an empty page); idle keep-alive connections go; the rest get until the deadline.
    l.hub.close();
    l.server.closeIdleConnections();
    const timer = setTimeout(
      () => l.server.closeAllConnections(),
      Math.max(0, deadline - Date.now()),
    );
    try {
      await closed;
    } finally {
      clearTimeout(timer);
    }
    this.log.info('local API stopped', { event: 'local_api.stopped', url: l.url });
  }

  /** The server uuid, kept in a `_local` document so it stays the same across restarts. */
  private async serverUuid(): Promise<string> {
    if (this.uuid) return this.uuid;
    const db = this.store.db;
    for (let attempt = 0; ; attempt++) {
      let rev: string | undefined;
      try {
        const doc = (await db.get(SERVER_ID_DOC)) as { _rev?: string; uuid?: unknown };
        if (typeof doc.uuid === 'string' && doc.uuid !== '') return (this.uuid = doc.uuid);
        rev = doc._rev;
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
      }
      const uuid = randomUUID().replace(/-/g, '');
      const [written] = await this.store.writeRevisions(
        [{ _id: SERVER_ID_DOC, ...(rev ? { _rev: rev } : {}), uuid }],
        { newEdits: true },
      );
      if (written.ok) return (this.uuid = uuid);
      if ('refused' in written) throw written.refused;
      if (written.error.status !== 409 || attempt > 2)
        throw new LocalApiError(
          'LOCAL_API_SERVER_ID',
          `cannot store the server id document: ${written.error.message ?? written.error.name}`,
          { cause: written.error },
        );
    }
  }
}

function addressKey(c: LocalApiSettings): string {
  return `${c.host}\u0000${c.port}\u0000`;
}

/** What a running listener depends on; a change in any of it means a new listener. */
function listenerKey(c: LocalApiSettings): string {
  const credentials = createHash('sha256')
    .update(`${c.username ?? ''}\u0000${c.password ?? ''}`)
    .digest('hex');
  return `${addressKey(c)}${credentials}`;
}

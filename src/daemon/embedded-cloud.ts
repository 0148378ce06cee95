import type { Server } from 'node:http';
import path from 'node:path';
import express from 'express';
import { fetchWithDeadline } from '../shared/fetch-deadline';
import type { Logger } from '../shared/logger';
import { ensurePrivateDir } from '../shared/private-file';
import {
  embeddedCloudPaths,
  loadOrCreateLogin,
  requireLogin,
  type CloudLogin,
} from './embedded-cloud-login';
import type { Service } from './service';

// express-pouchdb and pouchdb-node ship no types; their use here is small and local.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- no types (see above)
const PouchDB = require('pouchdb-node') as { defaults(opts: Record<string, unknown>): unknown };
// eslint-disable-next-line @typescript-eslint/no-require-imports -- no types (see above)
const expressPouchDB = require('express-pouchdb') as (
  pouch: unknown,
  opts: Record<string, unknown>,
) => express.Handler;

/**
 * The embedded "cloud" of the quick start: a CouchDB-protocol server (express-pouchdb, the server
 * behind pouchdb-server) on 127.0.0.1 with its data in `STATE_DIR/cloud`, so a new user sees
 * replication happen with no setup. A real deployment sets `cloud.url` to its CouchDB instead.
 * Any local user can reach a port on 127.0.0.1, so every request must carry the login kept in
 * `STATE_DIR/cloud-credentials` (embedded-cloud-login.ts).
 */
export class EmbeddedCloud implements Service {
  readonly name = 'cloud';
  private server: Server | undefined;
  private urlValue: string | undefined;
  private login: CloudLogin | undefined;
  private readonly dataDir: string;
  /** The file holding `user:password`, for `booksync status` and the README. */
  readonly credentialsFile: string;

  constructor(
    stateDir: string,
    private readonly database: string,
    private readonly port: number,
    private readonly logger: Logger,
  ) {
    const paths = embeddedCloudPaths(stateDir);
    this.dataDir = paths.data;
    this.credentialsFile = paths.credentials;
  }

  /** The database URL, once started. */
  get url(): string {
    if (!this.urlValue) throw new Error('embedded cloud not started');
    return this.urlValue;
  }

  /**
   * The database URL with the login as userinfo, the form the sync engine's CouchDB client takes
   * it in: it moves userinfo into an `Authorization` header and never shows it.
   */
  get syncUrl(): string {
    const u = new URL(this.url);
    u.username = encodeURIComponent(this.login!.username);
    u.password = encodeURIComponent(this.login!.password);
    return u.toString();
  }

  secrets(): string[] {
    return this.login ? [this.login.password] : [];
  }

  async start(): Promise<void> {
    ensurePrivateDir(this.dataDir);
    const login = await loadOrCreateLogin(this.credentialsFile);
    this.login = login;
    const app = express();
    app.disable('x-powered-by');
    app.use(requireLogin(login));
    const Pouch = PouchDB.defaults({ prefix: this.dataDir + path.sep });
    app.use(
      '/',
      expressPouchDB(Pouch, {
        mode: 'minimumForPouchDB',
        inMemoryConfig: true,
        logPath: path.join(this.dataDir, 'log.txt'),
      }),
    );
    const server = app.listen(this.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    this.server = server;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.port;
    this.urlValue = `http://127.0.0.1:${port}/${this.database}`;
    const authorization = `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;
    const exchange = await fetchWithDeadline(
      this.urlValue,
      { method: 'PUT', headers: { authorization } },
      { timeoutMs: 10_000 },
      () => Promise.resolve(),
    );
    if (!exchange.ok) throw exchange.error;
    const created = exchange.response;
    if (created.status !== 201 && created.status !== 412) {
      throw new Error(
        `embedded cloud could not create database ${this.database}: HTTP ${created.status}`,
      );
    }
    this.logger.info(`embedded cloud listening on ${this.urlValue}`, {
      event: 'cloud.embedded',
      url: this.urlValue,
      data_dir: this.dataDir,
      credentials_file: this.credentialsFile,
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  status(): Promise<Record<string, unknown>> {
    return Promise.resolve({
      url: this.urlValue ?? null,
      data_dir: this.dataDir,
      credentials_file: this.credentialsFile,
    });
  }
}

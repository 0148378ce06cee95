import fs from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import express from 'express';
import { Deadline } from '../shared/deadline';
import type { Logger } from '../shared/logger';
import type { Service } from './service';

// express-pouchdb and pouchdb-node ship no types; their use here is small and local.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PouchDB = require('pouchdb-node') as { defaults(opts: Record<string, unknown>): unknown };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const expressPouchDB = require('express-pouchdb') as (pouch: unknown, opts: Record<string, unknown>) => express.Handler;

/**
 * The embedded "cloud" of the quick start: a CouchDB-protocol server (express-pouchdb, the server
 * behind pouchdb-server) on 127.0.0.1 with its data in `STATE_DIR/cloud`, so a new user sees
 * replication happen with no setup. A real deployment sets `cloud.url` to its CouchDB instead.
 */
export class EmbeddedCloud implements Service {
  readonly name = 'cloud';
  private server: Server | undefined;
  private urlValue: string | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly database: string,
    private readonly port: number,
    private readonly logger: Logger,
  ) {}

  /** The database URL, once started. */
  get url(): string {
    if (!this.urlValue) throw new Error('embedded cloud not started');
    return this.urlValue;
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o750 });
    const app = express();
    app.disable('x-powered-by');
    const Pouch = PouchDB.defaults({ prefix: this.dataDir + path.sep });
    app.use('/', expressPouchDB(Pouch, { mode: 'minimumForPouchDB', inMemoryConfig: true, logPath: path.join(this.dataDir, 'log.txt') }));
    const server = app.listen(this.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    this.server = server;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.port;
    this.urlValue = `http://127.0.0.1:${port}/${this.database}`;
    const deadline = new Deadline(10_000);
    let created: Response;
    try {
      created = await deadline.race(fetch(deadline.hold(new Request(this.urlValue, { method: 'PUT', signal: deadline.signal }))));
    } finally {
      deadline.clear();
    }
    if (created.status !== 201 && created.status !== 412) {
      throw new Error(`embedded cloud could not create database ${this.database}: HTTP ${created.status}`);
    }
    this.logger.info(`embedded cloud listening on ${this.urlValue}`, { event: 'cloud.embedded', url: this.urlValue, data_dir: this.dataDir });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async status(): Promise<Record<string, unknown>> {
    return { url: this.urlValue ?? null, data_dir: this.dataDir };
  }
}

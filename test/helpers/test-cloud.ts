import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { CloudServer } from './cloud-server';
import { COUCH_ADMIN, couchAuthHeader, couchAvailable, sharedCouch } from './couchdb';
import { fullQuorumFetch, markFullQuorum } from './full-quorum';

/**
 * The clouds the sync suites run against: express-pouchdb (always), and Apache CouchDB 3.5 on one
 * node and on a 3-node cluster (q=2, n=3) when its archive is there (test/helpers/couchdb.ts).
 */
export type CloudKind = 'pouchdb' | 'couchdb' | 'couchdb-cluster';

export function cloudKinds(): CloudKind[] {
  return couchAvailable() ? ['pouchdb', 'couchdb', 'couchdb-cluster'] : ['pouchdb'];
}

/** What a sync test needs of a cloud, whichever server it is. */
export interface TestCloud {
  readonly kind: CloudKind;
  /** The port a client connects to (a TCP proxy may be put in front of it). */
  readonly port: number;
  readonly origin: string;
  /**
   * The database's URL for a site's `cloud.url`, credentials included where the server needs them;
   * `origin` reaches it another way (a TCP proxy in front of `port`).
   */
  dbUrl(name: string, origin?: string): string;
  /** The same without credentials, for a daemon config (whose `cloud.url` never holds a secret). */
  plainDbUrl(name: string): string;
  /** What a daemon config puts under `cloud.auth`, or null for a server open to anyone. */
  readonly credentials: { username: string; password: string } | null;
  raw(db: string, id: string): Promise<Record<string, unknown> | null>;
  allRaw(db: string): Promise<Array<Record<string, unknown>>>;
  /** Takes the cloud off the network (open connections cut); data stays. */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startCloud(kind: CloudKind): Promise<TestCloud> {
  if (kind === 'pouchdb') {
    const server = await CloudServer.start();
    return Object.assign(server, {
      kind,
      credentials: null,
      plainDbUrl: (name: string) => server.dbUrl(name),
      dbUrl: (name: string, origin = server.origin) => `${origin}/${name}`,
    });
  }
  const nodes = await sharedCouch(kind === 'couchdb' ? 1 : 3);
  return CouchCloud.start(kind, nodes.ports);
}

/**
 * `fetch` for a database URL that may carry credentials (`http://user:pw@host/db`): Node's fetch
 * refuses such URLs, so the userinfo moves into an Authorization header.
 */
export function cloudFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const u = new URL(url);
  if (!u.username && !u.password) return fullQuorumFetch(url, init);
  const auth =
    'Basic ' +
    Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString(
      'base64',
    );
  u.username = '';
  u.password = '';
  const headers = new Headers(init.headers);
  headers.set('authorization', auth);
  return fullQuorumFetch(u.toString(), { ...init, headers });
}

let dbCounter = 0;

/**
 * A test's view of a shared CouchDB: its own front port (a TCP relay to one node, so `stop()` can
 * take this test's cloud off the network without stopping CouchDB for the others) and its own
 * database-name prefix, so suites never share a database.
 */
class CouchCloud implements TestCloud {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  private readonly prefix = `t${process.pid}x${++dbCounter}_`;
  /** Index into `nodePorts` of the node the relay forwards to. */
  node = 0;

  private constructor(
    readonly kind: CloudKind,
    readonly nodePorts: number[],
  ) {}

  static async start(kind: CloudKind, nodePorts: number[]): Promise<CouchCloud> {
    const c = new CouchCloud(kind, nodePorts);
    await c.start();
    return c;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  readonly credentials = COUCH_ADMIN;

  dbUrl(name: string, origin = this.origin): string {
    const u = new URL(this.prefix + name, origin + '/');
    u.username = COUCH_ADMIN.username;
    u.password = COUCH_ADMIN.password;
    return u.toString();
  }

  plainDbUrl(name: string): string {
    return `${this.origin}/${this.prefix}${name}`;
  }

  async raw(db: string, id: string): Promise<Record<string, unknown> | null> {
    const res = await cloudFetch(`${this.dbUrl(db)}/${encodeURIComponent(id)}?conflicts=true`);
    if (res.status === 404) return null;
    return (await res.json()) as Record<string, unknown>;
  }

  async allRaw(db: string): Promise<Array<Record<string, unknown>>> {
    const res = await cloudFetch(`${this.dbUrl(db)}/_all_docs?include_docs=true&conflicts=true`);
    if (!res.ok) throw new Error(`_all_docs of ${db}: HTTP ${res.status} ${await res.text()}`);
    const body = (await res.json()) as {
      rows: Array<{ id: string; doc: Record<string, unknown> }>;
    };
    return body.rows.filter((r) => !r.id.startsWith('_design/')).map((r) => r.doc);
  }

  async start(): Promise<void> {
    const server = net.createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    if (this.nodePorts.length > 1) markFullQuorum(this.port);
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.nodePorts[this.node], '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  async stop(): Promise<void> {
    const srv = this.server;
    if (!srv) return;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }

  /** Deletes this test's databases and closes its front port. */
  async destroy(): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.nodePorts[0]}/_all_dbs`, {
      headers: { authorization: couchAuthHeader() },
    });
    const names = res.ok
      ? ((await res.json()) as string[]).filter((n) => n.startsWith(this.prefix))
      : [];
    for (const n of names) {
      await fetch(`http://127.0.0.1:${this.nodePorts[0]}/${encodeURIComponent(n)}`, {
        method: 'DELETE',
        headers: { authorization: couchAuthHeader() },
      });
    }
    await this.stop();
  }
}

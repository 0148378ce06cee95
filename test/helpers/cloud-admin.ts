import { CloudServer, type Site } from './cloud-server';
import { COUCH_ADMIN, couchAuthHeader, couchAvailable, sharedCouch } from './couchdb';
import { fullQuorumFetch } from './full-quorum';

/**
 * What a sync test does to "the cloud" from outside booksync, over plain HTTP with the CouchDB API
 * only, so the same test runs against express-pouchdb or a real Apache CouchDB: a factory returns
 * the server's origin and this admin handle.
 */
export interface CloudAdmin {
  /** `http://127.0.0.1:port` (no credentials; `headers` carries them). */
  readonly origin: string;
  dbUrl(db: string): string;
  /** The URL a booksync site is given for `db` (credentials in the userinfo when the server needs a login). */
  siteUrl(db: string): string;
  deleteDb(db: string): Promise<void>;
  createDb(db: string): Promise<void>;
  /** Every document with its full revision history (a backup that restores with the same revisions), plus the `_local` documents named. */
  dump(db: string, locals: string[]): Promise<CloudDump>;
  /** Deletes `db` and writes the dump back (`new_edits:false`): a cloud restored from an older copy. */
  restore(db: string, dump: CloudDump): Promise<void>;
  /** Live documents of `db` (with `_attachments` stubs). */
  allDocs(db: string): Promise<Array<Record<string, unknown>>>;
  doc(db: string, id: string): Promise<Record<string, unknown> | null>;
  put(db: string, doc: Record<string, unknown>): Promise<string>;
  /** The bytes of an attachment, or null. */
  attachment(db: string, id: string, name: string): Promise<Buffer | null>;
  /** Deletes a document (leaves a tombstone). */
  remove(db: string, id: string, rev: string): Promise<void>;
  close(): Promise<void>;
}

export interface CloudDump {
  docs: Array<Record<string, unknown>>;
  locals: Array<Record<string, unknown>>;
}

/** A cloud for a test: the server factory's answer. */
export interface TestCloud {
  admin: CloudAdmin;
}

export type CloudFactory = () => Promise<TestCloud>;

/** The CloudAdmin over HTTP for a server at `origin` (auth headers for a real CouchDB). */
export class HttpCloudAdmin implements CloudAdmin {
  constructor(
    readonly origin: string,
    private readonly headers: Record<string, string> = {},
    private readonly onClose: () => Promise<void> = () => Promise.resolve(),
    private readonly siteOrigin: string = origin,
  ) {}

  dbUrl(db: string): string {
    return `${this.origin}/${db}`;
  }

  siteUrl(db: string): string {
    return `${this.siteOrigin}/${db}`;
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
    ok: number[] = [],
  ): Promise<{ status: number; body: unknown }> {
    const res = await fullQuorumFetch(`${this.origin}/${path}`, {
      method,
      headers: {
        ...this.headers,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : null;
    if (!res.ok && !ok.includes(res.status))
      throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return { status: res.status, body: parsed };
  }

  async deleteDb(db: string): Promise<void> {
    await this.call('DELETE', db, undefined, [404]);
  }

  async createDb(db: string): Promise<void> {
    await this.call('PUT', db, undefined, [412]);
  }

  async dump(db: string, locals: string[]): Promise<CloudDump> {
    const all = (await this.call('GET', `${db}/_all_docs`)).body as { rows: Array<{ id: string }> };
    const docs: Array<Record<string, unknown>> = [];
    for (const row of all.rows) {
      docs.push(
        (await this.call('GET', `${db}/${encodeURIComponent(row.id)}?revs=true&attachments=true`))
          .body as Record<string, unknown>,
      );
    }
    const localDocs: Array<Record<string, unknown>> = [];
    for (const id of locals) {
      const r = await this.call('GET', `${db}/_local/${encodeURIComponent(id)}`, undefined, [404]);
      if (r.status !== 404) localDocs.push(r.body as Record<string, unknown>);
    }
    return { docs, locals: localDocs };
  }

  async restore(db: string, dump: CloudDump): Promise<void> {
    await this.deleteDb(db);
    await this.createDb(db);
    if (dump.docs.length > 0)
      await this.call('POST', `${db}/_bulk_docs`, { new_edits: false, docs: dump.docs });
    for (const local of dump.locals) {
      const { _rev: _dropped, ...body } = local;
      await this.call('PUT', `${db}/${String(local._id)}`, body);
    }
  }

  async allDocs(db: string): Promise<Array<Record<string, unknown>>> {
    const body = (await this.call('GET', `${db}/_all_docs?include_docs=true`)).body as {
      rows: Array<{ doc: Record<string, unknown> }>;
    };
    return body.rows.map((r) => r.doc);
  }

  async doc(db: string, id: string): Promise<Record<string, unknown> | null> {
    const r = await this.call('GET', `${db}/${encodeURIComponent(id)}`, undefined, [404]);
    return r.status === 404 ? null : (r.body as Record<string, unknown>);
  }

  async put(db: string, doc: Record<string, unknown>): Promise<string> {
    const r = await this.call('PUT', `${db}/${encodeURIComponent(String(doc._id))}`, doc);
    return String((r.body as { rev: string }).rev);
  }

  async attachment(db: string, id: string, name: string): Promise<Buffer | null> {
    const res = await fetch(
      `${this.origin}/${db}/${encodeURIComponent(id)}/${encodeURIComponent(name)}`,
      { headers: this.headers },
    );
    return res.status === 404 ? null : Buffer.from(await res.arrayBuffer());
  }

  async remove(db: string, id: string, rev: string): Promise<void> {
    await this.call('DELETE', `${db}/${encodeURIComponent(id)}?rev=${encodeURIComponent(rev)}`);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** The default factory: express-pouchdb on 127.0.0.1 (test/helpers/cloud-server.ts). */
export const expressPouchCloud: CloudFactory = async () => {
  const server = await CloudServer.start();
  return { admin: new HttpCloudAdmin(server.origin, {}, () => server.destroy()) };
};

/** Apache CouchDB 3.5 (test/helpers/couchdb.ts): a site talks to node 1 with the admin login. */
function couchCloud(nodes: 1 | 3): CloudFactory {
  return async () => {
    const { ports } = await sharedCouch(nodes);
    const origin = `http://127.0.0.1:${ports[0]}`;
    const siteOrigin = `http://${COUCH_ADMIN.username}:${COUCH_ADMIN.password}@127.0.0.1:${ports[0]}`;
    return {
      admin: new HttpCloudAdmin(
        origin,
        { authorization: couchAuthHeader() },
        () => Promise.resolve(),
        siteOrigin,
      ),
    };
  };
}

/** The clouds a sync suite runs against, by name: express-pouchdb, and CouchDB 3.5 when found. */
export function cloudFactories(): Array<[string, CloudFactory]> {
  const kinds: Array<[string, CloudFactory]> = [['express-pouchdb', expressPouchCloud]];
  if (couchAvailable()) kinds.push(['couchdb', couchCloud(1)], ['couchdb-cluster', couchCloud(3)]);
  return kinds;
}

/**
 * Per test: a fresh database on the factory's cloud (deleted first: a real server keeps databases
 * between runs), and the sites a test opens, destroyed after it.
 */
export function cloudPerTest(
  factory: CloudFactory,
  prefix: string,
): { admin: CloudAdmin; db: string; sites: Site[] } {
  const ctx = { admin: undefined as unknown as CloudAdmin, db: '', sites: [] as Site[] };
  let n = 0;
  before(async () => {
    ctx.admin = (await factory()).admin;
  });
  beforeEach(async () => {
    ctx.db = `${prefix}${++n}`;
    await ctx.admin.deleteDb(ctx.db);
  });
  afterEach(async () => {
    while (ctx.sites.length) await (ctx.sites.pop() as Site).destroy();
  });
  after(async () => {
    await ctx.admin.close();
  });
  return ctx;
}

import { fetchWithDeadline, readText } from '../../shared/fetch-deadline';
import { mapInFlight } from '../../shared/in-flight';
import type { Logger } from '../../shared/logger';
import { remoteExcerpt } from '../../shared/redact';
import { splitUrlCredentials } from '../../shared/urls';
import {
  SyncAuthError,
  SyncCloudGoneError,
  SyncProtocolError,
  SyncTooLargeError,
  SyncUnavailableError,
} from '../errors';
import { inlineAttachments } from '../local-store';
import { bulkRequests, WRITE_REQUESTS_IN_FLIGHT } from './bulk-requests';
import {
  acceptEncodingFor,
  describeNetError,
  isDatabaseGone,
  redactUrl,
  scrub,
  type ResponseCompression,
} from './net';
import type {
  ChangesOptions,
  RemoteChange,
  RemoteChangesPage,
  RemoteCurrent,
  RemoteDbInfo,
  RemoteDoc,
  RemoteStore,
  RemoteWrite,
  RemoteWriteResult,
} from '../remote-store';

export interface CouchAuth {
  /** `basic`: an Authorization header on every request; `cookie`: `POST /_session`, renewed once on a 401. */
  method: 'basic' | 'cookie';
  username: string;
  password: string;
}

export interface CouchDbRemoteOptions {
  /**
   * Database URL, e.g. `https://couch.example.com/books`, or the database's URL on each node of one
   * CouchDB cluster in order of preference (see `failOver`). Userinfo in the URL is moved into basic auth.
   */
  url: string | readonly string[];
  auth?: CouchAuth;
  /** Timeout of every request (a long-poll gets its wait time on top). */
  requestTimeoutMs: number;
  /** What to ask for in `Accept-Encoding` (see `acceptEncodingFor`). @default 'auto' */
  compression?: ResponseCompression;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  logger?: Logger;
}

interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** A body already serialised as JSON. */
  rawBody?: string;
  extraTimeoutMs?: number;
  signal?: AbortSignal;
  /** Statuses handed back to the caller instead of being thrown. */
  accept?: readonly number[];
}

interface Answer {
  status: number;
  body: unknown;
  /** Length of the body text. */
  bytes: number;
}

/**
 * RemoteStore over the CouchDB HTTP API (Apache CouchDB 3, clusters, Cloudant, pouchdb-server).
 * Every request has a timeout (a Deadline; PouchDB's own HTTP adapter has none, #8030).
 * HTTP failures map to typed errors in one place (`fail`): 401/403 → SyncAuthError,
 * network/timeout/5xx → SyncUnavailableError; 413 on a write splits the batch.
 * @link https://docs.couchdb.org/en/stable/api/database/changes.html
 * @link https://docs.couchdb.org/en/stable/api/database/bulk-api.html
 */
export class CouchDbRemote implements RemoteStore {
  /** The database on each configured node; `active` is the one requests go to. */
  private readonly nodes: ReadonlyArray<{ url: URL; safe: string }>;
  private active = 0;
  private readonly auth: CouchAuth | undefined;
  private readonly timeoutMs: number;
  private readonly acceptEncoding: 'gzip' | 'identity';
  private readonly fetchFn: typeof fetch;
  private readonly logger: Logger | undefined;
  private cookie: string | null = null;
  private sessionInFlight: Promise<void> | null = null;
  /** Count of HTTP requests sent (for benchmarks and tests). */
  requests = 0;

  constructor(options: CouchDbRemoteOptions) {
    const urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (urls.length === 0) throw new SyncProtocolError('no cloud URL given');
    let auth = options.auth;
    this.nodes = urls.map((text) => {
      const { url: u, credentials } = splitUrlCredentials(text);
      if (!auth && credentials) auth = { method: 'basic', ...credentials };
      if (!u.pathname.endsWith('/')) u.pathname += '/';
      return { url: u, safe: redactUrl(u.toString()) };
    });
    this.auth = auth;
    this.timeoutMs = options.requestTimeoutMs;
    this.acceptEncoding = acceptEncodingFor(this.nodes[0].url.toString(), options.compression);
    this.fetchFn = options.fetch ?? fetch;
    this.logger = options.logger;
  }

  /** The database URL without credentials (the first node's: the cloud's name, whichever node answers). */
  get url(): string {
    return this.nodes[0].safe;
  }

  /** The node requests go to now, without credentials. */
  get activeUrl(): string {
    return this.safeUrl;
  }

  private get dbUrl(): URL {
    return this.nodes[this.active].url;
  }

  private get safeUrl(): string {
    return this.nodes[this.active].safe;
  }

  /**
   * A request to the active node failed to connect (refused, reset, unreachable, or timed out when
   * it was no long-poll): the next node of the cluster takes over. The place in `_changes` is kept:
   * a cluster's seqs are valid on every node (docs.couchdb.org, "Changes feed" in a cluster). Returns
   * false once every node was tried for this request.
   */
  private failOver(node: number, tried: number, err: unknown): boolean {
    if (this.nodes.length < 2 || tried >= this.nodes.length - 1) return false;
    // A request in flight beside it already moved on from that node: retry where it went.
    if (node !== this.active) return true;
    const from = this.safeUrl;
    this.active = (this.active + 1) % this.nodes.length;
    this.cookie = null; // a session belongs to the node that opened it
    this.logger?.warn(
      `cloud node ${from} unreachable (${describeNetError(err)}); failing over to ${this.safeUrl}`,
      { event: 'sync.failover', from, to: this.safeUrl },
    );
    return true;
  }

  async ensureDb(): Promise<RemoteDbInfo> {
    const info = await this.request('GET', '', { accept: [404] });
    if (info.status !== 404)
      return { updateSeq: (info.body as { update_seq?: unknown } | null)?.update_seq ?? null };
    const created = await this.request('PUT', '', { accept: [412] });
    // 412: created meanwhile by someone else
    if (created.status === 412) return { updateSeq: null };
    this.logger?.info('cloud database created', { event: 'sync.remote', url: this.safeUrl });
    return { updateSeq: null, created: true };
  }

  async changesSince(since: unknown, options: ChangesOptions): Promise<RemoteChangesPage> {
    const wait = options.waitMs ?? 0;
    let answer: Answer;
    try {
      answer = await this.request('GET', '_changes', {
        query: {
          feed: wait > 0 ? 'longpoll' : 'normal',
          since: typeof since === 'string' ? since : JSON.stringify(since ?? 0),
          include_docs: true,
          // `conflicts=true` puts the leaves' revisions in the winner's `_conflicts`, all the engine
          // reads. `style=all_docs` would only add leaf revisions to `changes[]`, and is much slower
          // on PouchDB-based servers (BENCHMARKS.md, "Sync").
          conflicts: true,
          limit: options.limit,
          seq_interval: options.seqInterval,
          timeout: wait > 0 ? wait : undefined,
        },
        extraTimeoutMs: wait,
        signal: options.signal,
      });
    } catch (err) {
      // Some servers (express-pouchdb) ignore `timeout` and hold a quiet long-poll open: our own
      // timeout ending a long-poll means "no changes yet", not "offline". Refused or reset
      // connections still throw.
      if (
        wait > 0 &&
        err instanceof SyncUnavailableError &&
        err.details.timedOut === true &&
        !options.signal?.aborted
      ) {
        return { changes: [], lastSeq: since, pending: 0, heldOpen: true };
      }
      throw err;
    }
    const body = answer.body as {
      results?: Array<{
        id: string;
        seq: unknown;
        doc?: RemoteDoc;
        deleted?: boolean;
        changes?: Array<{ rev: string }>;
      }>;
      last_seq?: unknown;
      pending?: number;
    };
    if (!body || !Array.isArray(body.results))
      throw new SyncProtocolError(`unexpected _changes answer from ${this.safeUrl}`);
    const changes: RemoteChange[] = [];
    for (const r of body.results) {
      const doc: RemoteDoc = r.doc ?? {
        _id: r.id,
        _rev: r.changes?.[0]?.rev ?? '',
        _deleted: r.deleted === true,
      };
      changes.push({ id: r.id, seq: r.seq, doc });
    }
    const pending =
      typeof body.pending === 'number'
        ? body.pending
        : body.results.length >= options.limit
          ? 1
          : 0;
    return { changes, lastSeq: body.last_seq ?? since, pending, bytes: answer.bytes };
  }

  async current(ids: readonly string[]): Promise<Map<string, RemoteCurrent>> {
    const out = new Map<string, RemoteCurrent>();
    if (ids.length === 0) return out;
    const answer = await this.request('POST', '_all_docs', {
      query: { include_docs: true, conflicts: true },
      body: { keys: ids },
    });
    const rows =
      (
        answer.body as {
          rows?: Array<{
            key: string;
            value?: { rev: string; deleted?: boolean };
            doc?: RemoteDoc | null;
            error?: string;
          }>;
        }
      ).rows ?? [];
    for (const row of rows) {
      if (!row.value) out.set(row.key, { exists: false });
      else
        out.set(row.key, {
          exists: true,
          rev: row.value.rev,
          deleted: row.value.deleted === true,
          doc: row.doc ?? null,
        });
    }
    for (const id of ids) if (!out.has(id)) out.set(id, { exists: false });
    return out;
  }

  async revisions(refs: ReadonlyArray<{ id: string; rev: string }>): Promise<RemoteDoc[]> {
    if (refs.length === 0) return [];
    const answer = await this.request('POST', '_bulk_get', {
      query: { revs: false },
      body: { docs: refs.map((r) => ({ id: r.id, rev: r.rev })) },
    });
    const results =
      (answer.body as { results?: Array<{ docs: Array<{ ok?: RemoteDoc }> }> }).results ?? [];
    const docs: RemoteDoc[] = [];
    for (const r of results) for (const d of r.docs) if (d.ok) docs.push(d.ok);
    return docs;
  }

  async write(
    docs: readonly RemoteWrite[],
    options: { maxBytes?: number } = {},
  ): Promise<RemoteWriteResult[]> {
    if (docs.length === 0) return [];
    // Each document is serialised once; requests are cut at `maxBytes` (the batch cap in bytes).
    const parts = docs.map((d) => JSON.stringify(d));
    const requests = bulkRequests(parts, options.maxBytes ?? Infinity);
    // Writes of one id stay in order: concurrent requests only when every id is distinct.
    const distinct = new Set(docs.map((d) => d._id)).size === docs.length;
    const answers = await mapInFlight(
      requests,
      distinct ? WRITE_REQUESTS_IN_FLIGHT : 1,
      ({ from, to }) => this.writeParts(docs.slice(from, to), parts.slice(from, to)),
    );
    return answers.flat();
  }

  async attachments(
    id: string,
    rev?: string,
  ): Promise<Record<string, { content_type: string; data: string }>> {
    const answer = await this.request('GET', encodeURIComponent(id), {
      query: { attachments: true, rev },
      accept: [404],
    });
    if (answer.status === 404) return {};
    return inlineAttachments(
      (answer.body as { _attachments?: Record<string, { content_type?: string; data?: unknown }> })
        ._attachments,
    );
  }

  async getLocal(id: string): Promise<Record<string, unknown> | null> {
    const answer = await this.request('GET', `_local/${encodeURIComponent(id)}`, { accept: [404] });
    return answer.status === 404 ? null : (answer.body as Record<string, unknown>);
  }

  async putLocal(id: string, body: Record<string, unknown>, rev?: string): Promise<string> {
    const path = `_local/${encodeURIComponent(id)}`;
    const put = (r: string | undefined) =>
      this.request('PUT', path, {
        body: { ...body, _id: `_local/${id}`, ...(r ? { _rev: r } : {}) },
        accept: [409],
      });
    let answer = await put(rev);
    if (answer.status === 409) {
      // Someone else's revision (or ours not known yet): read it and write over it once.
      const current = await this.request('GET', path, { accept: [404] });
      answer = await put(
        current.status === 404 ? undefined : (current.body as { _rev?: string })._rev,
      );
      if (answer.status === 409)
        throw new SyncProtocolError(`cannot write ${path} on ${this.safeUrl}: it keeps changing`);
    }
    const written = (answer.body as { rev?: unknown }).rev;
    return typeof written === 'string' ? written : '';
  }

  /** One `_bulk_docs` request of pre-serialised documents; a 413 splits it in halves. */
  private async writeParts(
    docs: readonly RemoteWrite[],
    parts: string[],
  ): Promise<RemoteWriteResult[]> {
    const answer = await this.request('POST', '_bulk_docs', {
      rawBody: `{"new_edits":true,"docs":[${parts.join(',')}]}`,
      accept: [413, 417],
    });
    if (answer.status === 413) {
      if (docs.length === 1)
        throw new SyncTooLargeError(
          `document ${docs[0]._id} is larger than ${this.safeUrl} accepts`,
          { details: { doc_id: docs[0]._id } },
        );
      const half = Math.ceil(docs.length / 2);
      return [
        ...(await this.writeParts(docs.slice(0, half), parts.slice(0, half))),
        ...(await this.writeParts(docs.slice(half), parts.slice(half))),
      ];
    }
    const rows = answer.body as Array<{
      id: string;
      rev?: string;
      ok?: boolean;
      error?: string;
      reason?: string;
    }>;
    if (!Array.isArray(rows))
      throw new SyncProtocolError(`unexpected _bulk_docs answer from ${this.safeUrl}`);
    return rows.map((row): RemoteWriteResult => {
      if (row.rev && !row.error) return { id: row.id, ok: true, rev: row.rev };
      if (row.error === 'conflict') return { id: row.id, ok: false, conflict: true };
      return {
        id: row.id,
        ok: false,
        conflict: false,
        error: this.excerpt(row.error ?? 'unknown', 60),
        reason: this.excerpt(row.reason ?? ''),
      };
    });
  }

  private async request(
    method: string,
    path: string,
    options: RequestOptions = {},
    retriedAuth = false,
    tried = 0,
  ): Promise<Answer> {
    const node = this.active;
    const url = new URL(path, this.dbUrl);
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {
      accept: 'application/json',
      'accept-encoding': this.acceptEncoding,
    };
    const payload =
      options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.auth?.method === 'basic') {
      headers.authorization =
        'Basic ' + Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64');
    } else if (this.auth?.method === 'cookie') {
      if (!this.cookie) await this.openSession();
      if (this.cookie) headers.cookie = this.cookie;
    }
    this.requests++;
    const exchange = await fetchWithDeadline(
      url,
      { method, headers, body: payload },
      {
        timeoutMs: this.timeoutMs + (options.extraTimeoutMs ?? 0),
        signal: options.signal,
        fetchFn: this.fetchFn,
      },
      readText,
    );
    if (!exchange.ok) {
      const { error: err, timedOut } = exchange;
      if (exchange.cancelled)
        throw new SyncUnavailableError(`request to ${this.safeUrl} cancelled`, {
          cause: scrub(err),
        });
      const longpoll = (options.extraTimeoutMs ?? 0) > 0;
      if (!(timedOut && longpoll) && this.failOver(node, tried, err))
        return this.request(method, path, options, retriedAuth, tried + 1);
      const what = timedOut ? 'timed out' : 'failed';
      throw new SyncUnavailableError(
        `${method} ${this.safeUrl}/${path} ${what}: ${describeNetError(err)}`,
        { cause: scrub(err), details: { url: this.safeUrl, timedOut } },
      );
    }
    const { response: res, body: text } = exchange;
    if (res.status === 401 && this.auth?.method === 'cookie' && !retriedAuth) {
      this.cookie = null; // session expired: renew once
      return this.request(method, path, options, true, tried);
    }
    let body: unknown = null;
    try {
      body = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    if (res.ok || options.accept?.includes(res.status))
      return { status: res.status, body, bytes: text.length };
    throw this.fail(res.status, method, path, body);
  }

  private fail(status: number, method: string, path: string, body: unknown): Error {
    const answer: { reason?: unknown; error?: unknown } =
      typeof body === 'object' && body !== null ? body : {};
    const said =
      typeof answer.reason === 'string'
        ? answer.reason
        : typeof answer.error === 'string'
          ? answer.error
          : '';
    const reason = this.excerpt(said);
    const message = `${method} ${this.safeUrl}/${path}: HTTP ${status}${reason ? ` (${reason})` : ''}`;
    const details = { url: this.safeUrl, status };
    if (status === 401 || status === 403) return new SyncAuthError(message, { details });
    if (isDatabaseGone(status, body)) return new SyncCloudGoneError(message, { details });
    if (status >= 500 || status === 408 || status === 429)
      return new SyncUnavailableError(message, { details });
    if (status === 413) return new SyncTooLargeError(message, { details });
    return new SyncProtocolError(message, { details });
  }

  /**
   * What the server said, fit for a log line and `last_error` of `booksync status`: a server that
   * echoes the request would hand back the credentials, and its answer may be of any length.
   */
  private excerpt(said: string, max = 200): string {
    return remoteExcerpt(said, this.auth ? [this.auth.password] : [], max);
  }

  private async openSession(): Promise<void> {
    if (this.sessionInFlight) return this.sessionInFlight;
    const auth = this.auth as CouchAuth;
    const sessionUrl = new URL('/_session', this.dbUrl);
    this.sessionInFlight = (async () => {
      this.requests++;
      const exchange = await fetchWithDeadline(
        sessionUrl,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'accept-encoding': this.acceptEncoding,
          },
          body: JSON.stringify({ name: auth.username, password: auth.password }),
        },
        { timeoutMs: this.timeoutMs, fetchFn: this.fetchFn },
        readText,
      );
      if (!exchange.ok)
        throw new SyncUnavailableError(
          `POST ${redactUrl(sessionUrl.toString())} ${exchange.timedOut ? 'timed out' : 'failed'}: ${describeNetError(exchange.error)}`,
          { cause: scrub(exchange.error) },
        );
      const res = exchange.response;
      if (res.status === 401 || res.status === 403)
        throw new SyncAuthError(
          `cloud rejected the session login for ${this.safeUrl} (HTTP ${res.status})`,
          { details: { url: this.safeUrl, status: res.status } },
        );
      if (!res.ok) throw this.fail(res.status, 'POST', '_session', null);
      const setCookie = res.headers.get('set-cookie');
      const m = setCookie ? /AuthSession=[^;]*/.exec(setCookie) : null;
      this.cookie = m ? m[0] : null;
    })();
    try {
      await this.sessionInFlight;
    } finally {
      this.sessionInFlight = null;
    }
  }
}

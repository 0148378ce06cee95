import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../../shared/logger';
import type { Authenticator } from './auth';
import { ChangesHub, type WakeReason } from './changes';
import { CouchError, badRequest, methodNotAllowed, noDatabase, notFound, toCouchError } from './errors';
import { Params, bodyObject } from './params';
import type { IncomingDoc, LedgerWriter, WriteResult } from './writes';

/** The CouchDB version the welcome answer names: the API subset follows CouchDB 3.3. */
export const COUCHDB_VERSION = '3.3.3';

/** CouchDB's longpoll / continuous timeout when the client gives none (`[chttpd] changes_timeout`). */
const DEFAULT_CHANGES_TIMEOUT_MS = 60_000;

export interface AppContext {
  db: PouchDB.Database;
  dbName: string;
  /** Server uuid of the welcome answer (PouchDB's replication ids build on it). */
  uuid: string;
  auth: Authenticator;
  writer: LedgerWriter;
  hub: ChangesHub;
  logger: Logger;
  maxBodyBytes: number;
  /** Told each answer's status code and each refused login. */
  observer?: { onResponse(statusCode: number): void; onLoginDenied(): void };
  /** True once the listener is stopping: responses close their connections. */
  stopping(): boolean;
  /** Called after every response has been sent or abandoned. */
  responseDone(): void;
}

type Handler = (req: Request, res: Response) => Promise<void>;

/** Wraps an async handler so a rejection reaches the error middleware (Express 4 does not). */
function wrap(handler: Handler) {
  return (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next);
  };
}

function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.status(status).set({ 'Content-Type': 'application/json', 'Cache-Control': 'must-revalidate', ...headers });
  res.send(`${JSON.stringify(body)}\n`);
}

function sendError(res: Response, err: CouchError, headers: Record<string, string> = {}): void {
  const allow = (err as CouchError & { allow?: string[] }).allow;
  sendJson(res, err.status, err.body(), allow ? { Allow: allow.join(','), ...headers } : headers);
}

/** The raw path split into decoded segments (`/books/a%2Fb/` → `['books', 'a/b']`). */
function segments(rawPath: string): string[] {
  const parts = rawPath.split('/').slice(1);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    throw badRequest('Invalid URL encoding');
  }
}

function allow(req: Request, methods: string[]): void {
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  if (!methods.includes(method)) throw methodNotAllowed(methods.includes('GET') ? [...methods, 'HEAD'] : methods);
}

/**
 * The CouchDB HTTP API subset that CouchDB clients and PouchDB replication (both directions) use,
 * serving the books as one database.
 * @link https://docs.couchdb.org/en/stable/api/index.html
 * @link https://docs.couchdb.org/en/stable/replication/protocol.html
 */
export function createApp(ctx: AppContext): express.Express {
  const { db, dbName, auth, writer, hub, logger } = ctx;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.setHeader('Server', `CouchDB/${COUCHDB_VERSION} (booksync)`);
    if (ctx.stopping()) res.setHeader('Connection', 'close');
    res.on('close', () => {
      logger.debug(`${req.method} ${req.path} ${res.statusCode}`, {
        event: 'local_api.request',
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Number((process.hrtime.bigint() - started) / 1_000_000n),
      });
      ctx.observer?.onResponse(res.statusCode);
      ctx.responseDone();
    });
    next();
  });

  const json = express.json({ limit: ctx.maxBodyBytes, strict: true, type: (req) => !isForm(req as Request) });
  const form = express.urlencoded({ limit: ctx.maxBodyBytes, extended: false, type: (req) => isForm(req as Request) });

  // Cookie login: the credentials are in the body, so this is the one route before the auth check.
  app.post('/_session', form, json, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const name = typeof body.name === 'string' ? body.name : typeof body.username === 'string' ? body.username : '';
    const password = typeof body.password === 'string' ? body.password : '';
    if (!auth.verify(name, password)) {
      deny(req, 'bad_credentials');
      sendError(res, new CouchError(401, 'unauthorized', 'Name or password is incorrect.'));
      return;
    }
    sendJson(res, 200, { ok: true, name: auth.username, roles: ['_admin'] }, { 'Set-Cookie': auth.setCookie(auth.newSession()) });
  });

  app.use((req, res, next) => {
    const result = auth.check(req.headers);
    if (result.ok) {
      res.locals.user = result;
      if (result.renew) res.setHeader('Set-Cookie', auth.setCookie(result.renew));
      next();
      return;
    }
    deny(req, result.reason);
    // Only a client that sent nothing is invited to authenticate: a wrong password gets no prompt.
    const challenge: Record<string, string> = result.reason === 'no_credentials' ? { 'WWW-Authenticate': 'Basic realm="booksync"' } : {};
    const reason = result.reason === 'no_credentials' ? 'Authentication required.' : 'Name or password is incorrect.';
    sendError(res, new CouchError(401, 'unauthorized', reason), challenge);
  });

  // Like CouchDB, document bodies are JSON whatever Content-Type says (`curl -d` sends a form type).
  app.use(express.json({ limit: ctx.maxBodyBytes, strict: true, type: () => true }));
  app.use(wrap(dispatch));

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const body = bodyParserError(err);
    const couch = body ?? toCouchError(err);
    if (res.headersSent) {
      logger.error(`local API ${req.method} ${req.path} failed after the answer began: ${String((err as Error)?.message ?? err)}`, { event: 'local_api.error', method: req.method, path: req.path });
      res.destroy();
      return;
    }
    if (couch) {
      sendError(res, couch);
      return;
    }
    logger.error(`local API ${req.method} ${req.path} failed: ${String((err as Error)?.message ?? err)}`, { event: 'local_api.error', method: req.method, path: req.path, err });
    sendJson(res, 500, { error: 'unknown_error', reason: 'internal error; see the booksync log' });
  });

  function deny(req: Request, reason: string): void {
    // A client that sent no credentials is asked for them; only a login that failed is counted.
    if (reason !== 'no_credentials') ctx.observer?.onLoginDenied();
    // Never the Authorization header, the cookie or the body: only what was asked and why it failed.
    logger.warn(`local API refused ${req.method} ${req.path}: ${reason.replace('_', ' ')}`, {
      event: 'local_api.denied',
      reason,
      method: req.method,
      path: req.path,
      remote: req.socket.remoteAddress,
    });
  }

  async function dispatch(req: Request, res: Response): Promise<void> {
    const segs = segments(req.path);
    if (segs.length === 0) {
      allow(req, ['GET']);
      sendJson(res, 200, { couchdb: 'Welcome', version: COUCHDB_VERSION, vendor: { name: 'booksync' }, uuid: ctx.uuid, features: [] });
      return;
    }
    const [first, ...rest] = segs;
    if (first.startsWith('_')) return server(req, res, first, rest);
    if (first !== dbName) throw noDatabase();
    if (rest.length === 0) return database(req, res);
    const [second, ...more] = rest;
    switch (second) {
      case '_all_docs':
        allow(req, ['GET', 'POST']);
        return allDocs(req, res, false);
      case '_design_docs':
        allow(req, ['GET', 'POST']);
        return allDocs(req, res, true);
      case '_bulk_docs':
        allow(req, ['POST']);
        return bulkDocs(req, res);
      case '_bulk_get':
        allow(req, ['POST']);
        return bulkGet(req, res);
      case '_changes':
        allow(req, ['GET', 'POST']);
        return changes(req, res);
      case '_revs_diff':
        allow(req, ['POST']);
        sendJson(res, 200, await db.revsDiff(bodyObject(req.body) as PouchDB.Core.RevisionDiffOptions));
        return;
      case '_ensure_full_commit':
        allow(req, ['POST']);
        sendJson(res, 201, { ok: true, instance_start_time: '0' });
        return;
      case '_local':
      case '_design':
        if (more.length !== 1 || more[0] === '') throw notFound();
        return document(req, res, `${second}/${more[0]}`);
      default:
        if (more.length === 0) return document(req, res, second);
        return attachment(req, res, second, more.join('/'));
    }
  }

  async function server(req: Request, res: Response, name: string, rest: string[]): Promise<void> {
    if (rest.length > 0) throw notFound();
    switch (name) {
      case '_session':
        allow(req, ['GET', 'DELETE']);
        if (req.method === 'DELETE') {
          sendJson(res, 200, { ok: true }, { 'Set-Cookie': auth.setCookie('') });
          return;
        }
        sendJson(res, 200, {
          ok: true,
          userCtx: { name: auth.username, roles: ['_admin'] },
          info: { authentication_handlers: ['cookie', 'default'], authenticated: res.locals.user?.via === 'cookie' ? 'cookie' : 'default' },
        });
        return;
      case '_all_dbs':
        allow(req, ['GET']);
        sendJson(res, 200, [dbName]);
        return;
      case '_up':
        allow(req, ['GET']);
        sendJson(res, 200, { status: 'ok' });
        return;
      case '_uuids': {
        allow(req, ['GET']);
        const count = new Params(req.query).int('count') ?? 1;
        if (count > 1000) throw badRequest('count parameter too large');
        sendJson(res, 200, { uuids: Array.from({ length: count }, () => randomUUID().replace(/-/g, '')) });
        return;
      }
      default:
        throw noDatabase();
    }
  }

  async function database(req: Request, res: Response): Promise<void> {
    allow(req, ['GET', 'PUT', 'POST', 'DELETE']);
    switch (req.method) {
      case 'PUT':
        throw new CouchError(412, 'file_exists', 'The database could not be created, the file already exists.');
      case 'DELETE':
        throw new CouchError(403, 'forbidden', 'the books cannot be deleted through the local API');
      case 'POST': {
        const doc = bodyObject(req.body, 'Document');
        const [result] = await writer.write([doc], true);
        sendWrite(res, result);
        return;
      }
      default: {
        const info = await db.info();
        sendJson(res, 200, {
          db_name: dbName,
          doc_count: info.doc_count,
          update_seq: info.update_seq,
          purge_seq: 0,
          compact_running: false,
          instance_start_time: '0',
          disk_format_version: 8,
          props: {},
          cluster: { q: 1, n: 1, w: 1, r: 1 },
        });
      }
    }
  }

  function sendWrite(res: Response, result: WriteResult): void {
    if ('ok' in result) {
      sendJson(res, 201, { ok: true, id: result.id, rev: result.rev }, { ETag: `"${result.rev}"` });
      return;
    }
    const { status, id: _id, rev: _rev, ...body } = result;
    sendJson(res, status, body);
  }

  async function document(req: Request, res: Response, id: string): Promise<void> {
    allow(req, ['GET', 'PUT', 'DELETE']);
    if (id.startsWith('_') && !id.startsWith('_local/') && !id.startsWith('_design/')) {
      throw new CouchError(400, 'illegal_docid', 'Only reserved document ids may start with underscore.');
    }
    const q = new Params(req.query);
    if (req.method === 'GET' || req.method === 'HEAD') return getDocument(res, id, q);
    const rev = q.str('rev') ?? ifMatch(req);
    if (req.method === 'DELETE') {
      const [result] = await writer.write([{ _id: id, ...(rev ? { _rev: rev } : {}), _deleted: true }], true);
      if ('ok' in result) sendJson(res, 200, { ok: true, id: result.id, rev: result.rev }, { ETag: `"${result.rev}"` });
      else sendWrite(res, result);
      return;
    }
    const doc: IncomingDoc = { ...bodyObject(req.body, 'Document') };
    if (doc._id !== undefined && doc._id !== id) throw badRequest('Document id must match the URL');
    doc._id = id;
    if (rev !== undefined) {
      if (doc._rev !== undefined && doc._rev !== rev) throw badRequest('Document rev from request body and query string have different values');
      doc._rev = rev;
    }
    const [result] = await writer.write([doc], q.bool('new_edits') ?? true);
    sendWrite(res, result);
  }

  async function getDocument(res: Response, id: string, q: Params): Promise<void> {
    const meta = q.bool('meta') === true;
    const opts: Record<string, unknown> = {};
    const rev = q.str('rev');
    if (rev !== undefined) opts.rev = rev;
    if (q.bool('revs')) opts.revs = true;
    if (q.bool('revs_info') || meta) opts.revs_info = true;
    if (q.bool('conflicts') || meta) opts.conflicts = true;
    if (q.bool('deleted_conflicts') || meta) opts.deleted_conflicts = true;
    if (q.bool('latest')) opts.latest = true;
    if (q.bool('attachments')) opts.attachments = true;
    if (q.bool('local_seq')) opts.local_seq = true;
    const openRevs = q.str('open_revs');
    if (openRevs !== undefined) {
      const list = openRevs === 'all' ? 'all' : q.json('open_revs');
      if (list !== 'all' && !(Array.isArray(list) && list.every((r) => typeof r === 'string'))) throw badRequest('open_revs must be "all" or a JSON array of revisions');
      opts.open_revs = list;
    }
    const doc = (await db.get(id, opts as PouchDB.Core.GetOptions)) as unknown;
    if (Array.isArray(doc)) {
      sendJson(res, 200, doc);
      return;
    }
    const rev0 = (doc as { _rev?: string })._rev;
    sendJson(res, 200, doc, rev0 ? { ETag: `"${rev0}"` } : {});
  }

  async function attachment(req: Request, res: Response, id: string, name: string): Promise<void> {
    allow(req, ['GET']);
    const rev = new Params(req.query).str('rev');
    const doc = (await db.get(id, rev ? { rev } : {})) as { _attachments?: Record<string, { content_type?: string; digest?: string }> };
    const meta = doc._attachments?.[name];
    if (!meta) throw notFound('Document is missing attachment');
    const data = (await db.getAttachment(id, name, rev ? { rev } : {})) as Buffer;
    res.status(200).set({ 'Content-Type': meta.content_type ?? 'application/octet-stream', ...(meta.digest ? { ETag: `"${meta.digest}"` } : {}) });
    res.send(data);
  }

  async function allDocs(req: Request, res: Response, designOnly: boolean): Promise<void> {
    const q = new Params(req.query);
    const body = req.method === 'POST' ? bodyObject(req.body) : {};
    const opts: Record<string, unknown> = {};
    const keys = body.keys ?? q.json('keys');
    if (keys !== undefined) {
      if (!Array.isArray(keys)) throw badRequest('`keys` must be an array');
      opts.keys = keys;
    }
    const key = q.json('key');
    if (key !== undefined) opts.key = key;
    const startkey = q.has('startkey') ? q.json('startkey') : q.json('start_key');
    const endkey = q.has('endkey') ? q.json('endkey') : q.json('end_key');
    const descending = q.bool('descending') ?? false;
    if (startkey !== undefined) opts.startkey = startkey;
    if (endkey !== undefined) opts.endkey = endkey;
    if (designOnly) {
      opts.startkey ??= descending ? '_design0' : '_design/';
      opts.endkey ??= descending ? '_design/' : '_design0';
      if (opts.keys === undefined) opts.inclusive_end = false;
    }
    if (descending) opts.descending = true;
    const inclusiveEnd = q.bool('inclusive_end');
    if (inclusiveEnd !== undefined) opts.inclusive_end = inclusiveEnd;
    for (const name of ['limit', 'skip'] as const) {
      const v = q.int(name);
      if (v !== undefined) opts[name] = v;
    }
    for (const name of ['include_docs', 'conflicts', 'update_seq', 'attachments'] as const) {
      if (q.bool(name)) opts[name] = true;
    }
    sendJson(res, 200, await db.allDocs(opts as PouchDB.Core.AllDocsOptions));
  }

  async function bulkDocs(req: Request, res: Response): Promise<void> {
    const body = bodyObject(req.body);
    if (!Array.isArray(body.docs)) throw badRequest('POST body must include `docs` parameter.');
    const docs = body.docs.map((d) => bodyObject(d, 'Each document'));
    if (body.new_edits !== undefined && typeof body.new_edits !== 'boolean') throw badRequest('`new_edits` parameter must be a boolean.');
    const newEdits = body.new_edits !== false;
    const results = await writer.write(docs, newEdits);
    const out = results.flatMap((r): Array<Record<string, unknown>> => {
      if ('ok' in r) return newEdits ? [{ ok: true, id: r.id, rev: r.rev }] : [];
      const { status: _status, ...entry } = r;
      return [entry];
    });
    sendJson(res, 201, out);
  }

  async function bulkGet(req: Request, res: Response): Promise<void> {
    const q = new Params(req.query);
    const body = bodyObject(req.body);
    if (!Array.isArray(body.docs)) throw badRequest('Missing JSON list of \'docs\'.');
    const docs = body.docs.map((d) => {
      const o = bodyObject(d, 'Each entry of docs');
      if (typeof o.id !== 'string') throw badRequest('Document id must be a string');
      return o as { id: string; rev?: string };
    });
    const out = await db.bulkGet({ docs, revs: q.bool('revs') ?? false, latest: q.bool('latest') ?? false, attachments: q.bool('attachments') ?? false } as PouchDB.Core.BulkGetOptions);
    const results = out.results.map((r, i) => ({
      id: r.id,
      docs: r.docs.map((d) => {
        if ('ok' in d) return d;
        const e = (d as { error: { name?: string; error?: unknown; message?: string; reason?: string } }).error;
        return {
          error: {
            id: r.id,
            rev: docs[i]?.rev ?? 'undefined',
            error: e.name ?? (typeof e.error === 'string' ? e.error : 'not_found'),
            reason: e.reason ?? e.message ?? 'missing',
          },
        };
      }),
    }));
    sendJson(res, 200, { results });
  }

  /**
   * `_changes` as normal, longpoll or continuous feed. A longpoll that has nothing to say yet sends
   * its headers at once (then heartbeats, then the body), as CouchDB does.
   * @link https://docs.couchdb.org/en/stable/api/database/changes.html
   */
  async function changes(req: Request, res: Response): Promise<void> {
    const q = new Params(req.query);
    const body = req.method === 'POST' ? bodyObject(req.body ?? {}) : {};
    const feed = q.str('feed') ?? 'normal';
    if (!['normal', 'longpoll', 'continuous'].includes(feed)) throw badRequest(`Supported feeds are normal, longpoll and continuous (got ${feed})`);
    const opts: Record<string, unknown> = { return_docs: true };
    for (const name of ['include_docs', 'conflicts', 'attachments', 'descending'] as const) {
      if (q.bool(name)) opts[name] = true;
    }
    const style = q.str('style');
    if (style !== undefined) {
      if (style !== 'all_docs' && style !== 'main_only') throw badRequest('style must be all_docs or main_only');
      opts.style = style;
    }
    const limit = q.int('limit');
    if (limit !== undefined) opts.limit = Math.max(limit, 1);
    const filter = q.str('filter');
    if (filter === '_doc_ids') {
      const ids = body.doc_ids ?? q.json('doc_ids');
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw badRequest('`doc_ids` filter parameter is not a list of doc ids.');
      opts.doc_ids = ids;
    } else if (filter === '_selector') {
      const selector = body.selector;
      if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) throw badRequest('Selector must be a JSON object');
      opts.selector = selector;
    } else if (filter === '_design') {
      opts.filter = (doc: { _id: string }) => doc._id.startsWith('_design/');
    } else if (filter !== undefined) {
      throw badRequest(`Unsupported filter ${JSON.stringify(filter)}: the books serve _doc_ids, _selector and _design only`);
    }
    let since = q.since();
    const query = async (from: number | 'now') => {
      const out = (await db.changes({ ...opts, since: from } as PouchDB.Core.ChangesOptions)) as PouchDB.Core.ChangesResponse<object>;
      return { results: out.results, last_seq: out.last_seq };
    };

    if (feed === 'normal') {
      sendJson(res, 200, await query(since));
      return;
    }

    const heartbeatParam = q.str('heartbeat');
    const heartbeat = heartbeatParam === undefined ? 0 : heartbeatParam === 'true' ? DEFAULT_CHANGES_TIMEOUT_MS : q.int('heartbeat') ?? 0;
    // A heartbeat keeps the feed open indefinitely (CouchDB: it "overrides any timeout").
    const timeout = heartbeat > 0 ? 0 : q.int('timeout') ?? DEFAULT_CHANGES_TIMEOUT_MS;
    const waiter = hub.subscribe();
    let beat: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    /** (Re)starts the wait for changes; a feed that stays quiet this long ends. */
    const arm = () => {
      clearTimeout(deadline);
      if (timeout > 0) deadline = setTimeout(() => waiter.wake('timeout'), timeout);
    };
    const begin = () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'must-revalidate' });
      res.flushHeaders();
      if (heartbeat > 0) beat = setInterval(() => res.write('\n'), heartbeat);
    };
    res.on('close', () => waiter.wake('gone'));
    try {
      if (feed === 'longpoll') {
        let page = await query(since);
        if (since === 'now') since = page.last_seq as number;
        if (page.results.length > 0) {
          sendJson(res, 200, page);
          return;
        }
        begin();
        arm();
        for (;;) {
          const reason: WakeReason = await waiter.next();
          if (reason === 'gone') return;
          if (reason !== 'closed') page = await query(since);
          if (page.results.length > 0 || reason !== 'change') {
            res.end(`${JSON.stringify(page)}\n`);
            return;
          }
        }
      }
      // continuous: one line per change until the limit, a quiet timeout, or stop.
      begin();
      arm();
      let left = limit === undefined ? Infinity : Math.max(limit, 1);
      for (;;) {
        const page = await query(since);
        since = page.last_seq as number;
        for (const change of page.results.slice(0, left)) res.write(`${JSON.stringify(change)}\n`);
        left -= page.results.length;
        if (left <= 0) break;
        if (page.results.length > 0) arm();
        const reason = await waiter.next();
        if (reason === 'gone') return;
        if (reason !== 'change') break;
      }
      res.end(`${JSON.stringify({ last_seq: since, pending: 0 })}\n`);
    } finally {
      clearInterval(beat);
      clearTimeout(deadline);
      waiter.done();
    }
  }

  return app;
}

function isForm(req: Request): boolean {
  return String(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/** The `If-Match` revision CouchDB accepts instead of `?rev=`. */
function ifMatch(req: Request): string | undefined {
  const v = req.headers['if-match'];
  return typeof v === 'string' && v !== '' ? v.replace(/^"(.*)"$/, '$1') : undefined;
}

/** body-parser's failures (`type` + `status`) in CouchDB's words. */
function bodyParserError(err: unknown): CouchError | undefined {
  const e = err as { type?: unknown; status?: unknown } | null;
  if (typeof e?.type !== 'string' || typeof e.status !== 'number') return undefined;
  switch (e.type) {
    case 'entity.too.large':
      return new CouchError(413, 'too_large', 'the request entity is too large', { cause: err });
    case 'entity.parse.failed':
      return new CouchError(400, 'bad_request', 'invalid UTF-8 JSON', { cause: err });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new CouchError(415, 'bad_content_type', 'Content-Type must be application/json (UTF-8)', { cause: err });
    default:
      return new CouchError(e.status >= 400 && e.status < 500 ? e.status : 400, 'bad_request', 'cannot read the request body', { cause: err });
  }
}

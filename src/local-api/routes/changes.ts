import type { Request, Response } from 'express';
import type { WakeReason } from '../changes-hub';
import { badRequest } from '../errors';
import { sendJson } from '../http';
import { Params } from '../params';
import type { Route, RouteContext } from '../router';
import { docId, jsonObject } from '../validate';

/** CouchDB's longpoll / continuous timeout when the client gives none (`[chttpd] changes_timeout`). */
const DEFAULT_CHANGES_TIMEOUT_MS = 60_000;
/** Longest timeout or heartbeat interval taken as given (Node timers overflow past 2^31-1 ms). */
const MAX_WAIT_MS = 24 * 3600_000;

interface FeedOptions {
  feed: 'normal' | 'longpoll' | 'continuous';
  since: number | 'now';
  limit: number | undefined;
  heartbeat: number;
  timeout: number;
  /** What goes to PouchDB's `changes()` besides `since`. */
  query: Record<string, unknown>;
}

/** Every `_changes` parameter, checked; a bad one is a 400 before the feed starts. */
function feedOptions(req: Request): FeedOptions {
  const q = new Params(req.query);
  const body =
    req.method === 'POST' ? jsonObject(req.body === undefined ? {} : req.body, 'Request body') : {};
  const feed = q.str('feed') ?? 'normal';
  if (feed !== 'normal' && feed !== 'longpoll' && feed !== 'continuous')
    throw badRequest(`Supported feeds are normal, longpoll and continuous (got ${feed})`);
  const query: Record<string, unknown> = { return_docs: true };
  for (const name of ['include_docs', 'conflicts', 'attachments', 'descending'] as const) {
    if (q.bool(name)) query[name] = true;
  }
  const style = q.str('style');
  if (style !== undefined) {
    if (style !== 'all_docs' && style !== 'main_only')
      throw badRequest('style must be all_docs or main_only');
    query.style = style;
  }
  const limit = q.int('limit');
  if (limit !== undefined) query.limit = Math.max(limit, 1);
  const filter = q.str('filter');
  if (filter === '_doc_ids') {
    const ids = body.doc_ids ?? q.json('doc_ids');
    if (!Array.isArray(ids))
      throw badRequest('`doc_ids` filter parameter is not a list of doc ids.');
    query.doc_ids = ids.map((id, i) => docId(id, `doc_ids[${i}]`));
  } else if (filter === '_selector') {
    query.selector = selector(body.selector);
  } else if (filter === '_design') {
    query.filter = (doc: { _id: string }) => doc._id.startsWith('_design/');
  } else if (filter !== undefined) {
    throw badRequest(
      `Unsupported filter ${JSON.stringify(filter)}: the books serve _doc_ids, _selector and _design only`,
    );
  }
  const heartbeatParam = q.str('heartbeat');
  const heartbeat =
    heartbeatParam === undefined
      ? 0
      : heartbeatParam === 'true'
        ? DEFAULT_CHANGES_TIMEOUT_MS
        : Math.min(q.int('heartbeat') ?? 0, MAX_WAIT_MS);
  // A heartbeat keeps the feed open indefinitely (CouchDB: it "overrides any timeout").
  const timeout =
    heartbeat > 0 ? 0 : Math.min(q.int('timeout') ?? DEFAULT_CHANGES_TIMEOUT_MS, MAX_WAIT_MS);
  return { feed, since: q.since(), limit, heartbeat, timeout, query };
}

/**
 * A `_selector` filter: a JSON object. PouchDB checks its operators; `$regex` patterns are
 * compiled here so a bad one is a 400 and not a failure inside the feed.
 */
function selector(value: unknown): Record<string, unknown> {
  const root = jsonObject(value, 'Selector');
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    for (const [key, child] of Object.entries(node)) {
      if (key === '$regex') {
        if (typeof child !== 'string') throw badRequest('$regex must be a string');
        try {
          new RegExp(child);
        } catch {
          throw badRequest(`$regex ${JSON.stringify(child)} is not a valid regular expression`);
        }
      }
      pending.push(child);
    }
  }
  return root;
}

/**
 * `_changes` as normal, longpoll or continuous feed. A longpoll that has nothing to say yet sends
 * its headers at once (then heartbeats, then the body), as CouchDB does.
 * @link https://docs.couchdb.org/en/stable/api/database/changes.html
 */
async function changes(ctx: RouteContext, req: Request, res: Response): Promise<void> {
  const options = feedOptions(req);
  const { feed, limit, heartbeat, timeout, query: opts } = options;
  let since = options.since;
  const query = async (from: number | 'now') => {
    const out = (await ctx.db.changes({
      ...opts,
      since: from,
    })) as PouchDB.Core.ChangesResponse<object>;
    return { results: out.results, last_seq: out.last_seq };
  };
  if (feed === 'normal') {
    sendJson(res, 200, await query(since));
    return;
  }
  const waiter = ctx.hub.subscribe();
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

export const changesRoutes: Route[] = [
  { path: '/:db/_changes', methods: ['GET', 'POST'], handler: changes },
];

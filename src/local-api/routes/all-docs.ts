import type { Request, Response } from 'express';
import { badRequest } from '../errors';
import { sendJson } from '../http';
import { Params } from '../params';
import type { Route, RouteContext } from '../router';
import { jsonObject } from '../validate';

/** Most keys one `_all_docs` request may name. */
const MAX_KEYS = 10_000;

/** A key parameter of `_all_docs`: document ids are strings, so a key is a JSON string. */
function stringKey(q: Params, name: string): string | undefined {
  const v = q.json(name);
  if (v !== undefined && typeof v !== 'string')
    throw badRequest(`${name} must be a JSON string (a document id)`);
  return v;
}

/**
 * `_all_docs` and `_design_docs`, GET with query parameters or POST with `keys`.
 * @link https://docs.couchdb.org/en/stable/api/database/bulk-api.html#db-all-docs
 */
async function allDocs(
  ctx: RouteContext,
  req: Request,
  res: Response,
  designOnly: boolean,
): Promise<void> {
  const q = new Params(req.query);
  const body =
    req.method === 'POST' ? jsonObject(req.body === undefined ? {} : req.body, 'Request body') : {};
  const opts: Record<string, unknown> = {};
  const keys = body.keys ?? q.json('keys');
  if (keys !== undefined) {
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))
      throw badRequest('`keys` must be an array of document ids');
    if (keys.length > MAX_KEYS) throw badRequest(`\`keys\` names more than ${MAX_KEYS} documents`);
    opts.keys = keys;
  }
  const key = stringKey(q, 'key');
  const startkey = q.has('startkey') ? stringKey(q, 'startkey') : stringKey(q, 'start_key');
  const endkey = q.has('endkey') ? stringKey(q, 'endkey') : stringKey(q, 'end_key');
  if (keys !== undefined && (key !== undefined || startkey !== undefined || endkey !== undefined)) {
    throw badRequest('`keys` is incompatible with `key`, `start_key` and `end_key`');
  }
  if (key !== undefined) opts.key = key;
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
  sendJson(res, 200, await ctx.db.allDocs(opts));
}

export const allDocsRoutes: Route[] = [
  {
    path: '/:db/_all_docs',
    methods: ['GET', 'POST'],
    handler: (ctx, req, res) => allDocs(ctx, req, res, false),
  },
  {
    path: '/:db/_design_docs',
    methods: ['GET', 'POST'],
    handler: (ctx, req, res) => allDocs(ctx, req, res, true),
  },
];

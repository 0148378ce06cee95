import type { Request, Response } from 'express';
import { CouchError, notFound } from '../errors';
import { revsInTree } from '../latest';
import { ifMatch, sendJson, sendWrite } from '../http';
import { Params } from '../params';
import type { Route, RouteContext } from '../router';
import { checkDoc, docId, putBody, revList, revParam } from '../validate';

/**
 * One document by id (`/books/<id>`, `/books/_design/<name>`): read with CouchDB's options,
 * write through the ledger, delete. Design documents can be read (there are none) but not written.
 * @link https://docs.couchdb.org/en/stable/api/document/common.html
 */
async function document(ctx: RouteContext, req: Request, res: Response, id: string): Promise<void> {
  docId(id, 'Document id');
  if (id.startsWith('_') && !id.startsWith('_design/')) {
    throw new CouchError(
      400,
      'illegal_docid',
      'Only reserved document ids may start with underscore.',
    );
  }
  const q = new Params(req.query);
  if (req.method === 'GET' || req.method === 'HEAD') return getDocument(ctx, res, id, q);
  const rev = revParam(q.str('rev') ?? ifMatch(req), 'rev');
  if (req.method === 'DELETE') {
    const [result] = await ctx.writer.write(
      [{ _id: id, ...(rev ? { _rev: rev } : {}), _deleted: true }],
      true,
    );
    sendWrite(res, result, 200);
    return;
  }
  const newEdits = q.bool('new_edits') ?? true;
  const body = putBody(req.body, id, rev);
  const [result] = await ctx.writer.write(
    [checkDoc(body, { newEdits, where: 'Document' })],
    newEdits,
  );
  sendWrite(res, result);
}

async function getDocument(ctx: RouteContext, res: Response, id: string, q: Params): Promise<void> {
  const meta = q.bool('meta') === true;
  const opts: Record<string, unknown> = {};
  const rev = revParam(q.str('rev'), 'rev');
  if (rev !== undefined) opts.rev = rev;
  if (q.bool('revs')) opts.revs = true;
  if (q.bool('revs_info') || meta) opts.revs_info = true;
  if (q.bool('conflicts') || meta) opts.conflicts = true;
  if (q.bool('deleted_conflicts') || meta) opts.deleted_conflicts = true;
  if (q.bool('latest')) opts.latest = true;
  if (q.bool('attachments')) opts.attachments = true;
  if (q.bool('local_seq')) opts.local_seq = true;
  const openRevs = q.str('open_revs');
  if (openRevs !== undefined)
    opts.open_revs = openRevs === 'all' ? 'all' : revList(q.json('open_revs'), 'open_revs');
  let missing: string[] = [];
  if (opts.latest && (rev !== undefined || Array.isArray(opts.open_revs))) {
    const asked = rev !== undefined ? [rev] : (opts.open_revs as string[]);
    const present = await revsInTree(ctx.db, id, asked);
    missing = asked.filter((r) => !present.has(r));
    if (rev !== undefined && missing.length > 0) throw notFound('missing');
    if (rev === undefined) opts.open_revs = [...present];
  }
  const doc =
    Array.isArray(opts.open_revs) && opts.open_revs.length === 0 ? [] : await ctx.db.get(id, opts);
  if (Array.isArray(doc)) {
    sendJson(res, 200, [...(doc as unknown[]), ...missing.map((r) => ({ missing: r }))]);
    return;
  }
  const rev0 = (doc as { _rev?: string })._rev;
  sendJson(res, 200, doc, rev0 ? { ETag: `"${rev0}"` } : {});
}

export const documentRoutes: Route[] = [
  {
    path: '/:db/_design/:name',
    methods: ['GET', 'PUT', 'DELETE'],
    handler: (ctx, req, res, p) => document(ctx, req, res, `_design/${p.name}`),
  },
  {
    path: '/:db/:id',
    methods: ['GET', 'PUT', 'DELETE'],
    handler: (ctx, req, res, p) => document(ctx, req, res, p.id),
  },
];

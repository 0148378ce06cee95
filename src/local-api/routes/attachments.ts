import { notFound } from '../errors';
import { Params } from '../params';
import type { Route } from '../router';
import { docId, revParam } from '../validate';

/**
 * One attachment's bytes (`GET /books/<id>/<name>`); attachments are written inline with their
 * document (`_attachments` with base64 `data`).
 * @link https://docs.couchdb.org/en/stable/api/document/attachments.html
 */
export const attachmentRoutes: Route[] = [
  {
    path: '/:db/:id/*name',
    methods: ['GET'],
    handler: async (ctx, req, res, p) => {
      const id = docId(p.id, 'Document id');
      if (id.startsWith('_')) throw notFound();
      const rev = revParam(new Params(req.query).str('rev'), 'rev');
      const opts = rev ? { rev } : {};
      const doc = (await ctx.db.get(id, opts)) as {
        _attachments?: Record<string, { content_type?: string; digest?: string }>;
      };
      const meta = Object.hasOwn(doc._attachments ?? {}, p.name)
        ? doc._attachments?.[p.name]
        : undefined;
      if (!meta) throw notFound('Document is missing attachment');
      const data = (await ctx.db.getAttachment(id, p.name, opts)) as Buffer;
      res.status(200).set({
        'Content-Type': meta.content_type ?? 'application/octet-stream',
        ...(meta.digest ? { ETag: `"${meta.digest}"` } : {}),
      });
      res.send(data);
    },
  },
];

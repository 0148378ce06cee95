import type { Request, Response } from 'express';
import type { WriteResult } from './writes';
import type { CouchError } from './errors';

/** A JSON answer the way CouchDB sends it (one line, `must-revalidate`). */
export function sendJson(
  res: Response,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res
    .status(status)
    .set({ 'Content-Type': 'application/json', 'Cache-Control': 'must-revalidate', ...headers });
  res.send(`${JSON.stringify(body)}\n`);
}

/** A CouchError as its status and `{error, reason}` body (with `Allow` for a 405). */
export function sendError(
  res: Response,
  err: CouchError,
  headers: Record<string, string> = {},
): void {
  const allow = (err as CouchError & { allow?: string[] }).allow;
  sendJson(res, err.status, err.body(), allow ? { Allow: allow.join(','), ...headers } : headers);
}

/** The `If-Match` revision CouchDB accepts instead of `?rev=`. */
export function ifMatch(req: Request): string | undefined {
  const v = req.headers['if-match'];
  return typeof v === 'string' && v !== '' ? v.replace(/^"(.*)"$/, '$1') : undefined;
}

/** A single document write's answer: 201 with the new rev, or the failure's own status. */
export function sendWrite(res: Response, result: WriteResult, okStatus = 201): void {
  if ('ok' in result) {
    sendJson(
      res,
      okStatus,
      { ok: true, id: result.id, rev: result.rev },
      { ETag: `"${result.rev}"` },
    );
    return;
  }
  const { status, id: _id, rev: _rev, ...body } = result;
  sendJson(res, status, body);
}

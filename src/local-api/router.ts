import type { Request, Response } from 'express';
import type { Logger } from '../shared/logger';
import type { Authenticator } from './auth';
import type { ChangesHub } from './changes-hub';
import { badRequest, methodNotAllowed, noDatabase, notFound } from './errors';
import type { VisibleBooks } from './visible-books';
import type { LedgerWriter } from './writes';

/** What every route handler may use. */
export interface RouteContext {
  /** The books as clients may read them (no lines of an import that has not committed). */
  db: VisibleBooks;
  /** The one database name clients see. */
  dbName: string;
  /** Server uuid of the welcome answer (PouchDB's replication ids build on it). */
  uuid: string;
  auth: Authenticator;
  writer: LedgerWriter;
  hub: ChangesHub;
  logger: Logger;
}

/** Path parameters by name (`:id`, `*name` joined with `/`), decoded. */
export type RouteParams = Readonly<Record<string, string>>;

export type RouteHandler = (
  ctx: RouteContext,
  req: Request,
  res: Response,
  params: RouteParams,
) => Promise<void>;

/**
 * One entry of the route table. `path` segments are literals, `:param` (one segment), or a final
 * `*param` (one or more segments). `:db` matches only the books' database name.
 */
export interface Route {
  path: string;
  methods: readonly string[];
  handler: RouteHandler;
}

/** The raw path split into decoded segments (`/books/a%2Fb/` → `['books', 'a/b']`). */
export function segments(rawPath: string): string[] {
  const parts = rawPath.split('/').slice(1);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    throw badRequest('Invalid URL encoding');
  }
}

function match(
  pattern: string[],
  segs: string[],
  dbName: string,
): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith('*')) {
      if (segs.length <= i) return undefined;
      params[p.slice(1)] = segs.slice(i).join('/');
      return params;
    }
    const s = segs[i];
    if (s === undefined) return undefined;
    if (p === ':db') {
      if (s !== dbName) return undefined;
    } else if (p.startsWith(':')) {
      params[p.slice(1)] = s;
    } else if (p !== s) {
      return undefined;
    }
  }
  return segs.length === pattern.length ? params : undefined;
}

/**
 * Finds the route for a request: the first route whose path matches decides, and another method
 * than its own is a 405 with `Allow`. A path no route matches is a 404 (`Database does not
 * exist.` when it names another database).
 */
export function resolve(
  routes: readonly Route[],
  req: Request,
  dbName: string,
): { route: Route; params: RouteParams } {
  const segs = segments(req.path);
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  for (const route of routes) {
    const params = match(
      route.path.split('/').filter((p) => p !== ''),
      segs,
      dbName,
    );
    if (params === undefined) continue;
    if (route.methods.includes(method)) return { route, params };
    throw methodNotAllowed(
      route.methods.includes('GET') ? [...route.methods, 'HEAD'] : [...route.methods],
    );
  }
  if (segs.length > 0 && segs[0] !== dbName) throw noDatabase();
  throw notFound();
}

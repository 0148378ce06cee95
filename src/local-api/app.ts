import express, { type NextFunction, type Request, type Response } from 'express';
import { bodyReader } from './body';
import { toCouchError } from './errors';
import { sendError, sendJson } from './http';
import { resolve, type RouteContext } from './router';
import { COUCHDB_VERSION, ROUTES, authGate, loginHandler, type LoginContext } from './routes';

export interface AppContext extends RouteContext {
  login: LoginContext;
  maxBodyBytes: number;
  /** True once the listener is stopping: responses close their connections. */
  stopping(): boolean;
  /** Called after every response has been sent or abandoned. */
  responseDone(): void;
}

/**
 * The Express app of one listener: request log and observer, body reading, the login route, the
 * authentication gate, then the route table. Every failure ends in one error handler: a
 * CouchError (or a PouchDB 4xx) is answered as CouchDB would; anything else is an internal fault,
 * logged once at error level with its stack and answered 500 without details.
 */
export function createApp(ctx: AppContext): express.Express {
  const { logger } = ctx;
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
      ctx.login.observer?.onResponse(res.statusCode);
      ctx.responseDone();
    });
    next();
  });

  app.use(bodyReader(ctx.maxBodyBytes));
  app.post('/_session', loginHandler(ctx.login));
  app.use(authGate(ctx.login));
  app.use((req, res, next) => {
    try {
      const { route, params } = resolve(ROUTES, req, ctx.dbName);
      route.handler(ctx, req, res, params).catch(next);
    } catch (err) {
      next(err);
    }
  });

  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- Express tells an error handler by its four parameters
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const couch = toCouchError(err);
    if (couch && !res.headersSent) {
      sendError(res, couch);
      return;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    const after = res.headersSent ? ' after the answer began' : '';
    logger.error(`local API ${req.method} ${req.path} failed${after}: ${e.message}`, {
      event: 'local_api.error',
      method: req.method,
      path: req.path,
      stack: e.stack,
    });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, 500, { error: 'unknown_error', reason: 'internal error; see the booksync log' });
  });

  return app;
}

import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../shared/logger';
import type { AuthResult, Authenticator } from '../auth';
import { CouchError, badRequest } from '../errors';
import { sendError, sendJson } from '../http';
import type { Route } from '../router';
import type { LoginThrottle } from '../throttle';
import { jsonObject } from '../validate';

/** Counts what an ops part wants to know about the API; the API only calls it. */
export interface LocalApiObserver {
  /** Every answer, once it has been sent (or the client went away). */
  onResponse(statusCode: number): void;
  /** Every refused login: wrong credentials, or refused while throttled. */
  onLoginDenied(): void;
}

export interface LoginContext {
  auth: Authenticator;
  throttle: LoginThrottle;
  logger: Logger;
  observer: LocalApiObserver | undefined;
  /** Holds a failed login's answer back (ms); tests record instead of waiting. */
  delay(ms: number): Promise<void>;
}

const WRONG = () => new CouchError(401, 'unauthorized', 'Name or password is incorrect.');

function remoteOf(req: Request): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** The 429 a throttled login gets, whoever it claims to be and whatever its password. */
function sendThrottled(ctx: LoginContext, res: Response, retryAfterSeconds: number): void {
  ctx.observer?.onLoginDenied();
  sendError(
    res,
    new CouchError(429, 'too_many_requests', 'Too many failed logins; try again later.'),
    { 'Retry-After': String(retryAfterSeconds) },
  );
}

/** Records a failed login and answers 401 after the throttle's delay. */
async function refuse(
  ctx: LoginContext,
  req: Request,
  res: Response,
  name: string | undefined,
): Promise<void> {
  const wait = ctx.throttle.failed(remoteOf(req), name);
  ctx.observer?.onLoginDenied();
  await ctx.delay(wait);
  sendError(res, WRONG());
}

/**
 * `POST /_session` (cookie login), the one route before the authentication gate. The body is a
 * form or JSON with `name` (or `username`) and `password`.
 * @link https://docs.couchdb.org/en/stable/api/server/authn.html#post--_session
 */
export function loginHandler(ctx: LoginContext) {
  return (req: Request, res: Response, next: NextFunction): void => {
    (async () => {
      const body = jsonObject(req.body === undefined ? {} : req.body, 'Request body');
      const nameField = body.name ?? body.username ?? '';
      const password = body.password ?? '';
      if (typeof nameField !== 'string' || typeof password !== 'string')
        throw badRequest('name and password must be strings');
      const admission = ctx.throttle.admit(remoteOf(req), nameField);
      if (!admission.ok) return sendThrottled(ctx, res, admission.retryAfterSeconds);
      if (!ctx.auth.verify(nameField, password)) return refuse(ctx, req, res, nameField);
      ctx.throttle.succeeded(remoteOf(req), nameField);
      sendJson(
        res,
        200,
        { ok: true, name: ctx.auth.username, roles: ['_admin'] },
        { 'Set-Cookie': ctx.auth.setCookie(ctx.auth.newSession()) },
      );
    })().catch(next);
  };
}

/**
 * Lets a request in with valid Basic credentials or a valid session cookie. Basic attempts go
 * through the login throttle; a request with no credentials is invited to authenticate, a wrong
 * one is not (no prompt), and an expired cookie is not a failed login.
 */
export function authGate(ctx: LoginContext) {
  return (req: Request, res: Response, next: NextFunction): void => {
    (async () => {
      const header = req.headers.authorization;
      if (typeof header === 'string' && header.trim() !== '') {
        const admission = ctx.throttle.admit(remoteOf(req), ctx.auth.claimedName(req.headers));
        if (!admission.ok) return sendThrottled(ctx, res, admission.retryAfterSeconds);
      }
      const result = ctx.auth.check(req.headers);
      if (result.ok) {
        if (result.via === 'basic') ctx.throttle.succeeded(remoteOf(req), result.name);
        res.locals.user = result;
        if (result.renew) res.setHeader('Set-Cookie', ctx.auth.setCookie(result.renew));
        next();
        return;
      }
      if (result.reason === 'bad_credentials') return refuse(ctx, req, res, result.name);
      ctx.logger.debug(
        `local API refused ${req.method} ${req.path}: ${result.reason.replace('_', ' ')}`,
        {
          event: 'local_api.denied',
          reason: result.reason,
          method: req.method,
          path: req.path,
          remote: remoteOf(req),
        },
      );
      if (result.reason === 'no_credentials')
        sendError(res, new CouchError(401, 'unauthorized', 'Authentication required.'), {
          'WWW-Authenticate': 'Basic realm="booksync"',
        });
      else sendError(res, WRONG());
    })().catch(next);
  };
}

/**
 * `GET /_session` (who am I) and `DELETE /_session` (log out) for an authenticated client.
 * @link https://docs.couchdb.org/en/stable/api/server/authn.html#get--_session
 */
export const sessionRoutes: Route[] = [
  {
    path: '/_session',
    methods: ['GET', 'DELETE'],
    handler: (ctx, req, res) => {
      if (req.method === 'DELETE') {
        sendJson(res, 200, { ok: true }, { 'Set-Cookie': ctx.auth.setCookie('') });
        return Promise.resolve();
      }
      sendJson(res, 200, {
        ok: true,
        userCtx: { name: ctx.auth.username, roles: ['_admin'] },
        info: {
          authentication_handlers: ['cookie', 'default'],
          authenticated:
            (res.locals.user as Extract<AuthResult, { ok: true }> | undefined)?.via === 'cookie'
              ? 'cookie'
              : 'default',
        },
      });
      return Promise.resolve();
    },
  },
];

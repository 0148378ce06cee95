import { parse as parseQuery } from 'node:querystring';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { CouchError, badRequest } from './errors';

/**
 * How deep a request body's JSON may nest. The books' own documents nest four levels (a move's
 * lines, a partner's bank accounts), replication bodies five; a body nested thousands deep would
 * overflow the stack of the code that copies and hashes documents.
 */
export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The deepest nesting of arrays and objects in JSON `text`, counted without recursion and
 * stopping as soon as `limit` is passed (brackets inside strings do not count).
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** A request body as JSON: UTF-8, nested at most `MAX_JSON_DEPTH` deep; `undefined` when empty. */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw badRequest('invalid UTF-8 JSON');
  }
  if (text.trim() === '') return undefined;
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH))
    throw badRequest(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('invalid UTF-8 JSON');
  }
}

function isForm(req: Request): boolean {
  return String(req.headers['content-type'] ?? '')
    .toLowerCase()
    .startsWith('application/x-www-form-urlencoded');
}

/**
 * Reads every request body as raw bytes (at most `maxBytes`, else 413) and parses it. Like
 * CouchDB, bodies are JSON whatever Content-Type says (`curl -d` sends a form type); only
 * `POST /_session` (`formOnSession`) reads a form body as a form.
 */
export function bodyReader(maxBytes: number) {
  const raw = express.raw({ limit: maxBytes, type: () => true });
  return (req: Request, res: Response, next: NextFunction): void => {
    raw(req, res, (err?: unknown) => {
      if (err) {
        next(bodyParserError(err));
        return;
      }
      try {
        const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        req.body = req.path === '/_session' && isForm(req) ? formBody(bytes) : parseJsonBody(bytes);
        next();
      } catch (e) {
        next(e);
      }
    });
  };
}

function formBody(raw: Buffer): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw badRequest('invalid UTF-8 form body');
  }
  return { ...parseQuery(text) };
}

/** body-parser's failures (`type` + `status`) in CouchDB's words. */
function bodyParserError(err: unknown): unknown {
  const e = err as { type?: unknown; status?: unknown } | null;
  if (typeof e?.type !== 'string' || typeof e.status !== 'number') return err;
  switch (e.type) {
    case 'entity.too.large':
      return new CouchError(413, 'too_large', 'the request entity is too large', { cause: err });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new CouchError(
        415,
        'bad_content_type',
        'Content-Type must be application/json (UTF-8)',
        { cause: err },
      );
    default:
      return new CouchError(
        e.status >= 400 && e.status < 500 ? e.status : 400,
        'bad_request',
        'cannot read the request body',
        { cause: err },
      );
  }
}

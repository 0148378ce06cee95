import type { Request } from 'express';
import { badRequest } from './errors';

/**
 * Query-string readers with CouchDB's conventions: booleans are `true` / `false`, keys are JSON
 * (`startkey="account:"`), a repeated parameter counts once (the first). A value that does not
 * parse is a 400 `bad_request`, never silently ignored.
 */
export class Params {
  constructor(private readonly query: Request['query']) {}

  has(name: string): boolean {
    return this.str(name) !== undefined;
  }

  str(name: string): string | undefined {
    const v = this.query[name];
    if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
    return typeof v === 'string' ? v : undefined;
  }

  bool(name: string): boolean | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw badRequest(`Invalid boolean parameter: ${name}`);
  }

  /** A non-negative integer. */
  int(name: string): number | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
      throw badRequest(`Invalid value for integer parameter ${name}: ${JSON.stringify(v)}`);
    return Number(v);
  }

  json(name: string): unknown {
    const v = this.str(name);
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v);
    } catch {
      throw badRequest(`Invalid JSON in query parameter ${name}`);
    }
  }

  /** A `_changes` sequence: a number, `now`, or CouchDB's `<n>-<opaque>` (its number is used). */
  since(name = 'since'): number | 'now' {
    const v = this.str(name);
    if (v === undefined || v === '') return 0;
    if (v === 'now') return 'now';
    const m = /^"?(\d+)/.exec(v);
    if (!m || !Number.isSafeInteger(Number(m[1])))
      throw badRequest(`Invalid ${name} sequence: ${JSON.stringify(v)}`);
    return Number(m[1]);
  }
}

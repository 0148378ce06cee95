import { canonicalJson, sameContent } from '../shared/canonical-json';
import type { Content } from './projection';

export function live<T extends { _deleted?: boolean }>(doc: T | null | undefined): T | null {
  return doc && !doc._deleted ? doc : null;
}

/**
 * The `_rev` of a write over the cloud's current revision `r`: none over a tombstone. CouchDB 3
 * answers 409 to a write that names a deleted revision, and a write without `_rev` continues the
 * deleted branch (PouchDB accepts both).
 */
export function revOver(r: { _rev?: string; _deleted?: boolean } | null | undefined): {
  _rev?: string;
} {
  return r && !r._deleted && r._rev ? { _rev: r._rev } : {};
}

export function revGeneration(rev: string | undefined): number {
  if (!rev) return 0;
  const n = parseInt(rev, 10);
  return Number.isFinite(n) ? n : 0;
}

/** A document body without store metadata, for "is there anything to write" checks. */
export function bodyOf(doc: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!doc) return null;
  const { _rev: _r, _conflicts: _c, _revisions: _v, ...rest } = doc;
  return rest;
}

export function isPostedMove(c: Content | null | undefined): boolean {
  return !!c && c.type === 'move' && c.state === 'posted';
}

/** The fields of `side` the result does not keep (all of it when the result is a deletion). */
export function overwrittenBy(side: Content | null, result: Content | null): unknown {
  if (sameContent(side, result)) return undefined;
  if (side === null) return null;
  if (result === null) return side;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(side))
    if (canonicalJson(v) !== canonicalJson(result[k])) out[k] = v;
  return out;
}

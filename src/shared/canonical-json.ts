import { sha256Hex } from './hash';

/**
 * Canonical JSON: object keys sorted, `undefined` members dropped (as JSON.stringify would drop
 * them, but *before* comparing), no whitespace. Two values with the same canonical form are the
 * same document content. Comparing canonical forms, never revision ids, is what keeps
 * projections free of RxDB #8212-style false conflicts (research/replication.md §3).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalise(value));
}

/** A deep copy with sorted keys and no `undefined` members. */
export function normalise(value: unknown): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return null;
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : normalise(v)));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value as Record<string, unknown>).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = normalise(v);
  }
  return out;
}

/** sha256 of the canonical JSON, hex. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** Structural equality by canonical form. */
export function sameContent(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

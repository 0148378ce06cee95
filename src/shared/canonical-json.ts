import { sha256Hex } from './hash';

/**
 * Canonical JSON: object keys sorted, `undefined` members dropped (as JSON.stringify would drop
 * them, but *before* comparing), no whitespace. Two values with the same canonical form are the
 * same document content. Comparing canonical forms, never revision ids, is what keeps
 * projections free of RxDB #8212-style false conflicts (docs/ARCHITECTURE.md, "A sync cycle").
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
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++)
      out[i] = value[i] === undefined ? null : normalise(value[i]);
    return out;
  }
  const keys = sortKeys(Object.keys(value));
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    // An own `__proto__` member (JSON.parse makes one) is data: an assignment would set the prototype.
    if (key === '__proto__')
      Object.defineProperty(out, key, {
        value: normalise(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else out[key] = normalise(v);
  }
  return out;
}

/**
 * Sorts in place, in the order `Array#sort` gives strings (UTF-16 code units). Documents have tens
 * of keys: an insertion sort allocates nothing, where the built-in sort copies every array it sorts
 * (the garbage it saves on a large pull: BENCHMARKS.md, Sync).
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 64) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i];
    let j = i - 1;
    while (j >= 0 && keys[j] > key) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/** sha256 of the canonical JSON, hex. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** Structural equality by canonical form. */
export function sameContent(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

import { canonicalJson, contentHash, sameContent } from '../../shared/canonical-json';
import type { Content } from '../projection';

/**
 * What a strategy sees: the shared content (every excluded field removed) of both sides and of the
 * last agreed base. `null` = deleted (or absent). `base` is null when the two sides never agreed
 * (a document created on both sides independently).
 */
export interface ConflictInput {
  id: string;
  local: Content | null;
  remote: Content | null;
  base: Content | null;
}

/** `taken`: which side the result is (`merged` = built from both). `result` null = deleted. */
export type Resolution =
  | { kind: 'resolved'; result: Content | null; taken: 'local' | 'remote' | 'merged' }
  | { kind: 'manual' };

/**
 * A conflict strategy is a named value (RxDB `conflict-handling.d.ts`): `isEqual` says whether two
 * versions are the same content (then there is no conflict at all), `resolve` picks the result.
 * Pure and deterministic: two sites resolving the same conflict reach the same result.
 */
export interface ConflictStrategy {
  readonly name: string;
  isEqual(a: Content | null, b: Content | null): boolean;
  resolve(input: ConflictInput): Resolution;
}

function isEqual(a: Content | null, b: Content | null): boolean {
  return sameContent(a, b);
}

export const localWins: ConflictStrategy = {
  name: 'local-wins',
  isEqual,
  resolve: ({ local }) => ({ kind: 'resolved', result: local, taken: 'local' }),
};

export const remoteWins: ConflictStrategy = {
  name: 'remote-wins',
  isEqual,
  resolve: ({ remote }) => ({ kind: 'resolved', result: remote, taken: 'remote' }),
};

function stamp(c: Content | null): string {
  return c && typeof c.updated_at === 'string' ? c.updated_at : '';
}

/**
 * The side with the later `updated_at` (ISO 8601 UTC strings compare in time order). A deletion
 * carries no timestamp and counts as the oldest, so an edit beats a concurrent deletion. Equal
 * stamps: the larger sha256 of the canonical content wins, the same choice on every site.
 */
export function newerSide(local: Content | null, remote: Content | null): 'local' | 'remote' {
  const l = stamp(local);
  const r = stamp(remote);
  if (l !== r) return l > r ? 'local' : 'remote';
  return contentHash(local) >= contentHash(remote) ? 'local' : 'remote';
}

export const newestWins: ConflictStrategy = {
  name: 'newest-wins',
  isEqual,
  resolve: ({ local, remote }) => {
    const side = newerSide(local, remote);
    return { kind: 'resolved', result: side === 'local' ? local : remote, taken: side };
  },
};

export const manual: ConflictStrategy = {
  name: 'manual',
  isEqual,
  resolve: () => ({ kind: 'manual' }),
};

/**
 * Three-way merge per top-level field against the base: a field changed on one side only takes
 * that side's value; a field both sides changed differently goes to `tieBreaker` (which decides
 * for the whole document, and the merge takes that field from the side it chose). A deletion
 * against an unchanged side wins; a deletion against an edit goes to the tie-breaker as a whole.
 */
export function mergeWith(tieBreaker: ConflictStrategy): ConflictStrategy {
  return {
    name: 'merge',
    isEqual,
    resolve: (input) => {
      const { local, remote } = input;
      const base = input.base && !input.base._deleted ? input.base : null;
      if (local === null || remote === null) {
        if (local === null && remote === null)
          return { kind: 'resolved', result: null, taken: 'local' };
        const live = (local ?? remote) as Content;
        if (base !== null && sameContent(live, base))
          return { kind: 'resolved', result: null, taken: local === null ? 'local' : 'remote' };
        return tieBreaker.resolve(input);
      }
      let tie: Resolution | undefined;
      const out: Record<string, unknown> = {};
      const keys = [
        ...new Set([...Object.keys(local), ...Object.keys(remote), ...Object.keys(base ?? {})]),
      ].sort();
      let fromLocal = 0;
      let fromRemote = 0;
      for (const key of keys) {
        const lv = local[key];
        const rv = remote[key];
        const bv = base ? base[key] : undefined;
        let v: unknown;
        if (canonicalJson(lv) === canonicalJson(rv)) v = lv;
        else if (canonicalJson(lv) === canonicalJson(bv)) {
          v = rv;
          fromRemote++;
        } else if (canonicalJson(rv) === canonicalJson(bv)) {
          v = lv;
          fromLocal++;
        } else {
          tie ??= tieBreaker.resolve(input);
          if (tie.kind === 'manual') return tie;
          if (tie.taken === 'remote') {
            v = rv;
            fromRemote++;
          } else {
            v = lv;
            fromLocal++;
          }
        }
        if (v !== undefined) out[key] = v;
      }
      const taken = fromRemote === 0 ? 'local' : fromLocal === 0 ? 'remote' : 'merged';
      return { kind: 'resolved', result: out, taken };
    },
  };
}

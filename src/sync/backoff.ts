import { SyncConfigError } from './errors';

/** Next delay from the previous one (0 on the first failure). Injectable so tests control time. */
export type Backoff = (previousMs: number) => number;

export const BACKOFF_NAMES = ['exponential-jitter', 'fixed'] as const;
export type BackoffName = (typeof BACKOFF_NAMES)[number];

/**
 * `exponential-jitter`: "full jitter" doubling from `baseMs`, capped at `maxMs` (PouchDB's
 * backoff.js shape: random start, doubling, cap). `fixed`: always `baseMs` (capped).
 */
export function backoffNamed(
  name: string,
  options: { baseMs?: number; maxMs: number; random?: () => number },
): Backoff {
  const base = Math.max(1, options.baseMs ?? 1000);
  const max = Math.max(base, options.maxMs);
  const random = options.random ?? Math.random;
  switch (name) {
    case 'exponential-jitter':
      return (prev) => {
        const ceiling = Math.min(max, prev <= 0 ? base : prev * 2);
        return Math.min(
          max,
          Math.max(base / 2, Math.round(ceiling / 2 + random() * (ceiling / 2))),
        );
      };
    case 'fixed':
      return () => Math.min(max, base);
    default:
      throw new SyncConfigError(`unknown backoff '${name}' (known: ${BACKOFF_NAMES.join(', ')})`, {
        details: { backoff: name },
      });
  }
}

import { SyncConfigError } from '../errors';
import {
  localWins,
  manual,
  mergeWith,
  newestWins,
  remoteWins,
  type ConflictStrategy,
} from './strategies';

export * from './strategies';

/** Every strategy name a `conflict:` or `tie_breaker:` setting may use. */
export const STRATEGY_NAMES = [
  'local-wins',
  'remote-wins',
  'newest-wins',
  'merge',
  'manual',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** Names a tie-breaker of `merge` may use (a merge cannot break its own ties). */
export const TIE_BREAKER_NAMES = ['local-wins', 'remote-wins', 'newest-wins', 'manual'] as const;

const SIMPLE: Readonly<Record<string, ConflictStrategy>> = {
  'local-wins': localWins,
  'remote-wins': remoteWins,
  'newest-wins': newestWins,
  manual,
};

/**
 * The strategy named `name` (explicit registry, no scanning). `merge` takes `tieBreaker`
 * (default `remote-wins`, the cloud being the master). An unknown name throws a SyncConfigError
 * listing the known ones.
 */
export function strategyNamed(name: string, tieBreaker?: string): ConflictStrategy {
  if (name === 'merge') {
    const tb = tieBreaker ?? 'remote-wins';
    const breaker = SIMPLE[tb];
    if (!breaker) {
      throw new SyncConfigError(
        `unknown tie_breaker '${tb}' (known: ${TIE_BREAKER_NAMES.join(', ')})`,
        { details: { tie_breaker: tb } },
      );
    }
    return mergeWith(breaker);
  }
  const s = SIMPLE[name];
  if (!s)
    throw new SyncConfigError(
      `unknown conflict strategy '${name}' (known: ${STRATEGY_NAMES.join(', ')})`,
      { details: { strategy: name } },
    );
  return s;
}

import { sameContent } from '../shared/canonical-json';
import type { Direction, Way } from './projection';
import type { SyncTypeOptions } from './types';

/** One type's rules as stored with the checkpoints (sorted, defaults filled in, so equal rules compare equal). */
export interface TypeRulesSnapshot {
  direction: Direction;
  exclude: { push: string[]; pull: string[]; both: string[] };
  conflict: string;
  tie_breaker: string | null;
}

export interface RulesSnapshot {
  types: Record<string, TypeRulesSnapshot>;
  /** Rules of types not listed. */
  default: TypeRulesSnapshot;
}

/** What a rule change means for one type. */
export interface TypeRuleChange {
  type: string;
  from: TypeRulesSnapshot;
  to: TypeRulesSnapshot;
  /** Directions the type starts replicating: its existing documents go that way now. */
  gains: Way[];
  /** Directions it stops replicating: nothing is deleted, new changes just stop crossing. */
  loses: Way[];
  /** Exclusions changed while the type still replicates: both sides are compared under the new rules. */
  reproject: boolean;
  /** Fields now excluded from push that the cloud copies may still hold (reported, removed only on request). */
  newlyPushExcluded: string[];
}

function snapshotOf(rule: SyncTypeOptions): TypeRulesSnapshot {
  const sorted = (xs: readonly string[] | undefined): string[] => [...new Set(xs ?? [])].sort();
  return {
    direction: rule.direction,
    exclude: {
      push: sorted(rule.exclude?.push),
      pull: sorted(rule.exclude?.pull),
      both: sorted(rule.exclude?.both),
    },
    conflict: rule.conflict ?? 'remote-wins',
    tie_breaker: rule.tie_breaker ?? null,
  };
}

export function rulesSnapshot(
  types: Readonly<Record<string, SyncTypeOptions>>,
  fallback: SyncTypeOptions,
): RulesSnapshot {
  const out: Record<string, TypeRulesSnapshot> = {};
  for (const type of Object.keys(types).sort()) out[type] = snapshotOf(types[type]);
  return { types: out, default: snapshotOf(fallback) };
}

function goes(direction: Direction, way: Way): boolean {
  return direction === 'both' || direction === way;
}

/** Per type whose rules differ between `before` and `now` (types not listed use their side's default). */
export function diffRules(before: RulesSnapshot, now: RulesSnapshot): TypeRuleChange[] {
  const names = [...new Set([...Object.keys(before.types), ...Object.keys(now.types)])].sort();
  const out: TypeRuleChange[] = [];
  for (const type of names) {
    const from = before.types[type] ?? before.default;
    const to = now.types[type] ?? now.default;
    if (sameContent(from, to)) continue;
    const ways: Way[] = ['push', 'pull'];
    const gains = ways.filter((w) => !goes(from.direction, w) && goes(to.direction, w));
    const loses = ways.filter((w) => goes(from.direction, w) && !goes(to.direction, w));
    const exclusionsChanged = !sameContent(from.exclude, to.exclude);
    const stillReplicates = to.direction !== 'none';
    const pushedBefore = goes(from.direction, 'push');
    const excludedBefore = new Set([...from.exclude.push, ...from.exclude.both]);
    const newlyPushExcluded =
      pushedBefore && goes(to.direction, 'push')
        ? to.exclude.push.filter((f) => !excludedBefore.has(f))
        : [];
    out.push({
      type,
      from,
      to,
      gains,
      loses,
      reproject: exclusionsChanged && stillReplicates,
      newlyPushExcluded,
    });
  }
  return out;
}

/** The types whose documents the books walk has to compare with the cloud. */
export function typesToWalk(changes: readonly TypeRuleChange[]): string[] {
  return changes.filter((c) => c.gains.length > 0 || c.reproject).map((c) => c.type);
}

/** What happens to a type, in words for `sync.rules_changed`. */
export function describeRuleChange(c: TypeRuleChange): string {
  const parts: string[] = [];
  if (c.from.direction !== c.to.direction)
    parts.push(`direction ${c.from.direction} → ${c.to.direction}`);
  if (c.gains.includes('push')) parts.push('its existing documents are pushed');
  if (c.gains.includes('pull')) parts.push('its cloud documents are pulled');
  if (c.loses.length > 0)
    parts.push(`stops ${c.loses.join(' and ')} (nothing is deleted on either side)`);
  if (c.reproject) parts.push('exclusions changed: both sides are compared under the new rules');
  if (c.newlyPushExcluded.length > 0)
    parts.push(
      `newly excluded from push: ${c.newlyPushExcluded.join(', ')} (cloud copies keep them until \`booksync sync strip-excluded\`)`,
    );
  if (c.from.conflict !== c.to.conflict || c.from.tie_breaker !== c.to.tie_breaker)
    parts.push(
      `conflict strategy ${c.from.conflict} → ${c.to.conflict} (applies to the next conflict)`,
    );
  return parts.join('; ');
}

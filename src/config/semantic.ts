import { currencyExponent, isCurrency, parseAmount } from '../shared/money';
import { CONFLICT_STRATEGIES, SYNC_DOC_TYPES, TIE_BREAKERS } from './constants';
import { rawConnections, type RawIssue } from './issues';
import { scheduleFloorIssues } from './schedule-floor';
import { closest } from './suggest';
import { transferRuleIssues } from './transfer-rules';
import { isPlainObject } from '../shared/objects';

/**
 * Checks that need more than one value at a time, run after the schema on the same data (with
 * defaults filled). The data may still be invalid elsewhere, so every check looks at the types
 * it relies on and skips what the schema already reported.
 */

type Obj = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const isStrategy = (v: unknown): boolean => (CONFLICT_STRATEGIES as readonly unknown[]).includes(v);

function connections(data: Obj): { index: number; name?: string; journal?: string }[] {
  const list = rawConnections(data);
  return list.map((c, index) =>
    isPlainObject(c) ? { index, name: str(c.name), journal: str(c.journal) } : { index },
  );
}

function uniqueConnectionNames(data: Obj): RawIssue[] {
  const first = new Map<string, number>();
  const out: RawIssue[] = [];
  for (const { index, name } of connections(data)) {
    if (name === undefined) continue;
    const seen = first.get(name);
    if (seen === undefined) first.set(name, index);
    else
      out.push({
        path: ['bank', 'connections', index, 'name'],
        at: 'value',
        message: `duplicate connection name '${name}' (names must be unique; first used at bank.connections[${seen}])`,
      });
  }
  return out;
}

function ledgerConnections(data: Obj): RawIssue[] {
  const ledger = isPlainObject(data.ledger) ? data.ledger : {};
  const mapping = isPlainObject(ledger.connections) ? ledger.connections : {};
  const configured = connections(data).filter((c) => c.name !== undefined);
  const names = [...new Set(configured.map((c) => c.name as string))];
  const out: RawIssue[] = [];
  for (const [name, entry] of Object.entries(mapping)) {
    const bank = configured.find((c) => c.name === name);
    if (!bank) {
      const guess = closest(name, names);
      const help = guess
        ? `did you mean '${guess}'?`
        : names.length
          ? `configured: ${names.join(', ')}`
          : 'no bank connections are configured';
      out.push({
        path: ['ledger', 'connections', name],
        at: 'key',
        message: `no bank connection named '${name}' (${help})`,
      });
      continue;
    }
    const journal = isPlainObject(entry) ? str(entry.journal) : undefined;
    if (journal !== undefined && bank.journal !== undefined && journal !== bank.journal) {
      out.push({
        path: ['ledger', 'connections', name, 'journal'],
        at: 'value',
        message: `journal '${journal}' differs from bank.connections[${bank.index}].journal '${bank.journal}' (leave it out or use the same journal)`,
      });
    }
  }
  return out;
}

const MERGE_NEEDS = `missing required key 'tie_breaker' (needed when conflict is merge; allowed: ${TIE_BREAKERS.join(', ')})`;

/** tie_breaker is required with conflict: merge and meaningless without it. A type inherits conflict and tie_breaker from sync.default as a pair. */
function tieBreakers(data: Obj): RawIssue[] {
  const sync = isPlainObject(data.sync) ? data.sync : {};
  const policy = isPlainObject(sync.default) ? sync.default : {};
  const out: RawIssue[] = [];
  const check = (path: (string | number)[], conflict: unknown, tie: unknown, written: boolean) => {
    if (!isStrategy(conflict)) return;
    if (conflict === 'merge' && tie === undefined)
      out.push({ path, at: 'value', message: MERGE_NEEDS });
    if (conflict !== 'merge' && tie !== undefined && written) {
      out.push({
        path: [...path, 'tie_breaker'],
        at: 'key',
        message: `only applies with conflict: merge (conflict here is '${String(conflict)}')`,
      });
    }
  };
  check(['sync', 'default'], policy.conflict, policy.tie_breaker, true);
  const types = isPlainObject(sync.types) ? sync.types : {};
  for (const type of SYNC_DOC_TYPES) {
    const entry = types[type];
    if (!isPlainObject(entry)) continue;
    const inherited = entry.conflict === undefined;
    const conflict = inherited ? policy.conflict : entry.conflict;
    const tie = entry.tie_breaker ?? (inherited ? policy.tie_breaker : undefined);
    check(['sync', 'types', type], conflict, tie, entry.tie_breaker !== undefined);
  }
  return out;
}

/** amount_window tolerances are exact amounts of the company currency (no more decimals than it has). */
function tolerances(data: Obj): RawIssue[] {
  const ledger = isPlainObject(data.ledger) ? data.ledger : {};
  const currency = isPlainObject(ledger.company) ? str(ledger.company.currency) : undefined;
  const rules =
    isPlainObject(ledger.reconcile) && Array.isArray(ledger.reconcile.rules)
      ? ledger.reconcile.rules
      : [];
  if (currency === undefined || !isCurrency(currency)) return [];
  const out: RawIssue[] = [];
  rules.forEach((rule, i) => {
    const tolerance =
      isPlainObject(rule) && rule.kind === 'amount_window' ? str(rule.tolerance) : undefined;
    if (tolerance === undefined || !/^[0-9]+(\.[0-9]+)?$/.test(tolerance)) return;
    try {
      parseAmount(tolerance, currency, { decimal: '.' });
    } catch {
      const path = ['ledger', 'reconcile', 'rules', i, 'tolerance'];
      out.push({
        path,
        at: 'value',
        message: `'${tolerance}' is not an exact ${currency} amount (${currency} has ${currencyExponent(currency)} decimals)`,
      });
    }
  });
  return out;
}

/** A write_off needs a tolerance above 0: without one there is never a difference to write off. */
function writeOffs(data: Obj): RawIssue[] {
  const ledger = isPlainObject(data.ledger) ? data.ledger : {};
  const rules =
    isPlainObject(ledger.reconcile) && Array.isArray(ledger.reconcile.rules)
      ? ledger.reconcile.rules
      : [];
  return rules.flatMap((rule, i): RawIssue[] =>
    isPlainObject(rule) &&
    rule.kind === 'amount_window' &&
    str(rule.write_off) !== undefined &&
    !/[1-9]/.test(str(rule.tolerance) ?? '0')
      ? [
          {
            path: ['ledger', 'reconcile', 'rules', i, 'write_off'],
            at: 'value',
            message: `write_off '${str(rule.write_off)}' needs a tolerance above 0 (a difference to write off)`,
          },
        ]
      : [],
  );
}

/** ops.listen's port is a TCP port; the pattern only bounds its digits; webhook names are unique. */
function opsSettings(data: Obj): RawIssue[] {
  const out: RawIssue[] = [];
  const listen = isPlainObject(data.ops) ? str(data.ops.listen) : undefined;
  const port = listen && listen !== 'none' ? Number(listen.slice(listen.lastIndexOf(':') + 1)) : 0;
  if (port > 65535)
    out.push({
      path: ['ops', 'listen'],
      at: 'value',
      message: `port ${port} is not a TCP port (0..65535)`,
    });
  const hooks =
    isPlainObject(data.alerts) && Array.isArray(data.alerts.webhooks) ? data.alerts.webhooks : [];
  const seen = new Set<string>();
  hooks.forEach((h, i) => {
    const name = isPlainObject(h) ? str(h.name) : undefined;
    if (name !== undefined && seen.has(name))
      out.push({
        path: ['alerts', 'webhooks', i, 'name'],
        at: 'value',
        message: `duplicate webhook name '${name}'`,
      });
    if (name !== undefined) seen.add(name);
  });
  return out;
}

export function semanticIssues(data: unknown): RawIssue[] {
  if (!isPlainObject(data)) return [];
  return [
    ...uniqueConnectionNames(data),
    ...ledgerConnections(data),
    ...tieBreakers(data),
    ...tolerances(data),
    ...writeOffs(data),
    ...transferRuleIssues(data),
    ...scheduleFloorIssues(data),
    ...opsSettings(data),
  ];
}

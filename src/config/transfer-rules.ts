import type { RawIssue } from './issues';
import { isPlainObject } from '../shared/objects';
import { MAX_TRANSFER_TOLERANCE_PERCENT, percentDigits } from '../shared/rate';

/**
 * Checks of `ledger.reconcile.rules` entries of kind `transfer` that the schema cannot express
 * (README, "Transfers between own accounts"): at most one such rule (two would pair the same
 * lines twice over), and a tolerance of at most 10% (beyond it unrelated amounts would pair).
 * The ledger's rule compiler (src/ledger/automation/rules.ts) enforces the same.
 */

type Obj = Record<string, unknown>;

export function transferRuleIssues(data: Obj): RawIssue[] {
  const ledger = isPlainObject(data.ledger) ? data.ledger : {};
  const rules =
    isPlainObject(ledger.reconcile) && Array.isArray(ledger.reconcile.rules)
      ? ledger.reconcile.rules
      : [];
  const out: RawIssue[] = [];
  let first: number | undefined;
  rules.forEach((rule, i) => {
    if (!isPlainObject(rule) || rule.kind !== 'transfer') return;
    const path = ['ledger', 'reconcile', 'rules', i];
    if (first !== undefined)
      out.push({
        path: [...path, 'kind'],
        at: 'value',
        message: `only one transfer rule is allowed (the first is ledger.reconcile.rules[${first}])`,
      });
    first ??= i;
    const percent = percentDigits(rule.tolerance);
    if (percent !== null && Number(percent) > MAX_TRANSFER_TOLERANCE_PERCENT)
      out.push({
        path: [...path, 'tolerance'],
        at: 'value',
        message: `'${rule.tolerance as string}' is above ${MAX_TRANSFER_TOLERANCE_PERCENT}%: a bank's own rate is within a few percent, more would pair unrelated lines`,
      });
  });
  return out;
}

import { formatAmount } from '../shared/money';
import { valueText } from '../shared/text';
import { table } from './format';

/** The parts of a suggested line (src/ledger/automation/suggest.ts) the terminal shows. */
export interface SuggestedLineView {
  line: string;
  date: string;
  amount: number;
  open: number;
  currency: string;
  payee?: string;
  memo?: string;
  candidates: Array<{
    n: number;
    score: number;
    target: string;
    label: string;
    amount: number;
    currency: string;
    reasons: Array<{ text: string; points: number }>;
    write_off?: { account: string; amount: number };
  }>;
}

function money(amount: number, currency: string): string {
  return `${formatAmount(amount, currency)} ${currency}`;
}

/**
 * `booksync reconcile --pending` for people: each line waiting in suspense, then its numbered
 * candidates with score, what they are, why (each reason with its points) and how to take one.
 */
export function suggestionsText(lines: readonly SuggestedLineView[]): string {
  if (lines.length === 0) return 'nothing waits in suspense\n';
  const out: string[] = [];
  for (const l of lines) {
    const what = [l.payee, l.memo]
      .filter((t) => t !== undefined)
      .map(valueText)
      .join(' — ');
    out.push(
      `${l.line}  ${l.date}  ${money(l.amount, l.currency)}  in suspense ${money(l.open, l.currency)}${what ? `  ${what}` : ''}`,
    );
    if (l.candidates.length === 0) {
      out.push('  no candidates\n');
      continue;
    }
    out.push(
      table(
        l.candidates.map((c) => [
          `  ${c.n}.`,
          `score ${c.score}`,
          valueText(c.label),
          `${money(c.amount, c.currency)} open`,
          c.target,
        ]),
      ).trimEnd(),
    );
    for (const c of l.candidates) {
      const why = c.reasons.map((r) => `${r.text} (+${r.points})`).join('; ');
      out.push(`     ${c.n}: ${why}`);
      if (c.write_off)
        out.push(
          `     ${c.n}: accepting writes off ${money(Math.abs(c.write_off.amount), c.currency)} to ${c.write_off.account}`,
        );
    }
    out.push(`  take one: booksync reconcile ${l.line} --accept N\n`);
  }
  return out.join('\n');
}

/** What `booksync reconcile LINE --accept N` booked, for people. */
export function acceptedText(result: {
  line: string;
  n: number;
  target: string;
  reconciliation?: {
    already: boolean;
    payment: { write_off?: { account: string; amount: number; currency: string } };
  };
  duplicate?: { already: boolean; move: string; amount: number; currency: string };
}): string {
  const already = result.reconciliation?.already ?? result.duplicate?.already ?? false;
  const lines = [
    already
      ? `${result.line} was already reconciled with ${result.target}`
      : `accepted suggestion ${result.n}: reconciled ${result.line} with ${result.target}`,
  ];
  const w = result.reconciliation?.payment.write_off;
  if (w && !already)
    lines.push(`  ${money(Math.abs(w.amount), w.currency)} written off to ${w.account}`);
  const d = result.duplicate;
  if (d && !already)
    lines.push(
      `  the duplicate ${money(d.amount, d.currency)} is cleared from the bank account by ${d.move}`,
    );
  return lines.join('\n');
}

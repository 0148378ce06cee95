import { canonicalJson } from '../shared/canonical-json';
import { formatAmount } from '../shared/money';
import { LedgerError, type LedgerProblem } from './errors';
import { docProblems } from './validate';
import { isMove, type BooksDoc, type DeletionStub, type MoveDoc } from './model';

/**
 * The rules every write to the books obeys, whoever writes (the store, the sync engine, the local
 * API): a document is well-formed; a move balances per currency; a posted move is never edited or
 * deleted, only reversed by a new move. The one bypass is an explicit override with a reason, for
 * an admin resolving a conflict; the caller logs it (`ledger.override`).
 */

export interface WriteOptions {
  /** Bypass posted-move immutability (never shape or balance). The reason is logged. */
  override?: { reason: string };
  /** Keep the document's own `updated_at` / `created_at` (a sync pull keeps the remote's). */
  keepTimestamps?: boolean;
}

/** What a write check let through; `overridden` lists the rules the override bypassed. */
export interface WriteCheck {
  overridden: string[];
}

/** The fields the books' content consists of: everything but revision and writer bookkeeping. */
const BOOKKEEPING = new Set([
  '_rev',
  '_revisions',
  '_conflicts',
  '_deleted_conflicts',
  '_local_seq',
  'created_at',
  'updated_at',
]);

/** The document without `_rev` and timestamps, for "did the content change?" comparisons. */
export function bookContent(doc: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (!BOOKKEEPING.has(k)) out[k] = v;
  return out;
}

/**
 * Per-currency balance of a move whose lines are already well-formed: at least two lines and, in
 * every currency, the debits sum to the credits; with company amounts, in company currency too.
 */
export function balanceProblems(move: Pick<MoveDoc, '_id' | 'lines'>): LedgerProblem[] {
  const id = move._id;
  const problems: LedgerProblem[] = [];
  if (move.lines.length < 2) {
    problems.push({
      doc_id: id,
      code: 'LEDGER_UNBALANCED',
      rule: 'min_lines',
      field: 'lines',
      message: `${id}: a move needs at least two lines (has ${move.lines.length})`,
    });
  }
  const totals = new Map<string, { debit: bigint; credit: bigint }>();
  for (const line of move.lines) {
    const t = totals.get(line.currency) ?? { debit: 0n, credit: 0n };
    t.debit += BigInt(line.debit);
    t.credit += BigInt(line.credit);
    totals.set(line.currency, t);
  }
  for (const [currency, t] of [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (t.debit !== t.credit) {
      problems.push({
        doc_id: id,
        code: 'LEDGER_UNBALANCED',
        rule: 'balance',
        field: 'lines',
        message: `${id}: unbalanced in ${currency}: debit ${fmt(t.debit, currency)} ≠ credit ${fmt(t.credit, currency)}`,
      });
    } else if (t.debit > BigInt(Number.MAX_SAFE_INTEGER)) {
      problems.push({
        doc_id: id,
        code: 'LEDGER_UNBALANCED',
        rule: 'overflow',
        field: 'lines',
        message: `${id}: the ${currency} total exceeds the safe integer range`,
      });
    }
  }
  problems.push(...companyBalanceProblems(move));
  return problems;
}

/**
 * A move with a line in another currency than the company's carries the company-currency amount
 * of each such line (`lines[i].company`): then the move also balances in company currency, lines
 * already in it counting as they are (docs/CURRENCIES.md). Moves without any company part are
 * single-currency books and checked per currency only.
 */
function companyBalanceProblems(move: Pick<MoveDoc, '_id' | 'lines'>): LedgerProblem[] {
  const id = move._id;
  const parts = move.lines.flatMap((l) => (l.company ? [l.company.currency] : []));
  if (parts.length === 0) return [];
  const currencies = [...new Set(parts)];
  if (currencies.length > 1) {
    return [
      {
        doc_id: id,
        code: 'LEDGER_UNBALANCED',
        rule: 'company_currency',
        field: 'lines',
        message: `${id}: company amounts in more than one currency (${currencies.join(', ')})`,
      },
    ];
  }
  const company = currencies[0];
  let debit = 0n;
  let credit = 0n;
  for (const [i, line] of move.lines.entries()) {
    if (line.company) {
      debit += BigInt(line.company.debit);
      credit += BigInt(line.company.credit);
    } else if (line.currency === company) {
      debit += BigInt(line.debit);
      credit += BigInt(line.credit);
    } else {
      return [
        {
          doc_id: id,
          code: 'LEDGER_UNBALANCED',
          rule: 'company_missing',
          field: `lines[${i}].company`,
          message: `${id}: line ${i} in ${line.currency} has no ${company} amount while other lines have one`,
        },
      ];
    }
  }
  if (debit === credit) return [];
  return [
    {
      doc_id: id,
      code: 'LEDGER_UNBALANCED',
      rule: 'company_balance',
      field: 'lines',
      message: `${id}: unbalanced in company currency ${company}: debit ${fmt(debit, company)} ≠ credit ${fmt(credit, company)}`,
    },
  ];
}

function fmt(amount: bigint, currency: string): string {
  return amount <= BigInt(Number.MAX_SAFE_INTEGER)
    ? formatAmount(Number(amount), currency)
    : `${amount} minor units`;
}

function isDeletion(doc: BooksDoc | DeletionStub): doc is DeletionStub {
  return (doc as DeletionStub)._deleted === true;
}

function isPosted(doc: BooksDoc | undefined): doc is MoveDoc {
  return isMove(doc) && doc.state === 'posted';
}

function checkOverride(opts: WriteOptions, docId: string): boolean {
  if (opts.override === undefined) return false;
  const reason = opts.override?.reason;
  if (typeof reason !== 'string' || reason.trim() === '') {
    throw new LedgerError([
      {
        doc_id: docId,
        code: 'LEDGER_OVERRIDE_INVALID',
        rule: 'override_reason',
        message: `${docId}: an override needs a non-empty reason`,
      },
    ]);
  }
  return true;
}

/**
 * Throws a `LedgerError` unless writing `next` over `current` (the stored document, `undefined`
 * when new) keeps the books valid. `next` may be a deletion stub `{ _id, _deleted: true }`.
 * Codes: `LEDGER_ID_MISMATCH`, `LEDGER_INVALID_DOC`, `LEDGER_UNBALANCED`, `LEDGER_POSTED_IMMUTABLE`,
 * `LEDGER_OVERRIDE_INVALID`. Pure: callers that honour an override log it themselves.
 */
export function validateWrite(
  next: BooksDoc | DeletionStub,
  current: BooksDoc | undefined,
  opts: WriteOptions = {},
): WriteCheck {
  return { overridden: writeProblems(next, current, opts, true).overridden };
}

/**
 * Like `validateWrite` but returns the problems instead of throwing (the store collects them over
 * a batch). With `throwFirst`, throws on the first failing stage.
 */
export function writeProblems(
  next: BooksDoc | DeletionStub,
  current: BooksDoc | undefined,
  opts: WriteOptions = {},
  throwFirst = false,
): { problems: LedgerProblem[]; overridden: string[] } {
  const id = typeof next?._id === 'string' ? next._id : '(no id)';
  const override = checkOverride(opts, id);
  const overridden: string[] = [];
  const fail = (problems: LedgerProblem[]) => {
    if (throwFirst) throw new LedgerError(problems);
    return { problems, overridden: [] };
  };

  if (current !== undefined && current._id !== id) {
    return fail([
      {
        doc_id: id,
        code: 'LEDGER_ID_MISMATCH',
        rule: 'current_id',
        field: '_id',
        message: `${id}: compared against a different stored document ${current._id}`,
      },
    ]);
  }

  if (isDeletion(next)) {
    if (isPosted(current)) {
      if (!override) {
        return fail([
          {
            doc_id: id,
            code: 'LEDGER_POSTED_IMMUTABLE',
            rule: 'posted_immutable',
            message: `${id}: a posted move cannot be deleted; reverse it with a new move`,
          },
        ]);
      }
      overridden.push('posted_immutable');
    }
    return { problems: [], overridden };
  }

  const shape = docProblems(next);
  if (shape.length > 0) {
    // Id problems first: they explain every other one.
    return fail([
      ...shape.filter((p) => p.code === 'LEDGER_ID_MISMATCH'),
      ...shape.filter((p) => p.code !== 'LEDGER_ID_MISMATCH'),
    ]);
  }

  if (isMove(next)) {
    const balance = balanceProblems(next);
    if (balance.length > 0) return fail(balance);
  }

  if (
    isPosted(current) &&
    canonicalJson(bookContent(next)) !== canonicalJson(bookContent(current))
  ) {
    if (!override) {
      const what = isMove(next) && next.state === 'draft' ? 'set back to draft' : 'edited';
      return fail([
        {
          doc_id: id,
          code: 'LEDGER_POSTED_IMMUTABLE',
          rule: 'posted_immutable',
          message: `${id}: a posted move cannot be ${what}; reverse it with a new move`,
        },
      ]);
    }
    overridden.push('posted_immutable');
  }
  return { problems: [], overridden };
}

/** Throws `LEDGER_UNBALANCED` unless the move balances (shape is checked by `validateWrite`). */
export function assertBalanced(move: MoveDoc): void {
  const problems = balanceProblems(move);
  if (problems.length > 0) throw new LedgerError(problems);
}

// `reverseMove` lives with the model (it only builds a document); re-exported here for callers
// that think of it as the invariants' companion.
export { reverseMove, type ReverseOptions } from './model';

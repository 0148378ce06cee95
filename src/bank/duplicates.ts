import { daysBetween, type CalendarDate } from '../shared/dates';
import type { BankCodeOf } from './error-codes';
import { BooksyncError, type BooksyncErrorOptions } from '../shared/errors';
import { visibleLines, type BooksStore, type StatementLineDoc } from '../ledger';
import { accountKey } from './dedup';

/**
 * Likely duplicate statement lines, for a person to review (Odoo's "find duplicates"): two lines
 * of the same account booking the same amount in the same currency within a few days, under
 * different ids. Typical causes: a line entered by hand and the same payment from the feed, or a
 * bank that changed its transaction ids. Lines that came in with the same import are not paired:
 * the bank listed both (two identical coffees). Deleted, replaced, pending and staged lines are
 * left out. Nothing is changed.
 */

/** Days apart two lines may be booked and still be reported. @default 3 */
export const DEFAULT_DUPLICATE_DAYS = 3;

/** A line as the review shows it. */
export interface DuplicateLineView {
  id: string;
  connection: string;
  date: CalendarDate;
  payee: string | null;
  memo: string | null;
  provider_id: string | null;
  state: StatementLineDoc['state'];
  imported_at: string | null;
}

/** One pair of likely duplicates. */
export interface DuplicatePair {
  account: string;
  amount: number;
  currency: string;
  days_apart: number;
  lines: [DuplicateLineView, DuplicateLineView];
}

/** Raised for a `--days` that is not a whole number of days. */
export class DuplicateQueryError extends BooksyncError {
  static readonly code = 'BANK_DUPLICATES_DAYS' satisfies BankCodeOf<'DuplicateQueryError'>;
  declare readonly code: typeof DuplicateQueryError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(DuplicateQueryError.code, message, options);
  }
}

function view(line: StatementLineDoc): DuplicateLineView {
  return {
    id: line._id,
    connection: line.connection,
    date: line.date,
    payee: line.payee ?? null,
    memo: line.memo ?? null,
    provider_id: line.provider_id ?? null,
    state: line.state,
    imported_at: line.imported_at ?? null,
  };
}

/** The import a line came with: its import id, else its import instant (one per run). */
function arrival(line: StatementLineDoc): string | undefined {
  return line.import_id ?? line.imported_at;
}

/** Pairs of likely duplicates among `lines`, by account, then date. */
export function likelyDuplicates(
  lines: readonly StatementLineDoc[],
  days: number = DEFAULT_DUPLICATE_DAYS,
): DuplicatePair[] {
  if (!Number.isInteger(days) || days < 0 || days > 366) {
    throw new DuplicateQueryError(
      `--days must be a whole number of days from 0 to 366 (got ${String(days)})`,
    );
  }
  const groups = new Map<string, StatementLineDoc[]>();
  for (const line of lines) {
    if (line.state === 'deleted' || line.pending || line.replaced_by !== undefined) continue;
    const key = JSON.stringify([accountKey(line.account_id), line.currency, line.amount]);
    const group = groups.get(key);
    if (group) group.push(line);
    else groups.set(key, [line]);
  }
  const pairs: DuplicatePair[] = [];
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    group.sort((a, b) => a.date.localeCompare(b.date) || (a._id < b._id ? -1 : 1));
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const apart = daysBetween(group[i].date, group[j].date);
        if (apart > days) break;
        const a = group[i];
        const b = group[j];
        if (arrival(a) !== undefined && arrival(a) === arrival(b)) continue;
        pairs.push({
          account: accountKey(a.account_id),
          amount: a.amount,
          currency: a.currency,
          days_apart: apart,
          lines: [view(a), view(b)],
        });
      }
    }
  }
  return pairs.sort(
    (x, y) =>
      x.account.localeCompare(y.account) ||
      x.lines[0].date.localeCompare(y.lines[0].date) ||
      (x.lines[0].id < y.lines[0].id ? -1 : 1),
  );
}

/** `booksync bank duplicates`: the likely duplicates among the books' visible statement lines. */
export async function findDuplicates(
  store: Pick<BooksStore, 'allOfType' | 'db'>,
  days: number = DEFAULT_DUPLICATE_DAYS,
): Promise<DuplicatePair[]> {
  const lines = await visibleLines(
    store,
    await store.allOfType<StatementLineDoc>('statement_line'),
  );
  return likelyDuplicates(lines, days);
}

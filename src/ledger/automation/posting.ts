import { formatAmount } from '../../shared/money';
import type { MoveDoc, MoveLine, PaymentDoc, StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { visibleLines } from '../staged-imports';
import {
  docsById,
  docsWithPrefix,
  linesOfConnection,
  resolveMapping,
  type ResolvedMapping,
} from './books';
import { linePaymentPrefix, postingMoveId, reversalKey } from './ids';
import { reverseMove } from '../invariants';
import { RateMissingError } from './errors';
import { companyPart, RateBook, type CompanyConversion } from './fx';
import {
  postState,
  serialized,
  today,
  type AutomationOptions,
  type ConnectionMapping,
} from './options';

/**
 * Statement lines → moves (README, "Ledger automation"). Each booked line of a connection becomes
 * exactly one balanced move in the connection's journal: the bank account against the suspense
 * account, money in debits the bank, money out credits it. The move id is derived from the line id
 * (`move:<journal>:stl:<hash>`), so re-runs, a crash between the two writes and two sites posting
 * the same line all name the same move; line and move point at each other (`line.move`,
 * `move.statement_line`) and the line goes from `new` to `posted`.
 *
 * Posted nothing: pending lines (the bank may still change them), lines replaced by their booked
 * version (`replaced_by`), deleted lines, zero amounts (a move line needs one non-zero side), and
 * lines whose currency is not their connection's: no exchange rate is invented, the line stays
 * `new` and is reported (`ledger.post_refused`) until the mapping or the line is fixed.
 *
 * A connection in another currency than the company's posts each line in its currency plus the
 * company-currency amount at the rate of the line's date (docs/CURRENCIES.md). While that rate is
 * missing the line stays `new` (`LEDGER_RATE_MISSING`, `ledger.rate_missing`); the next run after
 * the rate document arrives posts it (rate-watch.ts starts that run).
 *
 * A line deleted after it was posted (the bank's correction deleted or replaced it, or the user
 * deleted it) is unposted: its posted move gets a reversal (`<move key>:rev`, posted moves are
 * never edited), a draft move is deleted. A reconciled line is never deleted by a fetch; undo its
 * reconciliation first.
 */

export type SkipReason = 'pending' | 'replaced' | 'deleted' | 'zero_amount';

export interface PostingResult {
  connection: string;
  /** Lines posted by this call (including lines whose move existed already and were only linked). */
  posted: Array<{ line: string; move: string }>;
  /** Lines already posted or reconciled before this call. */
  already: number;
  skipped: Array<{ line: string; reason: SkipReason }>;
  /** Lines that could not be posted; they stay `new`. */
  refused: Array<{ line: string; code: string; message: string }>;
  /** Deleted lines whose move this call cancelled: reversed (posted move) or removed (draft). */
  unposted: Array<{ line: string; move: string; reversal?: string }>;
}

/** Lines per write batch: each batch is one atomic LevelDB write of moves and their lines. */
const BATCH = 200;

/**
 * Posts the statement lines of `mapping.connection`: `'all'` of them, or only those named (ids or
 * documents, as the fetch loop has them after a run; they are read again from the store). Lines
 * of another connection among the named ones are ignored. Throws `LEDGER_MAPPING_INVALID` when the
 * mapping disagrees with the books.
 */
export function postStatementLines(
  store: BooksStore,
  lines: 'all' | ReadonlyArray<string | Pick<StatementLineDoc, '_id'>>,
  mapping: ConnectionMapping,
  opts: AutomationOptions = {},
): Promise<PostingResult> {
  return serialized(store, () => postLines(store, lines, mapping, opts));
}

async function postLines(
  store: BooksStore,
  which: 'all' | ReadonlyArray<string | Pick<StatementLineDoc, '_id'>>,
  mapping: ConnectionMapping,
  opts: AutomationOptions,
): Promise<PostingResult> {
  const resolved = await resolveMapping(store, mapping);
  const result: PostingResult = {
    connection: mapping.connection,
    posted: [],
    already: 0,
    skipped: [],
    refused: [],
    unposted: [],
  };
  const lines = await readLines(store, which, mapping.connection);

  const toPost: LineToPost[] = [];
  const toUnpost: StatementLineDoc[] = [];
  const companyCurrency = opts.company_currency;
  const rates = new RateBook(store);
  for (const line of lines) {
    if (line.state === 'deleted' && line.move !== undefined) {
      toUnpost.push(line);
      continue;
    }
    if (line.state === 'posted' || line.state === 'reconciled') {
      result.already += 1;
      continue;
    }
    const skip: SkipReason | undefined =
      line.state === 'deleted'
        ? 'deleted'
        : line.pending
          ? 'pending'
          : line.replaced_by !== undefined
            ? 'replaced'
            : line.amount === 0
              ? 'zero_amount'
              : undefined;
    if (skip) {
      result.skipped.push({ line: line._id, reason: skip });
      continue;
    }
    if (line.currency !== resolved.journal.currency) {
      const message = `${line._id}: ${formatAmount(line.amount, line.currency)} ${line.currency} cannot be posted in journal ${resolved.journal.code} (${resolved.journal.currency}): the line's currency is not its connection's and no exchange rate is invented; map this connection to a ${line.currency} journal`;
      result.refused.push({ line: line._id, code: 'LEDGER_CURRENCY_MISMATCH', message });
      opts.logger?.warn(message, {
        event: 'ledger.post_refused',
        code: 'LEDGER_CURRENCY_MISMATCH',
        connection: mapping.connection,
        line: line._id,
        journal: resolved.journal.code,
      });
      continue;
    }
    if (companyCurrency === undefined || line.currency === companyCurrency) {
      toPost.push({ line });
      continue;
    }
    try {
      const company = await rates.convert(
        Math.abs(line.amount),
        line.currency,
        companyCurrency,
        line.date,
      );
      toPost.push({ line, company });
    } catch (err) {
      if (!(err instanceof RateMissingError)) throw err;
      result.refused.push({
        line: line._id,
        code: err.code,
        message: `${line._id}: ${err.message}`,
      });
      opts.logger?.warn(`${line._id}: ${err.message}; the line waits unposted`, {
        event: 'ledger.rate_missing',
        code: err.code,
        connection: mapping.connection,
        line: line._id,
        from: err.from,
        to: err.to,
        date: err.date,
      });
    }
  }

  await writePostings(store, toPost, resolved, mapping, result, opts);
  await unpost(store, toUnpost, today(opts), result, opts);
  if (result.posted.length > 0 || result.refused.length > 0 || result.unposted.length > 0) {
    opts.logger?.info(`${mapping.connection}: posted ${result.posted.length} statement line(s)`, {
      event: 'ledger.post',
      connection: mapping.connection,
      journal: mapping.journal,
      posted: result.posted.length,
      refused: result.refused.length,
      skipped: result.skipped.length,
      unposted: result.unposted.length,
    });
  }
  return result;
}

type LineToPost = { line: StatementLineDoc; company?: CompanyConversion };

/** The connection's lines: all of them, or the named ones of this connection that are visible. */
async function readLines(
  store: BooksStore,
  which: 'all' | ReadonlyArray<string | Pick<StatementLineDoc, '_id'>>,
  connection: string,
): Promise<StatementLineDoc[]> {
  if (which === 'all') return linesOfConnection(store, connection);
  const prefix = `stl:${connection}:`;
  const ids = which
    .map((w) => (typeof w === 'string' ? w : w._id))
    .filter((id) => id.startsWith(prefix));
  const found = await docsById<StatementLineDoc>(store, ids);
  return visibleLines(
    store,
    [...new Set(ids)].flatMap((id) => {
      const doc = found.get(id);
      return doc && doc.type === 'statement_line' ? [doc] : [];
    }),
  );
}

/** Writes the postable lines' moves and marks the lines posted, BATCH lines per atomic write. */
async function writePostings(
  store: BooksStore,
  toPost: readonly LineToPost[],
  resolved: ResolvedMapping,
  mapping: ConnectionMapping,
  result: PostingResult,
  opts: AutomationOptions,
): Promise<void> {
  const companyCurrency = opts.company_currency;
  for (let i = 0; i < toPost.length; i += BATCH) {
    const batch = toPost.slice(i, i + BATCH);
    const existing = await docsById<MoveDoc>(
      store,
      batch.map(({ line }) => postingMoveId(mapping.journal, line._id)),
    );
    const writes: Array<MoveDoc | StatementLineDoc> = [];
    for (const { line, company } of batch) {
      const id = postingMoveId(mapping.journal, line._id);
      const already = existing.get(id);
      if (already && already.statement_line !== line._id) {
        // Cannot happen short of a hash collision or a hand-made move squatting the id; never overwrite it.
        const message = `${line._id}: move ${id} already exists for ${already.statement_line ?? 'no statement line'}`;
        result.refused.push({ line: line._id, code: 'LEDGER_MAPPING_INVALID', message });
        opts.logger?.error(message, {
          event: 'ledger.post_refused',
          code: 'LEDGER_MAPPING_INVALID',
          connection: mapping.connection,
          line: line._id,
        });
        continue;
      }
      // A move that exists already (a crash after the move write, another site's posting) is kept as is.
      if (!already) {
        const fx =
          company && companyCurrency ? { currency: companyCurrency, ...company } : undefined;
        writes.push(postingMove(line, resolved, postState(opts), fx));
      }
      writes.push({ ...line, state: 'posted', move: id });
      result.posted.push({ line: line._id, move: id });
    }
    if (writes.length > 0) await store.putMany(writes);
  }
}

/**
 * Cancels the moves of deleted lines: a posted move gets its reversal (once: the reversal id is
 * derived from the move id), a draft move is deleted.
 */
async function unpost(
  store: BooksStore,
  lines: readonly StatementLineDoc[],
  date: string,
  result: PostingResult,
  opts: AutomationOptions,
): Promise<void> {
  if (lines.length === 0) return;
  const moves = await docsById<MoveDoc>(
    store,
    lines.map((l) => l.move!),
  );
  for (const line of lines) {
    const move = moves.get(line.move!);
    if (!move || move.statement_line !== line._id) continue;
    const payments = await docsWithPrefix<PaymentDoc & { state?: string }>(
      store,
      linePaymentPrefix(line._id),
    );
    if (payments.some((p) => p.state !== 'cancelled')) {
      const message = `${line._id} is deleted but still reconciled; undo its reconciliation, then its move ${move._id} is reversed`;
      if (!result.refused.some((r) => r.line === line._id))
        result.refused.push({ line: line._id, code: 'LEDGER_RECONCILE_REFUSED', message });
      opts.logger?.warn(message, {
        event: 'ledger.post_refused',
        code: 'LEDGER_RECONCILE_REFUSED',
        line: line._id,
      });
      continue;
    }
    if (move.state === 'draft') {
      await store.remove(move._id);
      result.unposted.push({ line: line._id, move: move._id });
      continue;
    }
    const reversal = reverseMove(move, date < move.date ? move.date : date, reversalKey(move._id), {
      ref: `Bank line ${line._id} deleted`,
    });
    if (await store.get(reversal._id)) continue;
    await store.put(reversal);
    result.unposted.push({ line: line._id, move: move._id, reversal: reversal._id });
    opts.logger?.info(
      `${line._id} was deleted after posting: ${move._id} reversed by ${reversal._id}`,
      { event: 'ledger.unpost', line: line._id, move: move._id, reversal: reversal._id },
    );
  }
}

/**
 * The move booking `line`: bank against suspense, in the line's own currency, and with `company`
 * (the line's absolute amount converted) in company currency on both lines.
 */
export function postingMove(
  line: StatementLineDoc,
  resolved: ResolvedMapping,
  state: 'draft' | 'posted',
  company?: CompanyConversion & { currency: string },
): MoveDoc {
  const { mapping } = resolved;
  const amount = Math.abs(line.amount);
  const incoming = line.amount > 0;
  const label = lineLabel(line);
  const bankLine: MoveLine = {
    account: mapping.bank_account,
    label,
    debit: incoming ? amount : 0,
    credit: incoming ? 0 : amount,
    currency: line.currency,
  };
  const suspenseLine: MoveLine = {
    account: mapping.suspense_account,
    label,
    debit: incoming ? 0 : amount,
    credit: incoming ? amount : 0,
    currency: line.currency,
  };
  if (company) {
    bankLine.company = companyPart(company.currency, company.amount, incoming, company.rate);
    suspenseLine.company = companyPart(company.currency, company.amount, !incoming, company.rate);
  }
  const move: MoveDoc = {
    _id: postingMoveId(mapping.journal, line._id),
    type: 'move',
    journal: mapping.journal,
    date: line.date,
    state,
    lines: [bankLine, suspenseLine],
    statement_line: line._id,
  };
  const ref = line.reference?.trim() || line.memo?.trim();
  if (ref) move.ref = ref;
  return move;
}

/** What a person recognises a bank line by: payee and memo. */
export function lineLabel(
  line: Pick<StatementLineDoc, 'payee' | 'memo' | 'counterparty_name'>,
): string {
  const parts = [line.payee ?? line.counterparty_name, line.memo]
    .map((p) => p?.trim())
    .filter((p): p is string => !!p);
  return parts.length > 0 ? parts.join(' — ') : 'bank statement line';
}

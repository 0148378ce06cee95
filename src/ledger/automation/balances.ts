import type { CalendarDate } from '../../shared/dates';
import { addDays } from '../../shared/dates';
import { formatAmount } from '../../shared/money';
import { accountId, type MoveDoc, type StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { linesOfConnection, moveEffect, resolveMapping } from './books';
import { AutomationError } from './errors';
import { companyPart, RateBook } from './fx';
import { openingMoveId } from './ids';
import {
  accountRoles,
  postState,
  serialized,
  type AutomationOptions,
  type ConnectionMapping,
} from './options';

/**
 * Bank balances (README, "Ledger automation"): an opening balance on a connection's first run,
 * and a check on every run that the books' bank account holds what the bank reports.
 */

/** The bank's reported ledger (booked) balance at the end of `date`. */
export interface BankBalance {
  amount: number;
  currency: string;
  date: CalendarDate;
}

export interface OpeningResult {
  connection: string;
  /** The opening move (absent when the opening amount is 0: nothing to book). */
  move?: string;
  /** True when this call wrote the move. */
  created: boolean;
  /** Signed minor units put on the bank account. */
  amount: number;
  currency: string;
  date: CalendarDate;
}

/** Lines that are (or will be) booked on the bank account: booked, not replaced, not deleted. */
function bookedLines(
  lines: readonly StatementLineDoc[],
  currency: string,
  upTo: CalendarDate,
): StatementLineDoc[] {
  return lines.filter(
    (l) =>
      !l.pending &&
      l.state !== 'deleted' &&
      l.replaced_by === undefined &&
      l.currency === currency &&
      l.date <= upTo,
  );
}

function checkCurrency(mapping: ConnectionMapping, balance: BankBalance): void {
  if (balance.currency !== mapping.currency || !Number.isSafeInteger(balance.amount)) {
    throw new AutomationError(
      'LEDGER_CURRENCY_MISMATCH',
      `${mapping.connection}: the bank reports a balance in ${balance.currency}, the mapping books ${mapping.currency}`,
      {
        details: {
          connection: mapping.connection,
          bank: balance.currency,
          books: mapping.currency,
        },
      },
    );
  }
}

/**
 * Books the opening balance of a connection, once (`move:<journal>:opening:<connection>`): what the
 * bank reports at `bankBalance.date` minus the booked lines fetched up to that date (those become
 * their own moves), against the opening-balance equity account, dated the day before the first
 * such line. Call it on the connection's first successful run, after the lines are written; later
 * calls return the existing move. Like Odoo's "opening statement line".
 */
export function openingBalance(
  store: BooksStore,
  mapping: ConnectionMapping,
  bankBalance: BankBalance,
  opts: AutomationOptions = {},
): Promise<OpeningResult> {
  return serialized(store, async () => {
    checkCurrency(mapping, bankBalance);
    const id = openingMoveId(mapping.journal, mapping.connection);
    const existing = await store.get<MoveDoc>(id);
    if (existing) {
      return {
        connection: mapping.connection,
        move: id,
        created: false,
        amount: moveEffect(existing, mapping.bank_account, mapping.currency),
        currency: mapping.currency,
        date: existing.date,
      };
    }
    // An opening of 0 writes no move; the marker remembers it was done, so a later difference is
    // reported as a mismatch instead of being booked as an opening balance.
    const marker = await readLocal<OpeningResult>(store, openingMarkerId(mapping.connection));
    if (marker) return { ...marker, created: false };
    await resolveMapping(store, mapping);
    const equity = accountRoles(opts).opening_balance;
    if (!(await store.get(accountId(equity)))) {
      throw new AutomationError(
        'LEDGER_MAPPING_INVALID',
        `the opening-balance account ${equity} does not exist in the books`,
        { details: { account: equity } },
      );
    }
    const lines = bookedLines(
      await linesOfConnection(store, mapping.connection),
      mapping.currency,
      bankBalance.date,
    );
    const amount = bankBalance.amount - lines.reduce((s, l) => s + l.amount, 0);
    const first = lines.reduce<CalendarDate | undefined>(
      (min, l) => (min === undefined || l.date < min ? l.date : min),
      undefined,
    );
    const date = first ? addDays(first, -1) : bankBalance.date;
    if (amount === 0) {
      const result: OpeningResult = {
        connection: mapping.connection,
        created: false,
        amount: 0,
        currency: mapping.currency,
        date,
      };
      await writeLocal(store, openingMarkerId(mapping.connection), result);
      return result;
    }
    const abs = Math.abs(amount);
    const label = `Opening balance of ${mapping.connection}`;
    // A connection in a foreign currency: the opening in company currency at its date's rate.
    const company = opts.company_currency;
    const fx =
      company !== undefined && company !== mapping.currency
        ? await new RateBook(store).convert(abs, mapping.currency, company, date)
        : undefined;
    const part = (debit: boolean) =>
      fx && company ? { company: companyPart(company, fx.amount, debit, fx.rate) } : {};
    const move: MoveDoc = {
      _id: id,
      type: 'move',
      journal: mapping.journal,
      date,
      ref: label,
      state: postState(opts),
      lines: [
        {
          account: mapping.bank_account,
          label,
          debit: amount > 0 ? abs : 0,
          credit: amount > 0 ? 0 : abs,
          currency: mapping.currency,
          ...part(amount > 0),
        },
        {
          account: equity,
          label,
          debit: amount > 0 ? 0 : abs,
          credit: amount > 0 ? abs : 0,
          currency: mapping.currency,
          ...part(amount < 0),
        },
      ],
    };
    await store.put(move);
    await writeLocal(store, openingMarkerId(mapping.connection), {
      connection: mapping.connection,
      move: id,
      created: false,
      amount,
      currency: mapping.currency,
      date,
    });
    opts.logger?.info(
      `${mapping.connection}: opening balance ${formatAmount(amount, mapping.currency)} ${mapping.currency} on ${date}`,
      {
        event: 'ledger.opening_balance',
        connection: mapping.connection,
        move: id,
        amount,
        currency: mapping.currency,
      },
    );
    return {
      connection: mapping.connection,
      move: id,
      created: true,
      amount,
      currency: mapping.currency,
      date,
    };
  });
}

export interface BalanceCheck {
  connection: string;
  account: string;
  currency: string;
  date: CalendarDate;
  /** Balance of the bank account in the books (debit − credit) at the end of `date`. */
  books: number;
  /** Part of `books` booked by draft moves. */
  draft: number;
  /** What the bank reports. */
  bank: number;
  /** bank − books: positive when the bank holds more than the books. */
  difference: number;
  ok: boolean;
}

/**
 * Compares the books' bank account (posted and draft moves dated up to the bank's balance date,
 * in the mapping's currency) with the bank's reported ledger balance. The caller logs a difference
 * as `ledger.balance_mismatch` and shows it in `booksync status`.
 */
export async function checkBalance(
  store: BooksStore,
  mapping: ConnectionMapping,
  bankBalance: BankBalance,
): Promise<BalanceCheck> {
  checkCurrency(mapping, bankBalance);
  const moves = await store.allOfType<MoveDoc>('move');
  let books = 0;
  let draft = 0;
  for (const m of moves) {
    if (m.date > bankBalance.date) continue;
    const effect = moveEffect(m, mapping.bank_account, mapping.currency);
    books += effect;
    if (m.state === 'draft') draft += effect;
  }
  const difference = bankBalance.amount - books;
  return {
    connection: mapping.connection,
    account: mapping.bank_account,
    currency: mapping.currency,
    date: bankBalance.date,
    books,
    draft,
    bank: bankBalance.amount,
    difference,
    ok: difference === 0,
  };
}

/** Balance (debit − credit) of `account` in `currency` over the given moves. */
export function accountBalance(
  moves: readonly MoveDoc[],
  account: string,
  currency: string,
  opts: { posted_only?: boolean } = {},
): number {
  return moves
    .filter((m) => !opts.posted_only || m.state === 'posted')
    .reduce((s, m) => s + moveEffect(m, account, currency), 0);
}

// ---- per-site bookkeeping in `_local/` documents (never replicated, not part of the books) ----

function openingMarkerId(connection: string): string {
  return `_local/booksync-ledger-opening:${connection}`;
}

function balanceCheckId(connection: string): string {
  return `_local/booksync-ledger-balance:${connection}`;
}

export async function readLocal<T>(store: BooksStore, id: string): Promise<T | undefined> {
  try {
    const doc = (await store.db.get(id)) as unknown as { value: T };
    return doc.value;
  } catch (err) {
    if ((err as { status?: number }).status === 404) return undefined;
    throw err;
  }
}

export async function writeLocal(store: BooksStore, id: string, value: unknown): Promise<void> {
  let rev: string | undefined;
  try {
    rev = (await store.db.get(id))._rev;
  } catch (err) {
    if ((err as { status?: number }).status !== 404) throw err;
  }
  await store.db.put({
    _id: id,
    ...(rev ? { _rev: rev } : {}),
    value,
  } as PouchDB.Core.PutDocument<object>);
}

/** Remembers the latest balance check of a connection (for `booksync status`). */
export async function recordBalanceCheck(
  store: BooksStore,
  check: BalanceCheck,
  at: string,
): Promise<void> {
  await writeLocal(store, balanceCheckId(check.connection), { ...check, checked_at: at });
}

/** The latest recorded balance check of each named connection (absent: never checked). */
export async function lastBalanceChecks(
  store: BooksStore,
  connections: readonly string[],
): Promise<Array<BalanceCheck & { checked_at: string }>> {
  const out: Array<BalanceCheck & { checked_at: string }> = [];
  for (const c of connections) {
    const v = await readLocal<BalanceCheck & { checked_at: string }>(store, balanceCheckId(c));
    if (v) out.push(v);
  }
  return out;
}

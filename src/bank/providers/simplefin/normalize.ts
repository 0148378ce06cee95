import { answerAmount } from '../../answer-values';
import { AnswerShapeError } from '../../errors';
import type { BankAccountStatement, BankBalance, BankTransaction } from '../../provider';
import type { CalendarDate } from '../../../shared/dates';
import { isCurrency } from '../../../shared/money';
import { dateAt } from './zone';
import { isPlainObject } from '../../../shared/objects';

/**
 * SimpleFIN account and transaction objects → booksync statements.
 *
 * @link https://www.simplefin.org/protocol.html ("Account", "Transaction")
 */

export interface RawAccount {
  id: string;
  name?: string;
  currency: string;
  balance: string;
  availableBalance?: string;
  balanceDate?: number;
  connId?: string;
  transactions: RawTransaction[];
}

export interface RawTransaction {
  id: string;
  posted: number;
  amount: string;
  description?: string;
  transactedAt?: number;
  pending?: boolean;
  payee?: string;
  memo?: string;
}

function str(o: Record<string, unknown>, key: string, where: string, required: true): string;
function str(
  o: Record<string, unknown>,
  key: string,
  where: string,
  required: false,
): string | undefined;
function str(
  o: Record<string, unknown>,
  key: string,
  where: string,
  required: boolean,
): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new AnswerShapeError(`${where}: '${key}' is missing`);
    return undefined;
  }
  // Amounts are numeric strings; a bare JSON number is read from its text, never as a float sum.
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw new AnswerShapeError(`${where}: '${key}' is not a string`);
  return v;
}

function epoch(
  o: Record<string, unknown>,
  key: string,
  where: string,
  required: boolean,
): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new AnswerShapeError(`${where}: '${key}' is missing`);
    return undefined;
  }
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    throw new AnswerShapeError(`${where}: '${key}' is not epoch seconds`);
  return n;
}

/** Reads the `accounts` array of one /accounts answer. */
export function readAccounts(body: unknown): RawAccount[] {
  if (!isPlainObject(body) || !Array.isArray(body.accounts))
    throw new AnswerShapeError("the answer has no 'accounts' array");
  return body.accounts.map((a: unknown, i: number) => {
    if (!isPlainObject(a)) throw new AnswerShapeError(`accounts[${i}] is not an object`);
    const where = `account ${typeof a.id === 'string' ? a.id : `#${i}`}`;
    const txs = a.transactions ?? [];
    if (!Array.isArray(txs)) throw new AnswerShapeError(`${where}: 'transactions' is not an array`);
    const account: RawAccount = {
      id: str(a, 'id', where, true),
      name: str(a, 'name', where, false),
      currency: str(a, 'currency', where, true),
      balance: str(a, 'balance', where, true),
      availableBalance: str(a, 'available-balance', where, false),
      balanceDate: epoch(a, 'balance-date', where, false),
      connId: str(a, 'conn_id', where, false),
      transactions: txs.map((t: unknown, j: number) => {
        if (!isPlainObject(t))
          throw new AnswerShapeError(`${where}: transactions[${j}] is not an object`);
        const tw = `${where}, transaction ${typeof t.id === 'string' ? t.id : `#${j}`}`;
        return {
          id: str(t, 'id', tw, true),
          posted: epoch(t, 'posted', tw, true)!,
          amount: str(t, 'amount', tw, true),
          description: str(t, 'description', tw, false),
          transactedAt: epoch(t, 'transacted_at', tw, false),
          pending: t.pending === true,
          payee: str(t, 'payee', tw, false),
          memo: str(t, 'memo', tw, false),
        };
      }),
    };
    return account;
  });
}

export interface NormalizeOptions {
  timeZone: string;
  includePending: boolean;
  /** Today in the bank's zone, for a pending line with no date at all. */
  today: CalendarDate;
  window: { from: CalendarDate; to: CalendarDate };
  warn: (message: string) => void;
}

/**
 * One account (merged across the window's chunks) → a statement; `undefined` when the account
 * cannot be booked (a custom, non-ISO currency), with a warning.
 */
export function toStatement(
  account: RawAccount,
  opts: NormalizeOptions,
): BankAccountStatement | undefined {
  const currency = account.currency.trim().toUpperCase();
  if (!isCurrency(currency)) {
    opts.warn(
      `account ${account.id}${account.name ? ` (${account.name})` : ''} skipped: its currency '${account.currency}' is not an ISO 4217 code`,
    );
    return undefined;
  }
  const transactions: BankTransaction[] = [];
  for (const t of account.transactions) {
    // posted = 0 means pending (protocol "Transaction"); some bridges also send pending: true.
    const pending = t.posted === 0 || t.pending === true;
    if (pending && !opts.includePending) continue;
    const where = `account ${account.id}, transaction ${t.id}`;
    const when = pending ? (t.transactedAt ?? (t.posted || undefined)) : t.posted;
    const line: BankTransaction = {
      providerId: t.id,
      bookingDate: when ? dateAt(when, opts.timeZone) : opts.today,
      amount: answerAmount(t.amount, currency, where),
      currency,
      pending,
    };
    if (!pending && t.transactedAt) {
      const transacted = dateAt(t.transactedAt, opts.timeZone);
      if (transacted !== line.bookingDate) line.valueDate = transacted;
    }
    if (t.payee) line.payee = t.payee;
    const memo = t.memo ?? t.description;
    if (memo) line.memo = memo;
    if (!line.payee && t.description && t.memo) line.payee = t.description;
    transactions.push(line);
  }
  const balances: BankBalance[] = [];
  const balanceDate = account.balanceDate ? dateAt(account.balanceDate, opts.timeZone) : opts.today;
  balances.push({
    amount: answerAmount(account.balance, currency, `account ${account.id}: balance`),
    currency,
    date: balanceDate,
    kind: 'ledger',
  });
  if (account.availableBalance !== undefined) {
    balances.push({
      amount: answerAmount(
        account.availableBalance,
        currency,
        `account ${account.id}: available-balance`,
      ),
      currency,
      date: balanceDate,
      kind: 'available',
    });
  }
  return {
    accountId: account.id,
    currency,
    from: opts.window.from,
    to: opts.window.to,
    transactions,
    balances,
  };
}

/** Merges one account's answers from several chunks: transactions by id, the newest balance. */
export function mergeAccount(into: RawAccount | undefined, next: RawAccount): RawAccount {
  if (!into) return { ...next, transactions: [...next.transactions] };
  const seen = new Set(into.transactions.map((t) => t.id));
  for (const t of next.transactions) {
    if (!seen.has(t.id)) {
      into.transactions.push(t);
      seen.add(t.id);
    }
  }
  if ((next.balanceDate ?? 0) >= (into.balanceDate ?? 0)) {
    into.balance = next.balance;
    into.availableBalance = next.availableBalance;
    into.balanceDate = next.balanceDate;
  }
  return into;
}

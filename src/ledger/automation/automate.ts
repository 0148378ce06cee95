import { bankConnectionId, type BankConnectionDoc } from '../model';
import type { BooksStore } from '../store';
import {
  checkBalance,
  openingBalance,
  recordBalanceCheck,
  type BalanceCheck,
  type BankBalance,
  type OpeningResult,
} from './balances';
import { formatAmount } from '../../shared/money';
import { RateMissingError } from './errors';
import { postStatementLines, type PostingResult } from './posting';
import { type ReconcileOptions } from './payments';
import { reconcile, type ReconcileResult } from './reconcile';
import type { RuleSpec } from './rules';

/**
 * The ledger automation after one bank run, in one call for the daemon's `afterRun` hook:
 * post the connection's lines, reconcile, and, when the bank reported a balance
 * (`bank_connection.balance`), book the opening balance the first time and check the balance
 * every time (`ledger.balance_mismatch` on a difference; `lastBalanceChecks` for status).
 * Idempotent: it may run after failed runs and twice for the same run.
 */

export interface AutomationConfig extends ReconcileOptions {
  /** `ledger.reconcile.rules`, in order. */
  rules: ReadonlyArray<RuleSpec | Record<string, unknown>>;
}

export interface ConnectionRunResult {
  connection: string;
  /** `unmapped`: the connection has no `ledger.connections` entry; nothing was done. */
  skipped?: 'unmapped';
  posting?: PostingResult;
  reconcile?: ReconcileResult;
  opening?: OpeningResult;
  balance?: BalanceCheck;
}

export async function automateConnection(
  store: BooksStore,
  connection: string,
  config: AutomationConfig,
): Promise<ConnectionRunResult> {
  const mapping = config.connections.find((m) => m.connection === connection);
  if (!mapping) {
    config.logger?.debug(`${connection}: no ledger mapping, lines are not posted`, {
      event: 'ledger.unmapped',
      connection,
    });
    return { connection, skipped: 'unmapped' };
  }
  const result: ConnectionRunResult = { connection };
  result.posting = await postStatementLines(store, 'all', mapping, config);
  result.reconcile = await reconcile(store, config.rules, config);
  const state = await store.get<BankConnectionDoc>(bankConnectionId(connection));
  const reported: BankBalance | undefined = state?.balance;
  if (reported && reported.currency === mapping.currency) {
    try {
      result.opening = await openingBalance(store, mapping, reported, config);
    } catch (err) {
      if (!(err instanceof RateMissingError)) throw err;
      // The opening waits for its rate like a line does; without it a check would only mislead.
      config.logger?.warn(`${connection}: opening balance: ${err.message}`, {
        event: 'ledger.rate_missing',
        code: err.code,
        connection,
        from: err.from,
        to: err.to,
        date: err.date,
      });
      return result;
    }
    const check = await checkBalance(store, mapping, reported);
    result.balance = check;
    await recordBalanceCheck(store, check, (config.clock ?? (() => new Date()))().toISOString());
    if (!check.ok) {
      config.logger?.warn(
        `${connection}: the books hold ${formatAmount(check.books, check.currency)} ${check.currency} on ${check.account}, the bank reports ${formatAmount(check.bank, check.currency)} on ${check.date} (difference ${formatAmount(check.difference, check.currency)})`,
        {
          event: 'ledger.balance_mismatch',
          connection,
          account: check.account,
          currency: check.currency,
          date: check.date,
          books: check.books,
          bank: check.bank,
          difference: check.difference,
        },
      );
    }
  } else if (reported) {
    config.logger?.warn(
      `${connection}: the bank reports its balance in ${reported.currency}, the books keep ${mapping.currency}; not compared`,
      {
        event: 'ledger.balance_mismatch',
        connection,
        code: 'LEDGER_CURRENCY_MISMATCH',
      },
    );
  }
  return result;
}

import type { Logger } from '../../shared/logger';
import type { BooksStore } from '../store';

/**
 * The plain options of the ledger automation. The daemon maps its `Config` (`ledger:` section) onto
 * them; nothing here reads YAML.
 */

/** How one bank connection's statement lines are booked (`ledger.connections.<name>`). */
export interface ConnectionMapping {
  /** Bank connection name: the `<connection>` part of `stl:<connection>:<key>`. */
  connection: string;
  /** Journal code of the moves (a `bank` journal). */
  journal: string;
  /** Account code of the bank account (GL). */
  bank_account: string;
  /** Account code the counterpart sits on until the line is reconciled. */
  suspense_account: string;
  /** ISO 4217 currency of the bank account; must equal the journal's currency. */
  currency: string;
}

/** The accounts the automation books against besides a connection's own two. */
export interface AccountRoles {
  /** Customers owe us (sales invoices). */
  receivable: string;
  /** We owe vendors (bills). */
  payable: string;
  /** Equity account an opening balance is booked against. */
  opening_balance: string;
  /** Income account of a realised exchange gain (docs/CURRENCIES.md). */
  fx_gain: string;
  /** Expense account of a realised exchange loss. */
  fx_loss: string;
  /** Liquidity-transfer account money between two own bank accounts passes through (README). */
  transfer: string;
}

/** The demo chart's codes (config/demo-company.yaml). */
export const DEFAULT_ACCOUNT_ROLES: Readonly<AccountRoles> = Object.freeze({
  receivable: '1200',
  payable: '2000',
  opening_balance: '3000',
  fx_gain: '4900',
  fx_loss: '6900',
  transfer: '1090',
});

export type PostState = 'draft' | 'posted';

export interface AutomationOptions {
  /**
   * State of the moves the automation writes (`ledger.post_moves`). Reversals made by an undo are
   * always posted (they cancel a posted move).
   * @default 'posted'
   */
  post_moves?: PostState;
  /** @default DEFAULT_ACCOUNT_ROLES */
  accounts?: Partial<AccountRoles>;
  /** Receives structured lines (`ledger.post`, `ledger.post_refused`, `ledger.reconcile` ...). */
  logger?: Logger;
  /** Today's date for undo reversals; tests freeze it. @default system clock */
  clock?: () => Date;
  /**
   * The company (book-keeping) currency (`ledger.company.currency`). Lines of a connection in
   * another currency are posted with company-currency amounts at the rate of their date
   * (docs/CURRENCIES.md). Without it, every line posts in its own currency only.
   */
  company_currency?: string;
}

export function postState(opts: AutomationOptions): PostState {
  return opts.post_moves ?? 'posted';
}

export function accountRoles(opts: AutomationOptions): AccountRoles {
  return { ...DEFAULT_ACCOUNT_ROLES, ...(opts.accounts ?? {}) };
}

export function today(opts: AutomationOptions): string {
  return (opts.clock ?? (() => new Date()))().toISOString().slice(0, 10);
}

const queues = new WeakMap<BooksStore, Promise<unknown>>();

/**
 * Runs `fn` after every automation call already running on `store` has finished. Each call reads
 * documents, decides, then writes one batch; serialising them in the process keeps a second call
 * (the fetch loop's post-run hook and an admin's `booksync reconcile`) from deciding on what the
 * first is about to change.
 */
export function serialized<T>(store: BooksStore, fn: () => Promise<T>): Promise<T> {
  const before = queues.get(store) ?? Promise.resolve();
  const run = before.then(fn, fn);
  queues.set(
    store,
    run.then(
      () => undefined,
      () => undefined,
    ),
  );
  return run;
}

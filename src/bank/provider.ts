import type { CalendarDate } from '../shared/dates';
import type { Logger } from '../shared/logger';

/**
 * The contract every bank provider implements (one folder per provider under
 * `src/bank/providers/<id>/`, exporting `{ id, ... } satisfies BankProvider`, registered by hand in
 * `src/bank/providers/index.ts`). Modelled on Actual Budget's `IBank`
 * (research/aesthetics.md §3). A provider imports only this file, `src/bank/errors.ts` and
 * `src/shared`: never another provider, the ledger, sync or the daemon.
 */

/** One transaction as the bank reported it, normalised; nothing here is a float. */
export interface BankTransaction {
  /** The provider's transaction id (OFX FITID, GoCardless transactionId, SimpleFIN id). Absent when the bank sent none or an empty one. */
  providerId?: string;
  /** Booking (posting) date; for pending lines, the transaction date. */
  bookingDate: CalendarDate;
  valueDate?: CalendarDate;
  /** Signed integer minor units: positive money into the account, negative out of it. */
  amount: number;
  /** ISO 4217; the transaction's own currency. */
  currency: string;
  payee?: string;
  memo?: string;
  /** Structured or free-text remittance reference (RF creditor reference, +++…+++, end-to-end id). */
  reference?: string;
  counterpartyIban?: string;
  counterpartyName?: string;
  /** Check number / bank's own reference, kept for people. */
  checkNumber?: string;
  /** True while the bank still reports the transaction as pending (not booked). */
  pending: boolean;
  /** OFX CORRECTFITID / CORRECTACTION: this line replaces (or deletes) an earlier one. */
  corrects?: { providerId: string; action: 'REPLACE' | 'DELETE' };
}

/** Balance the bank reports for an account (minor units). */
export interface BankBalance {
  amount: number;
  currency: string;
  /** Date the balance is valid at. */
  date: CalendarDate;
  kind: 'ledger' | 'available';
}

/** One account's transactions from a fetch or a file. */
export interface BankAccountStatement {
  /** The bank's identifier of the account: IBAN, account number, OFX ACCTID, provider account id. */
  accountId: string;
  /** Bank identifier where known (OFX BANKID, BIC). */
  bankId?: string;
  currency: string;
  /** The window the statement covers, when the bank says so. */
  from?: CalendarDate;
  to?: CalendarDate;
  transactions: BankTransaction[];
  balances: BankBalance[];
}

/** What a provider returns for one run. */
export interface FetchResult {
  statements: BankAccountStatement[];
  /** When the provider's consent or access ends (ISO 8601), if it has such a thing. */
  consentExpiresAt?: string;
  /**
   * Called by the fetch loop once every statement line of this result is durably stored, e.g. to
   * move processed files into the archive folder. Never called when the run failed.
   */
  commit?: () => Promise<void>;
  /** Problems that did not fail the run (a skipped zero-amount line...), for the run log. */
  warnings: string[];
}

/** Everything a provider may use during one run. */
export interface FetchContext {
  /** Connection name from YAML; use it in every error message. */
  connection: string;
  /** The provider's own settings block from YAML, already validated by the config schema. */
  settings: Readonly<Record<string, unknown>>;
  /** Resolved secrets (from env or files), by the key the YAML gave them. Never log these. */
  secrets: Readonly<Record<string, string>>;
  /** Inclusive date window to fetch. */
  window: { from: CalendarDate; to: CalendarDate };
  includePending: boolean;
  /** Connection-private folder in the state directory (mode 0700), e.g. for a SimpleFIN access URL. */
  stateDir: string;
  logger: Logger;
  /** Aborted when the daemon stops or the run times out; pass it to every request. */
  signal: AbortSignal;
  /** Per-request timeout in milliseconds. */
  requestTimeoutMs: number;
  now: () => Date;
}

export interface BankProvider {
  /** The name used in YAML (`provider: simplefin`). */
  readonly id: string;
  /** One line for `booksync institutions` and docs. */
  readonly description: string;
  /**
   * Fetches the window. Throws a `BankError` subclass (src/bank/errors.ts) for anything that
   * failed: the loop then keeps the watermark and records the error. Must not return a partial
   * result as if it were whole.
   */
  fetch(ctx: FetchContext): Promise<FetchResult>;
}

import type { CalendarDate } from '../shared/dates';
import type { Logger } from '../shared/logger';
import type { MalformedStatementError } from './errors';

/**
 * The contract every bank provider implements (one folder per provider under
 * `src/bank/providers/<id>/`, exporting `{ id, ... } satisfies BankProvider`, registered by hand in
 * `src/bank/providers/index.ts`). Modelled on Actual Budget's `IBank`. A provider imports only
 * this file, `src/bank/errors.ts`, the statement readers in `src/bank/formats/` and `src/shared`:
 * never another provider, the ledger, sync or the daemon.
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
  /** The counterparty's account when it is not an IBAN (a domestic account number). */
  counterpartyAccount?: string;
  counterpartyName?: string;
  /** Check number / bank's own reference, kept for people. */
  checkNumber?: string;
  /** True while the bank still reports the transaction as pending (not booked). */
  pending: boolean;
  /** Further text the bank gave about the line (camt.053 AddtlTxInf / AddtlNtryInf, MT940 :86: text that is not remittance). */
  additionalInfo?: string;
  /** The line reverses an earlier booking (camt.053 RvslInd, MT940 RC/RD). */
  reversal?: boolean;
  /** Why a payment came back (camt.053 RtrInf/Rsn, SEPA return reason code such as AC04, MD06). */
  returnReason?: string;
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

/**
 * A provider's balance list → at most one ledger and one available balance: for each kind, the
 * first type of `preference` the list holds. `typeOf` names an entry's type; `read` reads the
 * chosen entry.
 */
export function preferredBalances<T>(
  list: readonly T[],
  typeOf: (entry: T) => unknown,
  preference: { ledger: readonly string[]; available: readonly string[] },
  read: (entry: T, type: string) => Omit<BankBalance, 'kind'>,
): BankBalance[] {
  const out: BankBalance[] = [];
  for (const kind of ['ledger', 'available'] as const) {
    for (const type of preference[kind]) {
      const entry = list.find((x) => typeOf(x) === type);
      if (entry === undefined) continue;
      out.push({ ...read(entry, type), kind });
      break;
    }
  }
  return out;
}

/** One account's transactions from a fetch or a file. */
export interface BankAccountStatement {
  /** The bank's identifier of the account: IBAN, account number, OFX ACCTID, provider account id. */
  accountId: string;
  /** Bank identifier where known (OFX BANKID, BIC). */
  bankId?: string;
  /** The bank's id or number of the statement, where the format has one (MT940 :20: and :28C:, camt.053 Stmt/Id). */
  statementId?: string;
  currency: string;
  /** The window the statement covers, when the bank says so. */
  from?: CalendarDate;
  to?: CalendarDate;
  transactions: BankTransaction[];
  balances: BankBalance[];
}

/** A statement of a {@link StatementStream} as known when its end is read: all but its lines. */
export type StreamedStatement = Omit<BankAccountStatement, 'transactions'> & {
  /** How many lines the statement had (all of them given to the sink before this). */
  transactionCount: number;
};

/**
 * Receives one read of a {@link StatementStream}. The shape of the file parsers' sinks
 * (`OfxSink`, `CamtSink`), so a parser can write to it directly.
 */
export interface StatementSink {
  /** One line, in input order, of the statement numbered `statementIndex` (0-based, input order). */
  transaction(tx: BankTransaction, statementIndex: number): void;
  /** Statement `statementIndex` ended; every line of it came before. */
  statement(statement: StreamedStatement, statementIndex: number): void;
  /**
   * Awaited by the reader after each chunk of input it parsed: the consumer stores what it was
   * given meanwhile, so a read never runs ahead of the writes (backpressure), and throws to stop
   * the read (the run was aborted).
   */
  drain(): Promise<void>;
}

/**
 * An input too large to hold as arrays of lines: a 100,000-line statement file is 50 MB of XML
 * and, parsed, several hundred megabytes of lines and documents. The fetch loop reads it twice:
 *
 * 1. a checking pass: every line is validated and counted, nothing is kept and nothing stored;
 *    an input that fails anywhere (a malformed transaction on the last line) imports nothing;
 * 2. a storing pass: each line is planned (deduplicated) and stored in batches as it is read.
 *
 * So every `read` must give the same lines in the same order (a file read again from its start);
 * the loop checks the counts and fails the run if they differ. Lines come as the parser read them:
 * provider ids that several lines of one statement share are dropped by the loop, as
 * `dropSharedProviderIds` drops them from parsed files. New lines are written as they are
 * planned, so a failure in the storing pass (disk full) leaves some stored with the watermark
 * unmoved and the input uncommitted; their ids are deterministic and the retry completes the run. A provider returns small results
 * (an API page, a CSV) as `statements`; a stream is for inputs whose size it cannot bound.
 */
export interface StatementStream {
  /** Names the input in messages and warnings (the file name). */
  readonly name: string;
  /**
   * Reads the input from its start into `sink`, awaiting `sink.drain()` between chunks. Throws
   * `MalformedStatementError` for an input it cannot read (in the first pass, before anything is
   * stored), any other `BankError` for a failure to read it. Returns the input's warnings.
   */
  read(sink: StatementSink): Promise<{ warnings: string[] }>;
  /**
   * Called when the checking pass found the input malformed. With it, the loop leaves this input
   * out of the run (nothing of it is stored) and goes on with the rest, as a drop folder rejects
   * one bad file and imports the others; without it, the run fails.
   */
  reject?(error: MalformedStatementError): Promise<void>;
}

/** What a provider returns for one run. */
export interface FetchResult {
  statements: BankAccountStatement[];
  /**
   * Inputs read by the loop itself, in two passes (see {@link StatementStream}); their statements
   * count as coming after `statements`. Lines are deduplicated as if they were in `statements`.
   */
  streams?: StatementStream[];
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

import { assertCalendarDate, type CalendarDate } from '../shared/dates';
import { LedgerError } from './errors';

/**
 * The accounting document model of the local books. Every document carries `type` and an `_id`
 * that starts with its id prefix (`account:1010`, `move:BNK1:2024:000123`, `stl:<connection>:<key>`).
 * Money fields are integer minor units next to an ISO 4217 `currency`; posting dates are
 * calendar dates; instants (`created_at`, `updated_at`, `imported_at` ...) are ISO 8601 UTC.
 *
 * Documents are open for extension: fields not listed here are kept as they are (another tool or
 * a newer booksync may have written them), only the listed ones are checked (see validate.ts).
 */

/** Every document type of the books, as written in the document's `type` field. */
export const DOC_TYPES = [
  'account',
  'journal',
  'partner',
  'move',
  'invoice',
  'payment',
  'statement_line',
  'bank_connection',
  'audit',
  'rate',
  'transfer',
] as const;

export type DocType = (typeof DOC_TYPES)[number];

/** The `_id` prefix (before the first `:`) of each type. Two types use a short prefix. */
export const ID_PREFIX: Readonly<Record<DocType, string>> = Object.freeze({
  account: 'account',
  journal: 'journal',
  partner: 'partner',
  move: 'move',
  invoice: 'invoice',
  payment: 'payment',
  statement_line: 'stl',
  bank_connection: 'bankconn',
  audit: 'audit',
  rate: 'rate',
  transfer: 'transfer',
});

const TYPE_BY_PREFIX: ReadonlyMap<string, DocType> = new Map(
  DOC_TYPES.map((t) => [ID_PREFIX[t], t] as const),
);

export function isDocType(value: unknown): value is DocType {
  return typeof value === 'string' && (DOC_TYPES as readonly string[]).includes(value);
}

/**
 * The document type an id belongs to, from its prefix (`stl:` → `statement_line`,
 * `bankconn:` → `bank_connection`); `undefined` for ids outside the books (`_design/`, `_local/`,
 * unknown prefixes).
 */
export function docType(id: string): DocType | undefined {
  const at = id.indexOf(':');
  if (at <= 0) return undefined;
  return TYPE_BY_PREFIX.get(id.slice(0, at));
}

/** Fields every document has. `created_at` / `updated_at` are stamped by the writer (the store). */
export interface BaseDoc {
  _id: string;
  _rev?: string;
  type: DocType;
  /** ISO 8601 UTC instant of the first write. */
  created_at?: string;
  /** ISO 8601 UTC instant of the last write; conflict strategy `newest-wins` reads it. */
  updated_at?: string;
}

export const ACCOUNT_KINDS = ['asset', 'liability', 'equity', 'income', 'expense'] as const;
export type AccountKind = (typeof ACCOUNT_KINDS)[number];

/** `account:<code>`: an account of the chart of accounts. */
export interface AccountDoc extends BaseDoc {
  type: 'account';
  code: string;
  name: string;
  kind: AccountKind;
  /** True for accounts cleared by reconciliation (receivable, payable, bank suspense). */
  reconcile?: boolean;
  /** Set when the account may only hold this currency. */
  currency?: string;
}

export const JOURNAL_KINDS = ['bank', 'sale', 'purchase', 'general'] as const;
export type JournalKind = (typeof JOURNAL_KINDS)[number];

/** `journal:<code>`: a journal moves are posted in (a bank journal per bank connection). */
export interface JournalDoc extends BaseDoc {
  type: 'journal';
  code: string;
  name: string;
  kind: JournalKind;
  currency: string;
  /** Account code; for a bank journal, the bank account itself. */
  default_account: string;
  /** Account code statement lines are booked against until reconciled. */
  suspense_account?: string;
}

export interface PartnerBankAccount {
  /** Absent on a site whose sync rules keep IBANs away (`exclude: { both: ["bank_accounts[].iban"] }`). */
  iban?: string;
  bic?: string;
}

/** `partner:<id>`: a customer or vendor. */
export interface PartnerDoc extends BaseDoc {
  type: 'partner';
  name: string;
  email?: string;
  vat?: string;
  bank_accounts: PartnerBankAccount[];
  internal_notes?: string;
}

export const MOVE_STATES = ['draft', 'posted'] as const;
export type MoveState = (typeof MOVE_STATES)[number];

/**
 * The company-currency side of a move line in another currency (docs/CURRENCIES.md): the same
 * money converted at the rate of the move's date. Exactly one of `debit` / `credit` is non-zero.
 */
export interface CompanyAmount {
  /** The company (book-keeping) currency. */
  currency: string;
  debit: number;
  credit: number;
  /** 1 unit of the line's currency = `rate` company currency: decimal text, or `num/den` for a cross rate. */
  rate?: string;
}

/**
 * One line of a move: exactly one of `debit` / `credit` is non-zero; both are ≥ 0 minor units.
 * A line with a `company` part may have both 0 in its own currency (a realised exchange
 * difference moves company-currency money only).
 */
export interface MoveLine {
  /** Account code. */
  account: string;
  /** Partner id (`partner:<id>`). */
  partner?: string;
  label?: string;
  debit: number;
  credit: number;
  currency: string;
  /** The company-currency amount of a line in another currency. */
  company?: CompanyAmount;
}

/** `move:<journal>:<key>`: a journal entry. Balanced per currency; immutable once posted. */
export interface MoveDoc extends BaseDoc {
  type: 'move';
  /** Journal code (the `<journal>` part of the id). */
  journal: string;
  date: CalendarDate;
  ref?: string;
  state: MoveState;
  lines: MoveLine[];
  /** The statement line (`stl:...`) this move books. */
  statement_line?: string;
  /** The move (`move:...`) this move reverses. */
  reverses?: string;
  /** ISO 8601 UTC instant the move was posted; the store stamps it on draft → posted. */
  posted_at?: string;
}

export const INVOICE_KINDS = ['out_invoice', 'in_invoice', 'out_refund', 'in_refund'] as const;
/**
 * `out_invoice`: a sales invoice (we are paid); `in_invoice`: a vendor bill (we pay);
 * `out_refund`: a customer credit note (we owe the customer); `in_refund`: a vendor credit note
 * (the vendor owes us). Credit notes mirror their invoices (README, "Refunds and credit notes").
 */
export type InvoiceKind = (typeof INVOICE_KINDS)[number];

/** The invoice kind each credit note kind credits. */
export const CREDITED_KIND: Readonly<Record<'out_refund' | 'in_refund', InvoiceKind>> =
  Object.freeze({ out_refund: 'out_invoice', in_refund: 'in_invoice' });

export function isCreditNote(kind: InvoiceKind): kind is 'out_refund' | 'in_refund' {
  return kind === 'out_refund' || kind === 'in_refund';
}

/** True for the customer side (receivable): sales invoices and customer credit notes. */
export function isCustomerKind(kind: InvoiceKind): boolean {
  return kind === 'out_invoice' || kind === 'out_refund';
}

export const INVOICE_STATES = ['draft', 'open', 'partial', 'paid', 'cancelled'] as const;
export type InvoiceState = (typeof INVOICE_STATES)[number];

/** `invoice:<number>`: a sales invoice, vendor bill or credit note. `total` and `residual` are ≥ 0. */
export interface InvoiceDoc extends BaseDoc {
  type: 'invoice';
  kind: InvoiceKind;
  number: string;
  /** Partner id (`partner:<id>`). */
  partner: string;
  date: CalendarDate;
  due_date: CalendarDate;
  currency: string;
  total: number;
  /** Amount still to be paid; 0 when paid. */
  residual: number;
  state: InvoiceState;
  /** Structured reference the payer quotes: an RF creditor reference, `+++123/4567/89012+++` ... */
  payment_reference?: string;
  /** An invoice in a foreign currency: its total in company currency at the rate of its date. */
  company?: { currency: string; total: number; rate: string };
  /** A credit note only: the invoice (`invoice:<number>`) it credits. */
  credits?: string;
}

/**
 * `payment:<id>`: money that cleared (part of) an invoice, or a credit note applied to its
 * invoice (`applied_with` names the other document; then there is no statement line).
 */
export interface PaymentDoc extends BaseDoc {
  type: 'payment';
  partner?: string;
  /**
   * Invoice id (`invoice:<number>`): the invoice, bill or credit note this payment clears; for a
   * bank line matched with a hand-made entry that duplicates it, that entry's move id (the
   * automation's payment then names it in `entry` too); for a refund of an overpayment, the
   * statement line at the other end (then named in `counterpart_line` too).
   */
  invoice: string;
  /** A credit-note application: the document (`invoice:<number>`) that cleared `invoice`. */
  applied_with?: string;
  statement_line?: string;
  /** The move (`move:...`) that books the payment. */
  move: string;
  date: CalendarDate;
  /** Non-zero minor units. */
  amount: number;
  currency: string;
}

export const STATEMENT_LINE_STATES = ['new', 'posted', 'reconciled', 'deleted'] as const;
/**
 * `deleted` is how a line the user deleted is remembered, so that no later fetch brings it back;
 * `reconciled` lines are never changed by a fetch either.
 */
export type StatementLineState = (typeof STATEMENT_LINE_STATES)[number];

/** `stl:<connection>:<key>`: one bank transaction as imported. */
export interface StatementLineDoc extends BaseDoc {
  type: 'statement_line';
  /** Bank connection name (the `<connection>` part of the id). */
  connection: string;
  /** The bank's id of the account (IBAN, account number, provider account id). */
  account_id: string;
  date: CalendarDate;
  value_date?: CalendarDate;
  /** Signed minor units: positive money in, negative money out. */
  amount: number;
  currency: string;
  payee?: string;
  memo?: string;
  reference?: string;
  counterparty_iban?: string;
  counterparty_name?: string;
  /** The counterparty's account when it is not an IBAN. */
  counterparty_account?: string;
  /** Further text the bank gave (camt.053 AddtlTxInf, MT940 :86: subfields that are not remittance). */
  additional_info?: string;
  /** The line reverses an earlier booking (camt.053 RvslInd). */
  reversal?: boolean;
  /** Why a payment came back (camt.053 RtrInf/Rsn, MT940 /RTRN/): a SEPA reason code such as AC04. */
  return_reason?: string;
  provider_id?: string;
  dedup_key: string;
  pending: boolean;
  state: StatementLineState;
  /** The move (`move:...`) booking this line, once posted. */
  move?: string;
  /** ISO 8601 UTC instant of the import. */
  imported_at: string;
  /** The statement line id that replaced this one (a pending line replaced by its booked version). */
  replaced_by?: string;
  /** ISO instant a fetch found this pending line gone from the feed; cleared if it comes back. */
  vanished_at?: string;
  /** The bank import that wrote this line; invisible while that import is staged (staged-imports.ts). */
  import_id?: string;
}

export const BANK_CONNECTION_STATUSES = [
  'connected',
  'fetching',
  'error',
  'auth_required',
  'consent_expiring',
  'consent_expired',
  'rate_limited',
  'disconnected',
] as const;
export type BankConnectionStatus = (typeof BANK_CONNECTION_STATUSES)[number];

export interface BankConnectionCounts {
  fetched: number;
  new: number;
  duplicates: number;
  pending: number;
}

/** `bankconn:<name>`: the state of one configured bank connection. */
export interface BankConnectionDoc extends BaseDoc {
  type: 'bank_connection';
  name: string;
  provider: string;
  institution: string;
  status: BankConnectionStatus;
  last_refresh_at?: string;
  last_success_at?: string;
  next_run_at?: string;
  consent_expires_at?: string;
  /** Last booking date fully fetched; the next window starts from it minus the overlap. */
  watermark?: CalendarDate;
  last_error?: { code: string; message: string };
  counts: BankConnectionCounts;
  balance?: { amount: number; currency: string; date: CalendarDate };
}

export const AUDIT_TAKEN = ['local', 'remote', 'merged'] as const;

/**
 * `audit:<time>:<docid>`: a conflict resolution the sync engine made, with the values it
 * overwrote. The sync engine owns the exact shape; any extra field is accepted.
 */
export interface AuditDoc extends BaseDoc {
  type: 'audit';
  doc_id: string;
  strategy?: string;
  resolved_at?: string;
  local?: unknown;
  remote?: unknown;
  base?: unknown;
  taken?: (typeof AUDIT_TAKEN)[number];
  overwritten?: unknown;
  [extra: string]: unknown;
}

/**
 * `rate:<base>:<quote>:<date>`: an exchange rate, 1 `base` = `rate` `quote` on `date`, as a rates
 * provider published it (docs/CURRENCIES.md). `rate` is decimal text, never a float.
 */
export interface RateDoc extends BaseDoc {
  type: 'rate';
  base: string;
  quote: string;
  date: CalendarDate;
  rate: string;
  /** Where it came from: `ecb`, `csv:<file name>`. */
  source: string;
}

export const TRANSFER_STATES = ['posted', 'cancelled'] as const;

/** One side of a transfer between own accounts: a statement line and the move that clears it. */
export interface TransferLeg {
  /** The statement line (`stl:...`). */
  line: string;
  connection: string;
  /** The move clearing the line's suspense against the transfer account. */
  move: string;
  date: CalendarDate;
  /** Minor units (> 0) of `currency`, the line's currency. */
  amount: number;
  currency: string;
  /** The leg's company-currency value as its posting booked it (docs/CURRENCIES.md). */
  company_amount?: number;
}

/**
 * `transfer:<id>`: money moved between two of the company's own bank accounts (README, "Transfers
 * between own accounts"): the outgoing line `from` and the incoming line `to`, each cleared
 * through the liquidity-transfer `account`. `cancelled` once undone; kept for the audit trail.
 */
export interface TransferDoc extends BaseDoc {
  type: 'transfer';
  state: (typeof TRANSFER_STATES)[number];
  /** Account code of the liquidity-transfer account. */
  account: string;
  from: TransferLeg;
  to: TransferLeg;
  /** Cross-currency only: 1 `from.currency` = `rate` `to.currency` on `rate_date`, the rate the pair was matched at. */
  rate?: string;
  rate_date?: CalendarDate;
  /** Company-currency difference of the two legs' values, booked in `to.move` (> 0: a gain). */
  exchange_difference?: { account: string; amount: number; currency: string };
  /** The rule that matched, and why. */
  rule: string;
  reason: string;
  /** The reversals an undo wrote. */
  reversed_by?: string[];
}

export type BooksDoc =
  | AccountDoc
  | JournalDoc
  | PartnerDoc
  | MoveDoc
  | InvoiceDoc
  | PaymentDoc
  | StatementLineDoc
  | BankConnectionDoc
  | AuditDoc
  | RateDoc
  | TransferDoc;

/** The document interface of each type. */
export interface DocOfType {
  account: AccountDoc;
  journal: JournalDoc;
  partner: PartnerDoc;
  move: MoveDoc;
  invoice: InvoiceDoc;
  payment: PaymentDoc;
  statement_line: StatementLineDoc;
  bank_connection: BankConnectionDoc;
  audit: AuditDoc;
  rate: RateDoc;
  transfer: TransferDoc;
}

/** A deletion as PouchDB writes it (`_bulk_docs` with `_deleted: true`). */
export interface DeletionStub {
  _id: string;
  _rev?: string;
  _deleted: true;
}

// ---- id builders -------------------------------------------------------------------------------
// A part that is followed by another part may not contain ':' (it would make the id ambiguous);
// the last part may (move keys such as `2024:000123`). Builders throw on empty parts.

function part(value: string, what: string, last: boolean): string {
  const text = String(value ?? '');
  if (text === '') throw new TypeError(`${what} must not be empty`);
  if (!last && text.includes(':')) throw new TypeError(`${what} '${text}' must not contain ':'`);
  return text;
}

export function accountId(code: string): string {
  return `account:${part(code, 'account code', true)}`;
}
export function journalId(code: string): string {
  return `journal:${part(code, 'journal code', true)}`;
}
export function partnerId(id: string): string {
  return `partner:${part(id, 'partner id', true)}`;
}
export function moveId(journal: string, key: string): string {
  return `move:${part(journal, 'journal code', false)}:${part(key, 'move key', true)}`;
}
export function invoiceId(number: string): string {
  return `invoice:${part(number, 'invoice number', true)}`;
}
export function paymentId(id: string): string {
  return `payment:${part(id, 'payment id', true)}`;
}
export function statementLineId(connection: string, key: string): string {
  return `stl:${part(connection, 'connection name', false)}:${part(key, 'statement line key', true)}`;
}
export function bankConnectionId(name: string): string {
  return `bankconn:${part(name, 'connection name', true)}`;
}
/** `audit:<time>:<docid>`; `time` is an ISO 8601 UTC instant (it contains ':' itself). */
export function auditId(time: string, docId: string): string {
  return `audit:${part(time, 'audit time', true)}:${part(docId, 'audited document id', true)}`;
}

/** `rate:<base>:<quote>:<date>`. */
export function rateId(base: string, quote: string, date: string): string {
  return `rate:${part(base, 'base currency', false)}:${part(quote, 'quote currency', false)}:${part(date, 'rate date', true)}`;
}

/** `transfer:<id>`. */
export function transferId(id: string): string {
  return `transfer:${part(id, 'transfer id', true)}`;
}

/** The id prefix (with the trailing ':') all documents of `type` share: `allDocs` range starts. */
export function idPrefix(type: DocType): string {
  return `${ID_PREFIX[type]}:`;
}

export function isMove(doc: { type?: unknown } | undefined): doc is MoveDoc {
  return doc !== undefined && doc.type === 'move';
}

export interface ReverseOptions {
  /** Reference of the reversal; default `Reversal of <move id>`. */
  ref?: string;
  /** Default `posted`: a reversal exists to cancel a posted move, and is final itself. */
  state?: 'draft' | 'posted';
}

/**
 * Builds the move that cancels a posted `move`: same journal, every line with debit and credit
 * swapped, `reverses` pointing at the original, id `move:<journal>:<key>`. The original is left
 * untouched (it is immutable); write the result through the store.
 */
export function reverseMove(
  move: MoveDoc,
  date: CalendarDate,
  key: string,
  options: ReverseOptions = {},
): MoveDoc {
  assertCalendarDate(date, 'reversal date');
  if (move.state !== 'posted') {
    throw new LedgerError([
      {
        doc_id: move._id,
        code: 'LEDGER_INVALID_DOC',
        rule: 'reverse_draft',
        field: 'state',
        message: `${move._id}: only a posted move is reversed; edit or delete a draft instead`,
      },
    ]);
  }
  const id = moveId(move.journal, key);
  if (id === move._id) {
    throw new LedgerError([
      {
        doc_id: id,
        code: 'LEDGER_ID_MISMATCH',
        rule: 'reverse_same_id',
        field: '_id',
        message: `${id}: a reversal needs its own key, not the original's`,
      },
    ]);
  }
  const lines: MoveLine[] = move.lines.map((l) => ({
    ...l,
    debit: l.credit,
    credit: l.debit,
    ...(l.company
      ? { company: { ...l.company, debit: l.company.credit, credit: l.company.debit } }
      : {}),
  }));
  const reversal: MoveDoc = {
    _id: id,
    type: 'move',
    journal: move.journal,
    date,
    ref: options.ref ?? `Reversal of ${move._id}`,
    state: options.state ?? 'posted',
    lines,
    reverses: move._id,
  };
  return reversal;
}

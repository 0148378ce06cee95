import type { CodesRaisedAs, ErrorCatalog } from '../shared/errors';

/**
 * The stable codes of the books (write rules, store, automation), with the class that raises each
 * and its meaning; listed in docs/ERRORS.md.
 */
export const LEDGER_ERROR_CODES = {
  LEDGER_UNBALANCED: {
    raisedAs: 'LedgerError',
    meaning: "a move's lines do not balance in one of its currencies",
  },
  LEDGER_POSTED_IMMUTABLE: {
    raisedAs: 'LedgerError',
    meaning: 'a write would edit or delete a posted move; reverse it with a new move instead',
  },
  LEDGER_INVALID_DOC: {
    raisedAs: 'LedgerError',
    meaning: 'a document breaks a shape rule (required field, type, enum, integer amount)',
  },
  LEDGER_ID_MISMATCH: {
    raisedAs: 'LedgerError',
    meaning: "a document's _id does not match its type and key fields",
  },
  LEDGER_OVERRIDE_INVALID: {
    raisedAs: 'LedgerError',
    meaning: 'an admin override names no reason or a rule that cannot be overridden',
  },
  LEDGER_MAPPING_INVALID: {
    raisedAs: 'AutomationError',
    meaning:
      'a connection mapping names a journal or account the books do not have, or disagrees with it',
  },
  LEDGER_RATE_MISSING: {
    raisedAs: 'RateMissingError',
    meaning:
      'no exchange rate for a currency pair on a date yet; the line waits and is posted when it arrives',
  },
  LEDGER_CURRENCY_MISMATCH: {
    raisedAs: 'AutomationError',
    meaning: "a statement line's currency differs from its journal's (no conversion is invented)",
  },
  LEDGER_RULE_UNKNOWN: {
    raisedAs: 'AutomationError',
    meaning: 'a reconciliation rule names a kind booksync does not know',
  },
  LEDGER_RULE_INVALID: {
    raisedAs: 'AutomationError',
    meaning:
      "a reconciliation rule's settings are wrong (tolerance, days), its write_off account is not in the books, or a second transfer rule is configured",
  },
  LEDGER_NOT_FOUND: {
    raisedAs: 'AutomationError',
    meaning: 'a statement line, invoice or move named by the caller does not exist',
  },
  LEDGER_RECONCILE_REFUSED: {
    raisedAs: 'AutomationError',
    meaning:
      'a manual reconciliation or undo the books cannot honour (wrong direction, nothing left)',
  },
  LEDGER_WRITE_OFF_TOO_LARGE: {
    raisedAs: 'AutomationError',
    meaning:
      'a manual write-off (`reconcile --write-off`) would book a difference above its limit; give a larger limit',
  },
  LEDGER_SUGGESTION_STALE: {
    raisedAs: 'AutomationError',
    meaning:
      "`reconcile LINE --accept N`: the line's suggestions changed since they were listed (or were never listed); nothing was booked",
  },
  LEDGER_CHART_INVALID: {
    raisedAs: 'AutomationError',
    meaning: 'the chart of accounts / company file is malformed',
  },
  STORE_LOCKED: {
    raisedAs: 'StoreLockedError',
    meaning: 'the books folder is already open in this or another process (LevelDB lock held)',
  },
  STORE_CONFLICT: {
    raisedAs: 'StoreConflictError',
    meaning:
      'a write lost a revision race (the stored revision changed); details.ids names the documents',
  },
  STORE_OPEN: {
    raisedAs: 'StoreError',
    meaning: 'the books folder cannot be created or opened',
  },
  STORE_IO: {
    raisedAs: 'StoreError',
    meaning: 'reading the books failed (disk, corrupt files, database closed)',
  },
  STORE_WRITE: {
    raisedAs: 'StoreError',
    meaning: 'writing to the books failed for a reason other than a rule or a revision race',
  },
} as const satisfies ErrorCatalog;

export type LedgerCatalogCode = keyof typeof LEDGER_ERROR_CODES;

/** The ledger codes that the class named `Raiser` raises. */
export type LedgerCodeOf<Raiser extends string> = CodesRaisedAs<typeof LEDGER_ERROR_CODES, Raiser>;

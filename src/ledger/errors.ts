import { LEDGER_ERROR_CODES, type LedgerCodeOf } from './error-codes';
import { BooksyncError, codesRaisedAs, type BooksyncErrorOptions } from '../shared/errors';

/** One rule a document broke, naming the document and (where there is one) the field. */
export interface LedgerProblem {
  doc_id: string;
  /** Stable error code of this problem (`LEDGER_INVALID_DOC`, `LEDGER_UNBALANCED` ...). */
  code: LedgerErrorCode;
  /** Stable rule name, e.g. `required`, `enum`, `integer`, `balance`, `posted_immutable`. */
  rule: string;
  /** Dotted field path (`lines[2].debit`) when the problem is about one field. */
  field?: string;
  message: string;
}

export type LedgerErrorCode = LedgerCodeOf<'LedgerError'>;

/**
 * A write the books refuse. `code` is the code of the first problem; `details` carry `doc_id`,
 * `rule`, `field` of that problem and the full `problems` list (a batch write reports every
 * invalid document at once).
 */
export class LedgerError extends BooksyncError {
  static readonly codes = codesRaisedAs(LEDGER_ERROR_CODES, 'LedgerError');
  declare readonly code: LedgerErrorCode;
  readonly problems: readonly LedgerProblem[];

  constructor(problems: LedgerProblem[], options: { cause?: unknown } = {}) {
    if (problems.length === 0) throw new TypeError('LedgerError needs at least one problem');
    const first = problems[0];
    const message =
      problems.length === 1
        ? first.message
        : `${problems.length} problems: ${problems.map((p) => p.message).join('; ')}`;
    super(first.code, message, {
      cause: options.cause,
      details: {
        doc_id: first.doc_id,
        rule: first.rule,
        ...(first.field ? { field: first.field } : {}),
        problems,
      },
    });
    this.problems = Object.freeze([...problems]);
  }
}

/** Another process (or this one) already has the LevelDB folder open. */
export class StoreLockedError extends BooksyncError {
  static readonly code = 'STORE_LOCKED' satisfies LedgerCodeOf<'StoreLockedError'>;
  declare readonly code: typeof StoreLockedError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(StoreLockedError.code, message, options);
  }
}

/** A write lost a revision race (PouchDB 409); `details.ids` names the documents. */
export class StoreConflictError extends BooksyncError {
  static readonly code = 'STORE_CONFLICT' satisfies LedgerCodeOf<'StoreConflictError'>;
  declare readonly code: typeof StoreConflictError.code;

  constructor(ids: string[], options: { cause?: unknown } = {}) {
    super(
      StoreConflictError.code,
      `document update conflict (the stored revision changed) for ${ids.join(', ')}`,
      {
        cause: options.cause,
        details: { ids },
      },
    );
  }
}

/** Any other storage failure (disk, corrupt files), with the PouchDB/LevelDB error as `cause`. */
export class StoreError extends BooksyncError {
  static readonly codes = codesRaisedAs(LEDGER_ERROR_CODES, 'StoreError');
  declare readonly code: LedgerCodeOf<'StoreError'>;

  constructor(
    code: LedgerCodeOf<'StoreError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

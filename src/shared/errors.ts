import { SHARED_ERROR_CODES, type SharedCodeOf } from './error-codes';

/** What every error constructor takes besides its code and message. */
export interface BooksyncErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

/**
 * The one error base class of booksync. Every error the daemon raises on purpose is a
 * `BooksyncError` with a stable `code` (callers branch on the class or the code, never on the
 * message text) and, where it wraps another failure, a chained `cause`.
 *
 * Subclasses exist only for conditions a caller can act on (modelled on undici's
 * `lib/core/errors.js` and BullMQ's `UnrecoverableError`): a class raised for one condition has
 * `static readonly code`; a class raised for a family of conditions takes one of the codes its
 * module's catalog (`src/<module>/error-codes.ts`, listed in docs/ERRORS.md) assigns to it.
 */
export class BooksyncError extends Error {
  /** Stable machine-readable code, e.g. `CONFIG_INVALID`, `LEDGER_UNBALANCED`. */
  readonly code: string;
  /** Structured context (document id, connection, key path...) safe to log. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: BooksyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
    Object.setPrototypeOf(this, new.target.prototype);
  }

  /** A plain object for logs and the control channel. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, ...this.details };
  }
}

/** Raised for text that is not a valid amount, currency or date. */
export class InvalidValueError extends BooksyncError {
  static readonly codes = codesRaisedAs(SHARED_ERROR_CODES, 'InvalidValueError');
  declare readonly code: SharedCodeOf<'InvalidValueError'>;

  constructor(
    code: SharedCodeOf<'InvalidValueError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/**
 * An error that retrying cannot fix (bad credentials, revoked consent, a config mistake): the
 * caller must stop its schedule until something changes, instead of backing off and retrying.
 */
export class PermanentError extends BooksyncError {}

/** A state file of the installation cannot be read or written (permissions, full disk). */
export class StateFileError extends PermanentError {
  static readonly codes = codesRaisedAs(SHARED_ERROR_CODES, 'StateFileError');
  declare readonly code: SharedCodeOf<'StateFileError'>;

  constructor(
    code: SharedCodeOf<'StateFileError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/**
 * One entry of a module's error-code catalog (`src/<module>/error-codes.ts`): the error class that
 * raises the code (or `last_error` for a code that is only recorded in a status document) and
 * what it means, in one line. docs/ERRORS.md lists every catalog.
 */
export interface ErrorCodeEntry {
  readonly raisedAs: string;
  readonly meaning: string;
}

export type ErrorCatalog = Readonly<Record<string, ErrorCodeEntry>>;

/** The codes of `Catalog` that the class named `Raiser` raises. */
export type CodesRaisedAs<Catalog extends ErrorCatalog, Raiser extends string> = {
  [Code in keyof Catalog]: Catalog[Code]['raisedAs'] extends Raiser ? Code : never;
}[keyof Catalog] &
  string;

/** The codes of `catalog` that the class named `raiser` raises, for the class's static `codes`. */
export function codesRaisedAs<Catalog extends ErrorCatalog, Raiser extends string>(
  catalog: Catalog,
  raiser: Raiser,
): readonly CodesRaisedAs<Catalog, Raiser>[] {
  return Object.freeze(
    Object.keys(catalog).filter((code) => catalog[code].raisedAs === raiser),
  ) as readonly CodesRaisedAs<Catalog, Raiser>[];
}

/** True when `err` is a BooksyncError carrying `code`. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof BooksyncError && err.code === code;
}

/** A short human string for any thrown value (for logs and status documents). */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof BooksyncError) return { code: err.code, message: err.message };
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return { code: typeof code === 'string' ? code : 'INTERNAL', message: err.message };
  }
  return { code: 'INTERNAL', message: String(err) };
}

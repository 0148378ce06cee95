import {
  LOCAL_API_ERROR_CODES,
  isCouchErrorName,
  type CouchErrorName,
  type LocalApiCodeOf,
} from './error-codes';
import { BooksyncError, codesRaisedAs, type BooksyncErrorOptions } from '../shared/errors';
import { LedgerError } from '../ledger';

/** The local API cannot start or reload (missing credentials, address in use). */
export class LocalApiError extends BooksyncError {
  static readonly codes = codesRaisedAs(LOCAL_API_ERROR_CODES, 'LocalApiError');
  declare readonly code: LocalApiCodeOf<'LocalApiError'>;

  constructor(
    code: LocalApiCodeOf<'LocalApiError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/**
 * An answer in CouchDB's error shape: HTTP `status` and the body `{error, reason}` (plus `code`
 * for a ledger refusal).
 * @link https://docs.couchdb.org/en/stable/api/basics.html#http-status-codes
 */
export class CouchError extends BooksyncError {
  static readonly codes = codesRaisedAs(LOCAL_API_ERROR_CODES, 'CouchError');
  declare readonly code: LocalApiCodeOf<'CouchError'>;
  readonly status: number;
  readonly error: CouchErrorName;
  readonly reason: string;
  /** Stable booksync code when a ledger rule refused the write (`LEDGER_UNBALANCED` ...). */
  readonly ledgerCode: string | undefined;

  constructor(
    status: number,
    error: CouchErrorName,
    reason: string,
    options: { cause?: unknown; ledgerCode?: string } = {},
  ) {
    super(`LOCAL_API_${error.toUpperCase()}`, reason, {
      cause: options.cause,
      details: { status, error },
    });
    this.status = status;
    this.error = error;
    this.reason = reason;
    this.ledgerCode = options.ledgerCode;
  }

  /** The response body CouchDB would send. */
  body(): Record<string, string> {
    return {
      error: this.error,
      reason: this.reason,
      ...(this.ledgerCode ? { code: this.ledgerCode } : {}),
    };
  }
}

export const notFound = (reason = 'missing') => new CouchError(404, 'not_found', reason);
export const noDatabase = () => new CouchError(404, 'not_found', 'Database does not exist.');
export const badRequest = (reason: string) => new CouchError(400, 'bad_request', reason);
export const conflict = () => new CouchError(409, 'conflict', 'Document update conflict.');
export const forbidden = (reason: string, ledgerCode?: string) =>
  new CouchError(403, 'forbidden', reason, { ledgerCode });
export const methodNotAllowed = (allowed: string[]) => {
  const err = new CouchError(405, 'method_not_allowed', `Only ${allowed.join(',')} allowed`);
  return Object.assign(err, { allow: allowed });
};

/** The document write a ledger rule refused, as CouchDB's validate_doc_update would answer. */
export function ledgerRefusal(err: LedgerError): CouchError {
  return forbidden(err.message, err.code);
}

/** A PouchDB error (`{status, name, message}`) as the CouchError with the same status and name. */
export function fromPouch(err: unknown): CouchError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; name?: unknown; message?: unknown; reason?: unknown };
  if (
    typeof e.status !== 'number' ||
    typeof e.name !== 'string' ||
    e.status < 400 ||
    e.status >= 500
  )
    return undefined;
  if (e.name === 'conflict') return conflict();
  const reason =
    typeof e.reason === 'string' ? e.reason : typeof e.message === 'string' ? e.message : e.name;
  // PouchDB's 4xx names are all in the catalog; one it adds later is answered as a bad request.
  const name = isCouchErrorName(e.name) ? e.name : 'bad_request';
  return new CouchError(e.status, name, reason, { cause: err });
}

/** Any thrown value as a CouchError; `undefined` for an unexpected failure (a 500 the caller logs). */
export function toCouchError(err: unknown): CouchError | undefined {
  if (err instanceof CouchError) return err;
  if (err instanceof LedgerError) return ledgerRefusal(err);
  return fromPouch(err);
}

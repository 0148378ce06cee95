import type { SyncCodeOf, SyncErrorCode } from './error-codes';
import { BooksyncError, type BooksyncErrorOptions } from '../shared/errors';

/** Base class of every error the replication engine raises on purpose. */
export class SyncError extends BooksyncError {
  declare readonly code: SyncErrorCode;

  constructor(code: SyncErrorCode, message: string, options: BooksyncErrorOptions = {}) {
    super(code, message, options);
  }
}

/** 401/403 from the cloud: credentials wrong, expired or lacking rights. Retried on the slow `auth_retry` schedule. */
export class SyncAuthError extends SyncError {
  static readonly code = 'SYNC_AUTH' satisfies SyncCodeOf<'SyncAuthError'>;
  declare readonly code: typeof SyncAuthError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(SyncAuthError.code, message, options);
  }
}

/** The cloud cannot be reached: network failure, timeout, 5xx. Retried with backoff. */
export class SyncUnavailableError extends SyncError {
  static readonly code = 'SYNC_OFFLINE' satisfies SyncCodeOf<'SyncUnavailableError'>;
  declare readonly code: typeof SyncUnavailableError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(SyncUnavailableError.code, message, options);
  }
}

/** The server refused a request body as too large (413) even after splitting down to one document. */
export class SyncTooLargeError extends SyncError {
  static readonly code = 'SYNC_TOO_LARGE' satisfies SyncCodeOf<'SyncTooLargeError'>;
  declare readonly code: typeof SyncTooLargeError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(SyncTooLargeError.code, message, options);
  }
}

/** An HTTP answer the adapter does not know how to act on (400, 404 on a document endpoint, ...). */
export class SyncProtocolError extends SyncError {
  static readonly code = 'SYNC_PROTOCOL' satisfies SyncCodeOf<'SyncProtocolError'>;
  declare readonly code: typeof SyncProtocolError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(SyncProtocolError.code, message, options);
  }
}

/** A conflict the engine cannot resolve by itself, or an API misuse around conflicts (unknown id, bad resolution). */
export class SyncConflictError extends SyncError {
  static readonly code = 'SYNC_CONFLICT' satisfies SyncCodeOf<'SyncConflictError'>;
  declare readonly code: typeof SyncConflictError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(SyncConflictError.code, message, options);
  }
}

/** Bad engine options: unknown strategy name, invalid exclusion path, unknown direction. */
export class SyncConfigError extends SyncError {
  static readonly code = 'SYNC_CONFIG' satisfies SyncCodeOf<'SyncConfigError'>;
  declare readonly code: typeof SyncConfigError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(SyncConfigError.code, message, options);
  }
}

/**
 * The cloud database is gone (404 "Database does not exist", or `no_db_file` while it is being
 * deleted): the engine creates it again and checks which cloud it now talks to (identity.ts).
 */
export class SyncCloudGoneError extends SyncError {
  static readonly code = 'SYNC_CLOUD_GONE' satisfies SyncCodeOf<'SyncCloudGoneError'>;
  declare readonly code: typeof SyncCloudGoneError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(SyncCloudGoneError.code, message, options);
  }
}

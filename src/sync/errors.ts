import { BooksyncError } from '../shared/errors';

/** Base class of every error the replication engine raises on purpose. */
export class SyncError extends BooksyncError {}

/** 401/403 from the cloud: credentials wrong, expired or lacking rights. Retried on the slow `auth_retry` schedule. */
export class SyncAuthError extends SyncError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('SYNC_AUTH', message, options);
  }
}

/** The cloud cannot be reached: network failure, timeout, 5xx. Retried with backoff. */
export class SyncUnavailableError extends SyncError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('SYNC_OFFLINE', message, options);
  }
}

/** The server refused a request body as too large (413) even after splitting down to one document. */
export class SyncTooLargeError extends SyncError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('SYNC_TOO_LARGE', message, options);
  }
}

/** An HTTP answer the adapter does not know how to act on (400, 404 on a document endpoint, ...). */
export class SyncProtocolError extends SyncError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('SYNC_PROTOCOL', message, options);
  }
}

/** A conflict the engine cannot resolve by itself, or an API misuse around conflicts (unknown id, bad resolution). */
export class SyncConflictError extends SyncError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('SYNC_CONFLICT', message, options);
  }
}

/** Bad engine options: unknown strategy name, invalid exclusion path, unknown direction. */
export class SyncConfigError extends SyncError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('SYNC_CONFIG', message, options);
  }
}

/**
 * The cloud database is gone (404 "Database does not exist", or `no_db_file` while it is being
 * deleted): the engine creates it again and checks which cloud it now talks to (identity.ts).
 */
export class SyncCloudGoneError extends SyncError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('SYNC_CLOUD_GONE', message, options);
  }
}

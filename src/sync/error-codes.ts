import type { CodesRaisedAs, ErrorCatalog } from '../shared/errors';

/**
 * The stable codes of the replication engine, with the class that raises each and its meaning;
 * listed in docs/ERRORS.md.
 */
export const SYNC_ERROR_CODES = {
  SYNC_AUTH: {
    raisedAs: 'SyncAuthError',
    meaning:
      'the cloud refused the credentials (HTTP 401/403); retried on the slow auth_retry schedule',
  },
  SYNC_OFFLINE: {
    raisedAs: 'SyncUnavailableError',
    meaning: 'the cloud cannot be reached (network, timeout, HTTP 5xx); retried with backoff',
  },
  SYNC_TOO_LARGE: {
    raisedAs: 'SyncTooLargeError',
    meaning: 'the cloud refused a request as too large (HTTP 413) even for one document',
  },
  SYNC_PROTOCOL: {
    raisedAs: 'SyncProtocolError',
    meaning:
      'the cloud answered something the CouchDB adapter cannot act on (400, 404 on a document)',
  },
  SYNC_CONFLICT: {
    raisedAs: 'SyncConflictError',
    meaning:
      'a conflict the engine cannot resolve, or a conflict resolution that does not apply (unknown id, changed meanwhile)',
  },
  SYNC_CONFIG: {
    raisedAs: 'SyncConfigError',
    meaning: 'bad engine options: unknown strategy, invalid exclusion path or direction',
  },
  SYNC_CLOUD_GONE: {
    raisedAs: 'SyncCloudGoneError',
    meaning:
      'the cloud database does not exist (deleted); the engine creates it again and checks its identity',
  },
  SYNC_BOOKKEEPING: {
    raisedAs: 'SyncError',
    meaning: 'the sync bookkeeping store (checkpoints, conflicts, audit) cannot be opened',
  },
} as const satisfies ErrorCatalog;

export type SyncErrorCode = keyof typeof SYNC_ERROR_CODES;

/** The sync codes that the class named `Raiser` raises. */
export type SyncCodeOf<Raiser extends string> = CodesRaisedAs<typeof SYNC_ERROR_CODES, Raiser>;

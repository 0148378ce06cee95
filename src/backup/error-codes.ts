import type { CodesRaisedAs, ErrorCatalog } from '../shared/errors';

/** The stable codes of backup and restore; listed in docs/ERRORS.md. */
export const BACKUP_ERROR_CODES = {
  BACKUP_UNAVAILABLE: {
    raisedAs: 'BackupError',
    meaning:
      'the daemon cannot take a backup right now (the sync bookkeeping is not open); try again',
  },
  BACKUP_EXISTS: {
    raisedAs: 'BackupError',
    meaning: 'the backup target file exists; a backup never overwrites a file',
  },
  BACKUP_FAILED: {
    raisedAs: 'BackupError',
    meaning: 'writing the backup failed; nothing was written',
  },
  BACKUP_UNREADABLE: {
    raisedAs: 'BackupError',
    meaning: 'the backup file cannot be read',
  },
  BACKUP_INVALID: {
    raisedAs: 'BackupError',
    meaning: 'the file is not a booksync backup (not gzip, empty, or a line cannot be read)',
  },
  BACKUP_TRUNCATED: {
    raisedAs: 'BackupError',
    meaning: 'the backup ends before its end line; it is incomplete',
  },
  BACKUP_CHECKSUM: {
    raisedAs: 'BackupError',
    meaning: 'a checksum in the backup does not match: the file is damaged',
  },
  RESTORE_TARGET: {
    raisedAs: 'BackupError',
    meaning: 'the restore target is not a folder or cannot be read',
  },
  RESTORE_NOT_EMPTY: {
    raisedAs: 'BackupError',
    meaning: 'the restore target folder is not empty; restore into an empty or new folder',
  },
  RESTORE_FAILED: {
    raisedAs: 'BackupError',
    meaning: 'the restore failed; nothing was left in the target',
  },
} as const satisfies ErrorCatalog;

/** The backup codes that the class named `Raiser` raises. */
export type BackupCodeOf<Raiser extends string> = CodesRaisedAs<typeof BACKUP_ERROR_CODES, Raiser>;

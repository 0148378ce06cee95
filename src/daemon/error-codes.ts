import type { CodesRaisedAs, ErrorCatalog } from '../shared/errors';

/** The stable codes of the daemon process and its control socket; listed in docs/ERRORS.md. */
export const DAEMON_ERROR_CODES = {
  CONTROL_BAD_REQUEST: {
    raisedAs: 'ControlError',
    meaning:
      'a control request is not a JSON object with a method and object params, or its params are wrong',
  },
  CONTROL_TOO_LARGE: {
    raisedAs: 'ControlError',
    meaning: 'a control request line is longer than 1 MiB; the connection is closed',
  },
  CONTROL_UNKNOWN_METHOD: {
    raisedAs: 'ControlError',
    meaning: 'a control request names a method the daemon does not have',
  },
  CONTROL_CLOSED: {
    raisedAs: 'ControlError',
    meaning: 'the other side closed the control connection before the answer ended',
  },
  CONTROL_TIMEOUT: {
    raisedAs: 'ControlError',
    meaning: 'the daemon did not answer a control request in time',
  },
  CONTROL_BAD_REPLY: {
    raisedAs: 'ControlError',
    meaning: 'the daemon sent a reply the client cannot read',
  },
  CONTROL_FAILED: {
    raisedAs: 'ControlError',
    meaning: 'the control socket failed, or the daemon reported an error without a code',
  },
  DAEMON_NOT_RUNNING: {
    raisedAs: 'DaemonNotRunningError',
    meaning:
      'no daemon answers on the control socket of this state directory (the CLI works offline)',
  },
  STATE_DIR_IN_USE: {
    raisedAs: 'StateDirInUseError',
    meaning: 'another booksync process holds the state directory',
  },
  CLOUD_CREDENTIALS_INVALID: {
    raisedAs: 'CloudCredentialsError',
    meaning:
      "the embedded cloud's credentials file is not one line user:password; it is never overwritten",
  },
  SYSTEMD_NOTIFY_SOCKET_INVALID: {
    raisedAs: 'SystemdNotifyError',
    meaning: 'NOTIFY_SOCKET is not an absolute path or @abstract name, or is too long',
  },
  SYSTEMD_NOTIFY_FAILED: {
    raisedAs: 'SystemdNotifyError',
    meaning: 'a notification to the service manager could not be sent',
  },
  LOOP_STUCK: {
    raisedAs: 'LoopStuckError',
    meaning:
      'a loop (sync, a bank run or job) made no progress within its limit; the watchdog is not fed',
  },
  SYNC_NOT_RUNNING: {
    raisedAs: 'SyncNotRunningError',
    meaning: 'a command needs the sync engine, which is not running (disabled, or not started yet)',
  },
  BANK_STATUS_NOT_SAVED: {
    raisedAs: 'last_error',
    meaning:
      "a connection's stored status is stale because its last run's status could not be saved",
  },
} as const satisfies ErrorCatalog;

/** The daemon codes that the class named `Raiser` raises. */
export type DaemonCodeOf<Raiser extends string> = CodesRaisedAs<typeof DAEMON_ERROR_CODES, Raiser>;

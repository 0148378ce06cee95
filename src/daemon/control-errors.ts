import { DAEMON_ERROR_CODES, type DaemonCodeOf } from './error-codes';
import { BooksyncError, codesRaisedAs, type BooksyncErrorOptions } from '../shared/errors';

/** A control request or answer that went wrong (docs/ERRORS.md, "Daemon and control socket"). */
export class ControlError extends BooksyncError {
  static readonly codes = codesRaisedAs(DAEMON_ERROR_CODES, 'ControlError');
  declare readonly code: DaemonCodeOf<'ControlError'>;

  constructor(
    code: DaemonCodeOf<'ControlError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/**
 * A control method that failed in the daemon, as the client sees it: `code` is the daemon's error
 * code (any code of docs/ERRORS.md, or `CONTROL_FAILED` when the reply carried none).
 */
export class RemoteMethodError extends BooksyncError {
  constructor(error: { code?: string; message?: string } | undefined) {
    super(
      error?.code ?? ('CONTROL_FAILED' satisfies DaemonCodeOf<'ControlError'>),
      error?.message ?? 'the daemon reported an error',
    );
  }
}

/** Thrown by the client when no daemon answers on the socket (then the CLI works offline). */
export class DaemonNotRunningError extends BooksyncError {
  static readonly code = 'DAEMON_NOT_RUNNING' satisfies DaemonCodeOf<'DaemonNotRunningError'>;
  declare readonly code: typeof DaemonNotRunningError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(DaemonNotRunningError.code, message, options);
  }
}

import { AnswerShapeError, BankAuthError, ConsentExpiredError } from '../../errors';
import { isPlainObject } from '../../../shared/objects';

/**
 * The bank authorisation session: the account holder authorises access at the bank through
 * Enable Banking (POST /auth, then POST /sessions with the returned code, outside the fetch
 * run); a run reads the session (GET /sessions/{id}) for its status, its accounts and the
 * consent's `access.valid_until`.
 *
 * @link https://enablebanking.com/docs/api/reference/ ("Sessions", "SessionStatus")
 */

const STATUS_MEANING: Readonly<Record<string, string>> = {
  AUTHORIZED: 'authorised',
  PENDING_AUTHORIZATION: 'the account holder has not finished authorising at the bank',
  RETURNED_FROM_BANK: 'back from the bank, not yet authorised (POST /sessions not done)',
  CANCELLED: 'the account holder cancelled the authorisation',
  INVALID: 'the authorisation failed',
  EXPIRED: 'expired',
  REVOKED: 'revoked by the account holder',
  CLOSED: 'closed by the application',
};

export interface SessionInfo {
  accounts: string[];
  /** `access.valid_until`, when the session says it. */
  validUntil?: Date;
}

/** Reads a GET /sessions/{id} answer, or throws what the fetch loop must do about it. */
export function readSession(body: unknown, connection: string, now: Date): SessionInfo {
  if (!isPlainObject(body)) throw new AnswerShapeError('the session answer is not an object');
  const status = typeof body.status === 'string' ? body.status.toUpperCase() : '';
  const details = { connection, session_status: status };
  const meaning = STATUS_MEANING[status] ?? `unknown status '${status}'`;
  if (['EXPIRED', 'REVOKED', 'CLOSED'].includes(status)) {
    throw new ConsentExpiredError(
      'ENABLEBANKING_SESSION_EXPIRED',
      `${connection}: the Enable Banking session is ${status} (${meaning}); the account holder must authorise again (a new session), then update session_id`,
      { details },
    );
  }
  if (status !== 'AUTHORIZED') {
    const unfinished = status === 'PENDING_AUTHORIZATION' || status === 'RETURNED_FROM_BANK';
    throw new BankAuthError(
      unfinished ? 'ENABLEBANKING_SESSION_PENDING' : 'ENABLEBANKING_SESSION_FAILED',
      `${connection}: the Enable Banking session is not authorised (${status}: ${meaning}); ${
        unfinished
          ? 'the account holder must finish the authorisation'
          : 'start a new authorisation and update session_id'
      }`,
      { details },
    );
  }
  const access = isPlainObject(body.access) ? body.access : {};
  const until = typeof access.valid_until === 'string' ? new Date(access.valid_until) : undefined;
  const validUntil = until && !Number.isNaN(until.getTime()) ? until : undefined;
  if (validUntil && validUntil.getTime() <= now.getTime()) {
    throw new ConsentExpiredError(
      'ENABLEBANKING_SESSION_EXPIRED',
      `${connection}: the Enable Banking consent was valid until ${validUntil.toISOString()}; the account holder must authorise again, then update session_id`,
      { details: { connection, expired_at: validUntil.toISOString() } },
    );
  }
  if (!Array.isArray(body.accounts))
    throw new AnswerShapeError("the session has no 'accounts' list");
  const accounts = body.accounts
    .map((a) =>
      typeof a === 'string' ? a : isPlainObject(a) && typeof a.uid === 'string' ? a.uid : '',
    )
    .filter((a) => a !== '');
  return { accounts, ...(validUntil ? { validUntil } : {}) };
}

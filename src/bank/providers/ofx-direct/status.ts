import { BankAuthError, BankUnavailableError, type BankError } from '../../errors';
import { BankRequestRejectedError } from '../../http';
import type { BankCodeOf } from '../../error-codes';
import { remoteExcerpt } from '../../../shared/redact';
import type { PermanentError } from '../../../shared/errors';

/**
 * The one mapping from OFX STATUS codes to booksync errors. The signon (SONRS) and every
 * transaction wrapper (STMTTRNRS, CCSTMTTRNRS) carry their own STATUS {CODE, SEVERITY, MESSAGE}
 * (OFX 1.6 spec §3.1.5); a signon can succeed while a statement fails.
 *
 * @link OFX 1.6 spec §3.1.5.1 (general codes), §2.5.1.5 (signon codes 15000–15513),
 *       §11.4.2.2 / §11.13 (banking codes 2000–2028); docs/FORMATS.md §OFX
 */

export interface OfxStatusCode {
  code: number;
  /** INFO | WARN | ERROR */
  severity: string;
  message?: string;
}

/** `code` is one of the codes src/bank/error-codes.ts assigns to the class `kind` maps to. */
type Meaning = (
  | { kind: 'auth'; code: BankCodeOf<'BankAuthError'> }
  | { kind: 'unavailable'; code: BankCodeOf<'BankUnavailableError'> }
  | { kind: 'rejected'; code: BankCodeOf<'BankRequestRejectedError'> }
) & {
  /** What happened and what to do, in words an admin can act on. */
  text: string;
};

const CODES: Readonly<Record<number, Meaning>> = {
  2000: {
    kind: 'unavailable',
    code: 'OFX_GENERAL_ERROR',
    text: 'the bank reported a general error (2000); it is often temporary (maintenance, overload)',
  },
  2001: {
    kind: 'rejected',
    code: 'OFX_ACCOUNT_REJECTED',
    text: 'the account is invalid (2001); check bank_id, account_id and account_type',
  },
  2002: {
    kind: 'rejected',
    code: 'OFX_ACCOUNT_REJECTED',
    text: 'the bank reported a general account error (2002)',
  },
  2003: {
    kind: 'rejected',
    code: 'OFX_ACCOUNT_NOT_FOUND',
    text: 'the bank does not know this account (2003); check bank_id, account_id and account_type',
  },
  2004: { kind: 'rejected', code: 'OFX_ACCOUNT_REJECTED', text: 'the account is closed (2004)' },
  2005: {
    kind: 'rejected',
    code: 'OFX_ACCOUNT_REJECTED',
    text: 'this login is not authorised for the account (2005); enable Direct Connect / Quicken access for it at the bank',
  },
  2012: { kind: 'unavailable', code: 'OFX_STATUS', text: 'the bank rejected the request (2012)' },
  2019: {
    kind: 'unavailable',
    code: 'OFX_DUPLICATE_REQUEST',
    text: 'the bank saw this transaction UID before (2019, duplicate request); the next run sends a new one',
  },
  2020: {
    kind: 'rejected',
    code: 'OFX_DATE_REJECTED',
    text: 'the bank refused the requested dates (2020, invalid date)',
  },
  2021: {
    kind: 'rejected',
    code: 'OFX_VERSION_UNSUPPORTED',
    text: 'the bank does not support this OFX version (2021); set version (102 is the safest)',
  },
  2027: {
    kind: 'rejected',
    code: 'OFX_DATE_REJECTED',
    text: 'the bank refused the date range (2027); it may keep less history than history_days',
  },
  3000: {
    kind: 'auth',
    code: 'OFX_MFA_REQUIRED',
    text: 'the bank asks for a multi-factor challenge (3000), which an unattended client cannot answer; enable Direct Connect without MFA at the bank',
  },
  3001: {
    kind: 'auth',
    code: 'OFX_MFA_REQUIRED',
    text: 'the multi-factor answer was refused (3001)',
  },
  13504: {
    kind: 'rejected',
    code: 'OFX_FI_INVALID',
    text: "the bank refused the FI ORG/FID (13504); check org and fid against the bank's OFX settings",
  },
  15000: {
    kind: 'auth',
    code: 'OFX_PASSWORD_CHANGE',
    text: 'the bank requires a password change (15000); change it at the bank and update the password secret',
  },
  15500: {
    kind: 'auth',
    code: 'OFX_SIGNON_INVALID',
    text: 'the bank refused the user id or password (15500, signon invalid)',
  },
  // 15501 "customer account already in use" is a transient lock held by another session: retry later.
  15501: {
    kind: 'unavailable',
    code: 'OFX_ACCOUNT_IN_USE',
    text: 'the account is in use by another session (15501); the next run retries',
  },
  15502: {
    kind: 'auth',
    code: 'OFX_LOCKED_OUT',
    text: 'the login is locked out (15502, USERPASS lockout); unlock it with the bank before the next run, which is paused',
  },
  15503: {
    kind: 'auth',
    code: 'OFX_SIGNON_INVALID',
    text: 'the bank could not change the password (15503)',
  },
  15505: {
    kind: 'unavailable',
    code: 'OFX_STATUS',
    text: "the bank's system for this country is not available (15505)",
  },
  15506: {
    kind: 'auth',
    code: 'OFX_SIGNON_INVALID',
    text: 'the bank does not accept an empty signon (15506); set the username and password secrets',
  },
  15507: {
    kind: 'auth',
    code: 'OFX_PASSWORD_CHANGE',
    text: 'the signon is invalid without a PIN change (15507); change the password at the bank',
  },
  15508: {
    kind: 'auth',
    code: 'OFX_SIGNON_INVALID',
    text: 'the transaction is not authorised for this login (15508)',
  },
  15510: {
    kind: 'auth',
    code: 'OFX_CLIENTUID',
    text: "the bank has not authorised this client (15510, CLIENTUID error): approve the new device/application in the bank's web site or by the e-mail/phone check it started, keep client_uid unchanged, then re-enable the connection",
  },
  15511: {
    kind: 'auth',
    code: 'OFX_MFA_REQUIRED',
    text: 'the bank requires multi-factor authentication (15511)',
  },
  15512: {
    kind: 'auth',
    code: 'OFX_MFA_REQUIRED',
    text: 'the bank requires an AUTHTOKEN (15512), which must be obtained out of band',
  },
  15513: { kind: 'auth', code: 'OFX_MFA_REQUIRED', text: 'the bank refused the AUTHTOKEN (15513)' },
};

/** Codes that mean success or only information (0 OK, 1 client up to date). */
const OK_CODES = new Set([0, 1]);

/**
 * Maps one STATUS to an error, or to `undefined` when the response may be used (then `warn`
 * receives any non-OK INFO/WARN status). `where` names the wrapper for messages ("signon",
 * "statement").
 */
export function ofxStatusError(
  status: OfxStatusCode,
  where: string,
  connection: string,
  secrets: readonly string[],
  warn: (message: string) => void,
): BankError | PermanentError | undefined {
  if (OK_CODES.has(status.code)) return undefined;
  const server = status.message
    ? `; the bank says: "${remoteExcerpt(status.message, secrets, 200)}"`
    : '';
  const known = CODES[status.code];
  const severity = status.severity.toUpperCase();
  const details = { connection, ofx_code: status.code, severity: status.severity, where };
  // A code the table knows fails the run whatever its SEVERITY (15000 is INFO in the spec but
  // the signon is useless until the password is changed); an unknown code fails only as ERROR.
  if (!known) {
    if (severity !== 'ERROR') {
      warn(`${where}: OFX status ${status.code} (${status.severity})${server}`);
      return undefined;
    }
    return new BankUnavailableError(
      'OFX_STATUS',
      `${connection}: ${where}: the bank answered OFX status ${status.code} (ERROR)${server}`,
      { details },
    );
  }
  const message = `${connection}: ${where}: ${known.text}${server}`;
  switch (known.kind) {
    case 'auth':
      return new BankAuthError(known.code, message, { details });
    case 'unavailable':
      return new BankUnavailableError(known.code, message, { details });
    case 'rejected':
      return new BankRequestRejectedError(known.code, message, { details });
  }
}

import { BankAuthError, BankUnavailableError, type BankError } from '../../errors';
import { BankRequestRejectedError, statusError, type HttpResponse } from '../../http';
import { remoteExcerpt } from '../../../shared/redact';
import type { PermanentError } from '../../../shared/errors';
import { valueText } from '../../../shared/text';

/**
 * The one place SimpleFIN answers become booksync errors: HTTP statuses of the /accounts call
 * (200, 402 payment required, 403 auth failed or revoked) and the `errlist` codes of protocol v2
 * (`gen.auth`, `con.auth`, `act.failed`...).
 *
 * @link https://www.simplefin.org/protocol.html ("Errors")
 */

export interface SimplefinErrorItem {
  code: string;
  msg: string;
  connId?: string;
  accountId?: string;
}

/** HTTP status of GET /accounts → error (called for any status but 200). */
export function accountsHttpError(
  res: HttpResponse,
  connection: string,
  now: Date,
  secrets: readonly string[],
): BankError | PermanentError {
  return statusError(res, {
    connection,
    now,
    secrets,
    map: (r) => {
      const details = { connection, status: r.status };
      if (r.status === 403 || r.status === 401) {
        return new BankAuthError(
          'SIMPLEFIN_ACCESS_REVOKED',
          `${connection}: SimpleFIN refused the stored access (HTTP ${r.status}): it was revoked or disabled in SimpleFIN Bridge; create a new setup token there and set it as the setup_token secret (it is claimed on the next run)`,
          { details },
        );
      }
      if (r.status === 402) {
        return new BankRequestRejectedError(
          'SIMPLEFIN_PAYMENT_REQUIRED',
          `${connection}: SimpleFIN answered HTTP 402 payment required: the SimpleFIN Bridge subscription has lapsed; renew it, then re-enable the connection`,
          { details },
        );
      }
      return undefined;
    },
  });
}

/** Reads `errlist` (v2) entries; accepts `message` for `msg` (the spec's own example uses it). */
export function readErrlist(value: unknown): SimplefinErrorItem[] {
  if (!Array.isArray(value)) return [];
  return value.map((e: unknown) => {
    const o = (e ?? {}) as Record<string, unknown>;
    const item: SimplefinErrorItem = {
      code: typeof o.code === 'string' ? o.code : '',
      msg: valueText(o.msg ?? o.message ?? ''),
    };
    if (typeof o.conn_id === 'string') item.connId = o.conn_id;
    if (typeof o.account_id === 'string') item.accountId = o.account_id;
    return item;
  });
}

/**
 * Classifies one errlist entry: `gen.auth` and `con.auth` fail the run with BankAuthError; any
 * other `gen.*` (the whole answer is unreliable) with BankUnavailableError; `con.*`, `act.*` and
 * unknown codes are warnings (that connection's or account's data may be stale). An unknown
 * subcode counts as its bare prefix. `relevant` is false when the entry concerns an account or
 * connection this booksync connection does not import: then it is only a warning.
 */
export function errlistError(
  item: SimplefinErrorItem,
  connection: string,
  secrets: readonly string[],
  relevant: boolean,
): BankError | PermanentError | undefined {
  const prefix = item.code.split('.')[0];
  const text = remoteExcerpt(item.msg, secrets, 300);
  const details = { connection, simplefin_code: item.code };
  if (item.code === 'gen.auth') {
    return new BankAuthError(
      'SIMPLEFIN_AUTH',
      `${connection}: SimpleFIN reports an authentication error (gen.auth: "${text}"); create a new setup token in SimpleFIN Bridge`,
      { details },
    );
  }
  if (prefix === 'gen') {
    return new BankUnavailableError(
      'SIMPLEFIN_ERROR',
      `${connection}: SimpleFIN reports an error (${item.code}: "${text}")`,
      { details },
    );
  }
  if (item.code === 'con.auth' && relevant) {
    return new BankAuthError(
      'SIMPLEFIN_CONNECTION_AUTH',
      `${connection}: SimpleFIN Bridge can no longer sign in to the bank${item.connId ? ` (connection ${item.connId})` : ''}: "${text}"; reconnect the bank in SimpleFIN Bridge`,
      { details },
    );
  }
  return undefined;
}

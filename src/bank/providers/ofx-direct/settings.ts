import { isLoopbackHost } from '../../../shared/urls';
import { BankRequestRejectedError } from '../../http';

/** Account types an OFX statement request can name; CREDITCARD selects the credit card message set. */
export const ACCOUNT_TYPES = [
  'CHECKING',
  'SAVINGS',
  'MONEYMRKT',
  'CREDITLINE',
  'CD',
  'CREDITCARD',
] as const;
export type OfxAccountType = (typeof ACCOUNT_TYPES)[number];

/** OFX versions this client speaks: 1.x as SGML, 2.x as XML (OFX 2.1.1 spec §2.2). */
export const VERSIONS = [102, 103, 151, 160, 200, 201, 202, 203, 210, 211, 220] as const;

/** The `settings:` block of an `ofx-direct` connection. */
export interface OfxDirectSettings {
  /** The FI's OFX server URL (https). */
  url: string;
  /** FI/ORG of the signon (required by most servers; AmEx answers 503 without it). */
  org: string;
  /** FI/FID of the signon. */
  fid: string;
  /** BANKID (routing number); required for bank accounts, unused for CREDITCARD. */
  bankId?: string;
  accountId: string;
  accountType: OfxAccountType;
  /** @default 102 */
  version: number;
  /** @default QWIN (many FIs reject anything that is not Quicken) */
  appId: string;
  /** @default 2700 */
  appVer: string;
  /** CLIENTUID (OFX 1.0.3+): must stay the same across sessions once the FI has authorised it. */
  clientUid?: string;
  /** Close leaf elements in v1 SGML requests. @default false (USAA refuses closed leaves) */
  closeElements: boolean;
  /** OFX LANGUAGE. @default ENG */
  language: string;
}

function invalid(connection: string, message: string): never {
  throw new BankRequestRejectedError(
    'OFX_SETTINGS',
    `${connection}: ofx-direct settings: ${message}`,
    { details: { connection } },
  );
}

function text(
  raw: Readonly<Record<string, unknown>>,
  key: string,
  connection: string,
  required: boolean,
): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === '') {
    if (required) invalid(connection, `'${key}' is required`);
    return undefined;
  }
  if (typeof v !== 'string' && typeof v !== 'number')
    invalid(connection, `'${key}' must be a string`);
  return String(v);
}

/** Validates the settings block, naming the key to fix on any problem. */
export function readSettings(
  raw: Readonly<Record<string, unknown>>,
  connection: string,
): OfxDirectSettings {
  const url = text(raw, 'url', connection, true)!;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return invalid(connection, `'url' (${url}) is not a URL`);
  }
  if (parsed.username || parsed.password)
    invalid(connection, "'url' must not contain credentials; use the username/password secrets");
  const loopback = isLoopbackHost(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    invalid(connection, `'url' must be https (the password is sent in the request body)`);
  }
  const accountType = (text(raw, 'account_type', connection, false) ?? 'CHECKING').toUpperCase();
  if (!(ACCOUNT_TYPES as readonly string[]).includes(accountType)) {
    invalid(connection, `'account_type' ${accountType} is not one of ${ACCOUNT_TYPES.join(', ')}`);
  }
  const version = Number(text(raw, 'version', connection, false) ?? 102);
  if (!(VERSIONS as readonly number[]).includes(version))
    invalid(connection, `'version' ${version} is not one of ${VERSIONS.join(', ')}`);
  const appId = text(raw, 'app_id', connection, false) ?? 'QWIN';
  const appVer = text(raw, 'app_ver', connection, false) ?? '2700';
  if (appId.length > 5) invalid(connection, `'app_id' is at most 5 characters (OFX spec §2.5.1.1)`);
  if (appVer.length > 4)
    invalid(connection, `'app_ver' is at most 4 characters (OFX spec §2.5.1.1)`);
  const bankId = text(raw, 'bank_id', connection, false);
  if (accountType !== 'CREDITCARD' && !bankId)
    invalid(connection, `'bank_id' is required for ${accountType} accounts`);
  const close = raw.close_elements;
  if (close !== undefined && typeof close !== 'boolean')
    invalid(connection, "'close_elements' must be true or false");
  const clientUid = text(raw, 'client_uid', connection, false);
  // CLIENTUID exists since OFX 1.0.3 (§2.5.1); a 1.0.2 server would reject the unknown element.
  if (clientUid && version === 102)
    invalid(
      connection,
      "'client_uid' needs version 103 or later (CLIENTUID was added in OFX 1.0.3)",
    );
  return {
    url,
    org: text(raw, 'org', connection, true)!,
    fid: text(raw, 'fid', connection, true)!,
    bankId,
    accountId: text(raw, 'account_id', connection, true)!,
    accountType: accountType as OfxAccountType,
    version,
    appId,
    appVer,
    clientUid,
    closeElements: close === true,
    language: text(raw, 'language', connection, false) ?? 'ENG',
  };
}

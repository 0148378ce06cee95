import type { CodesRaisedAs, ErrorCatalog } from '../shared/errors';

/**
 * Every stable code the bank feeds raise, with the class that raises it and its meaning. The
 * classes take only their own codes (compile-time checked); docs/ERRORS.md is generated from this
 * table (`npm run errors-doc`) and a test keeps the two equal. Never change a code's string: logs,
 * status documents and scripts match on it.
 */
export const BANK_ERROR_CODES = {
  // The fetch loop and the provider toolkit (src/bank/http.ts), any provider.
  BANK_ABORTED: {
    raisedAs: 'BankUnavailableError',
    meaning: 'the fetch was cancelled (shutdown or reload); it runs again on the next schedule',
  },
  BANK_TIMEOUT: {
    raisedAs: 'BankUnavailableError',
    meaning: 'a request or the whole run did not finish within its timeout; retried on schedule',
  },
  BANK_NETWORK: {
    raisedAs: 'BankUnavailableError',
    meaning: 'the bank or aggregator cannot be reached (DNS, refused, reset); retried on schedule',
  },
  BANK_HTTP_UNAVAILABLE: {
    raisedAs: 'BankUnavailableError',
    meaning: 'the server answered HTTP 5xx; retried on schedule',
  },
  BANK_BAD_RESULT: {
    raisedAs: 'BankUnavailableError',
    meaning:
      'a provider returned an inconsistent result (no statements list, broken stream); nothing imported',
  },
  BANK_HTTP_AUTH: {
    raisedAs: 'BankAuthError',
    meaning: 'the server refused the credentials (HTTP 401/403); no retry until they change',
  },
  BANK_RATE_LIMITED: {
    raisedAs: 'RateLimitedError',
    meaning:
      'the server asked to slow down (HTTP 429 or a provider limit); no call before retry_at',
  },
  BANK_HTTP_REDIRECT: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'the server redirects (HTTP 3xx); the URL in the settings is wrong',
  },
  BANK_HTTP_REJECTED: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'the server refused the request (HTTP 4xx); a retry cannot fix it',
  },
  BANK_HTTP_UNEXPECTED: {
    raisedAs: 'MalformedStatementError',
    meaning: 'the server answered an HTTP status the provider does not expect',
  },
  BANK_BODY_NOT_JSON: {
    raisedAs: 'MalformedStatementError',
    meaning: 'a JSON API answered with a body that is not JSON',
  },
  BANK_BODY_TOO_LARGE: {
    raisedAs: 'MalformedStatementError',
    meaning: 'the answer is larger than the body limit; nothing imported',
  },
  BANK_MALFORMED: {
    raisedAs: 'MalformedStatementError',
    meaning:
      'a statement line cannot be imported (no account id, bad amount or date); nothing imported',
  },
  BANK_MALFORMED_FILE: {
    raisedAs: 'MalformedStatementError',
    meaning:
      'a statement file (OFX, MT940, camt.053, CSV) cannot be read; the error names file, line and field',
  },
  BANK_ANSWER_SHAPE: {
    raisedAs: 'AnswerShapeError',
    meaning:
      "a provider's reader found an answer it cannot use; reported as that provider's own malformed-answer code (such as GOCARDLESS_MALFORMED), naming the connection",
  },
  BANK_MARKUP_CUT: {
    raisedAs: 'TokenizerError',
    meaning:
      'XML or OFX markup ends inside a tag or comment; reported as the malformed-file error of the format being read',
  },
  BANK_URL_CREDENTIALS: {
    raisedAs: 'BankError',
    meaning: 'a provider tried to send credentials inside a URL; refused (a programming error)',
  },
  BANK_CONFIG: {
    raisedAs: 'BankError',
    meaning: 'a connection lacks a setting its provider needs (dropfolder settings.path)',
  },
  BANK_DROPFOLDER_UNREADABLE: {
    raisedAs: 'BankError',
    meaning: 'the drop folder or a file in it cannot be read',
  },
  BANK_DROPFOLDER_CHANGED: {
    raisedAs: 'BankError',
    meaning: 'a dropped file changed while it was imported; it is read again on the next run',
  },

  // Codes recorded in a connection's `last_error` when a run is skipped, not thrown.
  BANK_AUTH: {
    raisedAs: 'last_error',
    meaning:
      'the connection is blocked: the bank rejected its credentials; fix them or `booksync fetch NAME`',
  },
  BANK_CONSENT_EXPIRED: {
    raisedAs: 'last_error',
    meaning: 'the connection is blocked: the bank consent has expired; renew it',
  },
  BANK_PERMANENT: {
    raisedAs: 'last_error',
    meaning:
      'the connection is blocked after a failure retrying cannot fix; change its settings or `booksync fetch NAME`',
  },

  // Configuration of connections, schedules, the institutions catalog, commands.
  BANK_CONNECTION_INVALID: {
    raisedAs: 'ConnectionSpecError',
    meaning: 'a bank connection in the config is invalid (or two share a name)',
  },
  BANK_SINCE_INVALID: {
    raisedAs: 'ConnectionSpecError',
    meaning: '`fetch --since` is not a calendar date not after today, or names no connection',
  },
  BANK_SCHEDULE: {
    raisedAs: 'ConnectionSpecError',
    meaning: 'a connection schedule is invalid (`every` below 1m, or not a cron line)',
  },
  BANK_CONNECTION_UNKNOWN: {
    raisedAs: 'UnknownConnectionError',
    meaning: 'a command names a bank connection the running daemon does not have',
  },
  BANK_UNKNOWN_CONNECTION: {
    raisedAs: 'UnknownConnectionError',
    meaning: 'an offline command names a bank connection the config does not have',
  },
  BANK_PROVIDER_UNKNOWN: {
    raisedAs: 'UnknownProviderError',
    meaning: 'a connection names a provider booksync does not have',
  },
  BANK_DUPLICATES_DAYS: {
    raisedAs: 'DuplicateQueryError',
    meaning: '`booksync duplicates --days` is not a whole number from 0 to 366',
  },
  BANK_CATALOG_UNREADABLE: {
    raisedAs: 'InstitutionError',
    meaning: 'the institutions catalog file cannot be read',
  },
  BANK_CATALOG_INVALID: {
    raisedAs: 'InstitutionError',
    meaning: 'the institutions catalog is not valid YAML or an entry is invalid',
  },
  BANK_INSTITUTION_INVALID: {
    raisedAs: 'InstitutionError',
    meaning:
      'a connection’s institution is neither a catalog id nor { name, bic, account, currency }',
  },
  BANK_INSTITUTION_UNKNOWN: {
    raisedAs: 'InstitutionError',
    meaning: 'a connection names an institution id that is not in the catalog',
  },

  // OFX Direct Connect (src/bank/providers/ofx-direct); OFX STATUS codes per OFX 1.6 §3.1.5.
  OFX_SETTINGS: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'an ofx-direct setting is missing or invalid',
  },
  OFX_CREDENTIALS_MISSING: {
    raisedAs: 'BankAuthError',
    meaning: 'the username or password secret is not set',
  },
  OFX_HTML_PAGE: {
    raisedAs: 'BankUnavailableError',
    meaning: 'the OFX server answered an HTML page (maintenance, or a wrong url setting)',
  },
  OFX_HTTP_STATUS: {
    raisedAs: 'BankUnavailableError',
    meaning: 'the OFX server answered an HTTP error status',
  },
  OFX_NOT_OFX: {
    raisedAs: 'MalformedStatementError',
    meaning: 'the OFX server answered something that is not OFX',
  },
  OFX_MALFORMED: {
    raisedAs: 'MalformedStatementError',
    meaning: 'the OFX response cannot be read',
  },
  OFX_STATUS: {
    raisedAs: 'BankUnavailableError',
    meaning: 'the bank answered an OFX STATUS error (2012, 15505 or a code booksync does not know)',
  },
  OFX_GENERAL_ERROR: {
    raisedAs: 'BankUnavailableError',
    meaning: 'OFX status 2000: general error, often temporary',
  },
  OFX_DUPLICATE_REQUEST: {
    raisedAs: 'BankUnavailableError',
    meaning: 'OFX status 2019: duplicate transaction UID; the next run sends a new one',
  },
  OFX_ACCOUNT_IN_USE: {
    raisedAs: 'BankUnavailableError',
    meaning: 'OFX status 15501: the account is in use by another session',
  },
  OFX_ACCOUNT_REJECTED: {
    raisedAs: 'BankRequestRejectedError',
    meaning:
      'OFX status 2001/2002/2004/2005: the account is invalid, closed or not enabled for this login',
  },
  OFX_ACCOUNT_NOT_FOUND: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'OFX status 2003: the bank does not know this account',
  },
  OFX_DATE_REJECTED: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'OFX status 2020/2027: the bank refused the requested dates',
  },
  OFX_VERSION_UNSUPPORTED: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'OFX status 2021: the bank does not support this OFX version',
  },
  OFX_FI_INVALID: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'OFX status 13504: the bank refused the FI ORG/FID',
  },
  OFX_MFA_REQUIRED: {
    raisedAs: 'BankAuthError',
    meaning: 'OFX status 3000/3001/15511-15513: the bank asks for multi-factor authentication',
  },
  OFX_PASSWORD_CHANGE: {
    raisedAs: 'BankAuthError',
    meaning: 'OFX status 15000/15507: the bank requires a password change',
  },
  OFX_SIGNON_INVALID: {
    raisedAs: 'BankAuthError',
    meaning: 'OFX status 15500/15503/15506/15508: the bank refused the signon',
  },
  OFX_LOCKED_OUT: {
    raisedAs: 'BankAuthError',
    meaning: 'OFX status 15502: the login is locked out',
  },
  OFX_CLIENTUID: {
    raisedAs: 'BankAuthError',
    meaning: 'OFX status 15510: the bank has not yet authorised this client_uid',
  },

  // SimpleFIN (src/bank/providers/simplefin).
  SIMPLEFIN_SETTINGS: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'a simplefin setting is missing or invalid',
  },
  SIMPLEFIN_TOKEN_MISSING: {
    raisedAs: 'BankAuthError',
    meaning: 'no SimpleFIN access yet and the setup_token secret is not set',
  },
  SIMPLEFIN_TOKEN_INVALID: {
    raisedAs: 'BankAuthError',
    meaning: 'the setup_token secret is not a SimpleFIN setup token',
  },
  SIMPLEFIN_TOKEN_USED: {
    raisedAs: 'BankAuthError',
    meaning: 'SimpleFIN refused the setup token as already claimed',
  },
  SIMPLEFIN_ACCESS_URL_INVALID: {
    raisedAs: 'BankAuthError',
    meaning: 'the claimed or stored SimpleFIN access URL is unusable',
  },
  SIMPLEFIN_ACCESS_NOT_STORED: {
    raisedAs: 'BankAuthError',
    meaning: 'the setup token was claimed but the access URL could not be stored',
  },
  SIMPLEFIN_ACCESS_REVOKED: {
    raisedAs: 'BankAuthError',
    meaning: 'SimpleFIN refused the stored access (HTTP 401/403): revoked or disabled',
  },
  SIMPLEFIN_PAYMENT_REQUIRED: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'SimpleFIN answered HTTP 402: the Bridge subscription has lapsed',
  },
  SIMPLEFIN_AUTH: {
    raisedAs: 'BankAuthError',
    meaning: 'SimpleFIN errlist gen.auth: an authentication error',
  },
  SIMPLEFIN_CONNECTION_AUTH: {
    raisedAs: 'BankAuthError',
    meaning: 'SimpleFIN errlist con.auth: the Bridge can no longer sign in to the bank',
  },
  SIMPLEFIN_ERROR: {
    raisedAs: 'BankUnavailableError',
    meaning: 'SimpleFIN errlist gen.*: the whole answer is unreliable',
  },
  SIMPLEFIN_RANGE_CAPPED: {
    raisedAs: 'BankUnavailableError',
    meaning: 'SimpleFIN shortened the requested date range, so lines would be missing',
  },
  SIMPLEFIN_MALFORMED: {
    raisedAs: 'MalformedStatementError',
    meaning: 'the SimpleFIN answer cannot be read',
  },

  // GoCardless Bank Account Data (src/bank/providers/gocardless).
  GOCARDLESS_SETTINGS: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'a gocardless setting is missing or invalid',
  },
  GOCARDLESS_SECRETS_MISSING: {
    raisedAs: 'BankAuthError',
    meaning: 'the secret_id and secret_key secrets are not set',
  },
  GOCARDLESS_SECRETS_INVALID: {
    raisedAs: 'BankAuthError',
    meaning: 'GoCardless refused secret_id/secret_key',
  },
  GOCARDLESS_TOKEN_REFUSED: {
    raisedAs: 'BankAuthError',
    meaning: 'GoCardless refused a fresh access token (HTTP 401)',
  },
  GOCARDLESS_ACCESS_DENIED: {
    raisedAs: 'BankAuthError',
    meaning: 'GoCardless denied access (HTTP 403): scope not covered or foreign secrets',
  },
  GOCARDLESS_ACCOUNT_INACTIVE: {
    raisedAs: 'BankAuthError',
    meaning: 'the account was deactivated or no longer exists; link the bank again',
  },
  GOCARDLESS_ACCOUNT_SUSPENDED: {
    raisedAs: 'BankAuthError',
    meaning: 'the account is suspended (HTTP 409 or status SUSPENDED); link the bank again',
  },
  GOCARDLESS_REQUISITION_PENDING: {
    raisedAs: 'BankAuthError',
    meaning: 'the requisition is not linked yet: the account holder must finish the bank login',
  },
  GOCARDLESS_REQUISITION_FAILED: {
    raisedAs: 'BankAuthError',
    meaning: 'the requisition failed or was rejected; create a new one',
  },
  GOCARDLESS_REQUISITION_EXPIRED: {
    raisedAs: 'ConsentExpiredError',
    meaning: 'the requisition has expired (EX); the account holder must consent again',
  },
  GOCARDLESS_AGREEMENT_EXPIRED: {
    raisedAs: 'ConsentExpiredError',
    meaning: 'the end-user agreement has expired; the account holder must consent again',
  },
  GOCARDLESS_ACCOUNT_EXPIRED: {
    raisedAs: 'ConsentExpiredError',
    meaning: 'access to the account has expired; the account holder must consent again',
  },
  GOCARDLESS_ACCOUNT_NOT_READY: {
    raisedAs: 'BankUnavailableError',
    meaning: 'the account is PROCESSING, DISCOVERED or ERROR at GoCardless; the next run retries',
  },
  GOCARDLESS_UNAVAILABLE: {
    raisedAs: 'BankUnavailableError',
    meaning: 'GoCardless answered HTTP 5xx',
  },
  GOCARDLESS_BAD_REQUEST: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'GoCardless rejected the request (HTTP 400)',
  },
  GOCARDLESS_NOT_FOUND: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'GoCardless does not know the requisition or account (HTTP 404)',
  },
  GOCARDLESS_MALFORMED: {
    raisedAs: 'MalformedStatementError',
    meaning: 'the GoCardless answer cannot be read',
  },
  ENABLEBANKING_SETTINGS: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'an enablebanking setting is missing or invalid',
  },
  ENABLEBANKING_SECRETS_MISSING: {
    raisedAs: 'BankAuthError',
    meaning: "the private_key secret (the application's PEM key) is not configured",
  },
  ENABLEBANKING_KEY_INVALID: {
    raisedAs: 'BankAuthError',
    meaning: 'the private_key secret is not an RSA private key in PEM',
  },
  ENABLEBANKING_APP_REFUSED: {
    raisedAs: 'BankAuthError',
    meaning:
      'Enable Banking refused the application JWT (HTTP 401/403): wrong key or application id',
  },
  ENABLEBANKING_SESSION_PENDING: {
    raisedAs: 'BankAuthError',
    meaning: 'the session is not authorised yet: the account holder must finish the authorisation',
  },
  ENABLEBANKING_SESSION_FAILED: {
    raisedAs: 'BankAuthError',
    meaning: 'the authorisation was cancelled or failed: start a new one and update session_id',
  },
  ENABLEBANKING_SESSION_EXPIRED: {
    raisedAs: 'ConsentExpiredError',
    meaning: 'the session expired, was revoked or closed; the account holder must authorise again',
  },
  ENABLEBANKING_ACCOUNT_GONE: {
    raisedAs: 'BankAuthError',
    meaning: 'the account is no longer accessible in the session',
  },
  ENABLEBANKING_UNAVAILABLE: {
    raisedAs: 'BankUnavailableError',
    meaning:
      'Enable Banking or the bank behind it failed or timed out (ASPSP_ERROR, ASPSP_TIMEOUT, 5xx)',
  },
  ENABLEBANKING_NOT_FOUND: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'Enable Banking does not know the session or account (HTTP 404)',
  },
  ENABLEBANKING_BAD_REQUEST: {
    raisedAs: 'BankRequestRejectedError',
    meaning: 'Enable Banking rejected the request (HTTP 400/422)',
  },
  ENABLEBANKING_MALFORMED: {
    raisedAs: 'MalformedStatementError',
    meaning: 'the Enable Banking answer cannot be read',
  },
} as const satisfies ErrorCatalog;

export type BankErrorCode = keyof typeof BANK_ERROR_CODES;

/** The bank codes that the class named `Raiser` raises. */
export type BankCodeOf<Raiser extends string> = CodesRaisedAs<typeof BANK_ERROR_CODES, Raiser>;

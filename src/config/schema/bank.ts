import {
  BANK_PROVIDERS,
  DROPFOLDER_FORMATS,
  OFX_ACCOUNT_TYPES,
  OFX_VERSIONS,
  type BankProviderId,
} from '../constants';
import {
  boolean,
  connectionName,
  currency,
  duration,
  integer,
  journalCode,
  object,
  oneOfValues,
  path,
  secret,
  string,
  TITLES,
  type Schema,
} from './common';
import { csvMappingSchema } from './csv';

/**
 * `bank`: bank feed connections. Each provider closes its own `settings` and `credentials`
 * mappings (one `if provider = X then ...` per provider below); a new provider adds one entry to
 * PROVIDER_SCHEMAS and its id to BANK_PROVIDERS.
 */

const nullablePath = (description: string): Schema => ({
  type: ['string', 'null'],
  minLength: 1,
  description: `${description} A relative path is resolved against the folder of the config file.`,
  default: null,
});

/** No default: a provider imports every account when the list is left out. */
const accountList = (description: string, pattern?: string): Schema => ({
  type: 'array',
  description,
  items: { type: 'string', minLength: 1, ...(pattern ? { pattern } : {}) },
  minItems: 1,
  uniqueItems: true,
});

const credentials = (
  description: string,
  properties: Record<string, Schema>,
  extra: Schema = {},
): Schema => object(description, properties, extra);

/** Settings and credentials schema of each provider. */
export const PROVIDER_SCHEMAS: Readonly<
  Record<BankProviderId, { settings: Schema; credentials: Schema }>
> = {
  dropfolder: {
    settings: object(
      'dropfolder: statement files (OFX/QFX, camt.053, MT940, CSV) dropped into a folder.',
      {
        path: path('Folder to read statement files from.'),
        archive: nullablePath(
          'Folder imported files are moved to; null: an archive folder in the connection state folder.',
        ),
        rejected: nullablePath(
          'Folder unreadable files are moved to; null: a rejected folder in the connection state folder.',
        ),
        keep_files: boolean(
          'Leave files in place instead of moving them; dedup keeps re-imports idempotent.',
          false,
        ),
        format: oneOfValues(
          'File format; auto recognises each file by its content.',
          DROPFOLDER_FORMATS,
          { default: 'auto' },
        ),
        csv: csvMappingSchema,
        account: string(
          'Only import statements of this account (IBAN or account number; spaces and case ignored).',
        ),
        currency: currency('Currency of files that do not state one.'),
      },
      { required: ['path'] },
    ),
    credentials: credentials('dropfolder needs no credentials.', {}),
  },
  'ofx-direct': {
    settings: object(
      "ofx-direct: OFX Direct Connect to the bank's OFX server.",
      {
        url: string(
          'OFX server URL: https (the password travels in the request body); http only to a loopback address, for tests.',
          { format: 'booksync-secure-url' },
        ),
        org: string(
          "FI ORG of the signon (from the bank's OFX profile; AmEx answers 503 without it).",
        ),
        fid: string('FI FID of the signon.'),
        bank_id: string('BANKID (routing number); required unless account_type is CREDITCARD.'),
        account_id: string('ACCTID: the account number.'),
        account_type: oneOfValues(
          'ACCTTYPE; CREDITCARD sends a credit card statement request.',
          OFX_ACCOUNT_TYPES,
          { default: 'CHECKING' },
        ),
        version: oneOfValues(
          'OFX version spoken to the server: 1xx as SGML, 2xx as XML (some banks accept only 102).',
          OFX_VERSIONS,
          { default: 102 },
        ),
        app_id: string("APPID sent at signon; many banks accept only Quicken's.", {
          maxLength: 5,
          default: 'QWIN',
        }),
        app_ver: string('APPVER sent at signon (quoted, up to 4 digits).', {
          pattern: '^[0-9]{1,4}$',
          default: '2700',
        }),
        client_uid: {
          type: ['string', 'null'],
          minLength: 1,
          description:
            'CLIENTUID, when the bank requires one (OFX 1.0.3+); must stay the same across sessions.',
          default: null,
        },
        close_elements: boolean(
          'Close leaf elements in OFX 1.x (SGML) requests; off by default because some servers (USAA) refuse closed leaves.',
          false,
        ),
        language: string('LANGUAGE of the signon.', { pattern: '^[A-Z]{3}$', default: 'ENG' }),
      },
      {
        required: ['url', 'org', 'fid', 'account_id'],
        if: { properties: { account_type: { const: 'CREDITCARD' } }, required: ['account_type'] },
        else: { required: ['bank_id'] },
      },
    ),
    credentials: credentials(
      'ofx-direct signon.',
      { username: secret('OFX USERID.'), password: secret('OFX USERPASS.') },
      { required: ['username', 'password'] },
    ),
  },
  simplefin: {
    settings: object('simplefin: a SimpleFIN Bridge (or other SimpleFIN server) access.', {
      accounts: accountList(
        'SimpleFIN account ids to import; left out: every account of the access.',
      ),
      timezone: string(
        'IANA time zone the bank books in (turns SimpleFIN times into calendar days), e.g. America/New_York.',
        {
          format: 'booksync-timezone',
          default: 'UTC',
        },
      ),
    }),
    credentials: credentials(
      'simplefin: the setup token from SimpleFIN Bridge; it is claimed on the first run and the access URL is then kept in the connection state folder.',
      { setup_token: secret('SimpleFIN setup token.') },
      { required: ['setup_token'] },
    ),
  },
  gocardless: {
    settings: object(
      'gocardless: GoCardless Bank Account Data (ex-Nordigen), legacy: new sign-ups are closed.',
      {
        base_url: string('API base URL: https; http only to a loopback address, for tests.', {
          format: 'booksync-secure-url',
          default: 'https://bankaccountdata.gocardless.com/api/v2',
        }),
        requisition_id: string(
          'Requisition the account holder linked (created outside booksync).',
          { pattern: '^[A-Za-z0-9-]+$' },
        ),
        accounts: accountList(
          'GoCardless account ids to import; left out: every account of the requisition.',
          '^[A-Za-z0-9-]+$',
        ),
      },
      { required: ['requisition_id'] },
    ),
    credentials: credentials(
      'gocardless API user secrets.',
      { secret_id: secret('GoCardless secret_id.'), secret_key: secret('GoCardless secret_key.') },
      {
        required: ['secret_id', 'secret_key'],
      },
    ),
  },
  enablebanking: {
    settings: object(
      'enablebanking: Enable Banking (PSD2 aggregator): an authorised session of the account holder.',
      {
        base_url: string('API base URL: https; http only to a loopback address, for tests.', {
          format: 'booksync-secure-url',
          default: 'https://api.enablebanking.com',
        }),
        application_id: string(
          "The application's id in the Enable Banking control panel (the JWT key id).",
          { pattern: '^[A-Za-z0-9-]+$' },
        ),
        session_id: string(
          'Session the account holder authorised (POST /auth, then POST /sessions, outside booksync).',
          { pattern: '^[A-Za-z0-9-]+$' },
        ),
        accounts: accountList(
          'Enable Banking account uids to import; left out: every account of the session.',
          '^[A-Za-z0-9-]+$',
        ),
      },
      { required: ['application_id', 'session_id'] },
    ),
    credentials: credentials(
      "enablebanking: the application's RSA private key (PEM), best given as a file.",
      { private_key: secret("The application's private key, PEM.") },
      { required: ['private_key'] },
    ),
  },
};

const institutionSchema: Schema = {
  description: 'The bank: an id from config/institutions.yaml, or a custom bank.',
  oneOf: [
    { type: 'string', minLength: 1, description: 'Institution id from the shipped catalog.' },
    object(
      'A custom bank.',
      {
        name: string('Bank name.'),
        bic: string('BIC (8 or 11 characters).', {
          pattern: '^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$',
        }),
        account: string('Account number or IBAN.'),
        currency: currency('Account currency.'),
      },
      { required: ['name'] },
    ),
  ],
};

export const scheduleSchema: Schema = {
  type: 'object',
  title: TITLES.schedule,
  description:
    'When the connection fetches: { every: 4h } or { cron: "0 6 * * *" } (server local time).',
  properties: {
    every: duration('Time between runs.'),
    cron: {
      type: 'string',
      title: TITLES.cron,
      description:
        'A cron line: minute hour day-of-month month day-of-week, or six fields with seconds first.',
      format: 'booksync-cron',
    },
  },
  additionalProperties: false,
  oneOf: [{ required: ['every'] }, { required: ['cron'] }],
  default: { every: '12h' },
};

const connectionSchema: Schema = object(
  'One bank feed: where statements come from and which journal they go to.',
  {
    name: connectionName(
      'Unique name of the connection, used in document ids, logs and ledger.connections.',
    ),
    institution: institutionSchema,
    provider: oneOfValues('How statements are fetched.', BANK_PROVIDERS),
    settings: {
      type: 'object',
      description: 'Provider-specific settings (closed per provider).',
      default: {},
    },
    credentials: {
      type: 'object',
      description: 'Provider secrets, each { env: NAME } or { file: PATH } (closed per provider).',
      default: {},
    },
    journal: journalCode('Journal the statement lines belong to.'),
    schedule: scheduleSchema,
    history_days: integer('Days fetched on the first run.', 1, 730, { default: 90 }),
    overlap_days: integer(
      'Days before the last successful run that every run fetches again (late bookings; dedup drops repeats).',
      0,
      90,
      { default: 7 },
    ),
    include_pending: boolean('Import pending (not yet booked) transactions.', false),
    enabled: boolean('Run this connection on its schedule.', true),
  },
  {
    required: ['name', 'provider', 'journal'],
    allOf: BANK_PROVIDERS.map((id) => ({
      if: { properties: { provider: { const: id } }, required: ['provider'] },
      then: {
        properties: {
          settings: PROVIDER_SCHEMAS[id].settings,
          credentials: PROVIDER_SCHEMAS[id].credentials,
        },
      },
    })),
  },
);

export const bankSchema: Schema = object(
  'Bank feeds.',
  {
    request_timeout: duration('Timeout of each request to a bank provider.', '60s'),
    connections: {
      type: 'array',
      description: 'Bank connections.',
      items: connectionSchema,
      default: [],
    },
  },
  { default: {} },
);

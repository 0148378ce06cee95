/**
 * The closed sets of names the config accepts. Other modules keep registries keyed by these
 * names (the sync engine's conflict strategies, the bank provider registry, the ledger's document
 * types); each of them has a test asserting its keys equal the list here, so the YAML schema and
 * the code cannot drift apart.
 */

/** Conflict strategies a sync type may name (`sync.types.<type>.conflict`); README, "Replication". */
export const CONFLICT_STRATEGIES = [
  'local-wins',
  'remote-wins',
  'newest-wins',
  'merge',
  'manual',
] as const;
export type ConflictStrategy = (typeof CONFLICT_STRATEGIES)[number];

/** Strategies `merge` may fall back to when both sides changed a field differently (all but merge). */
export const TIE_BREAKERS = CONFLICT_STRATEGIES.filter((s): s is TieBreaker => s !== 'merge');
export type TieBreaker = Exclude<ConflictStrategy, 'merge'>;

/** Bank providers a connection may name (`bank.connections[].provider`). */
export const BANK_PROVIDERS = [
  'dropfolder',
  'ofx-direct',
  'simplefin',
  'gocardless',
  'enablebanking',
] as const;
export type BankProviderId = (typeof BANK_PROVIDERS)[number];

/**
 * Document types the sync section may configure (`sync.types.<type>`); the ledger's document
 * model (src/ledger/model.ts) defines the same set. Types not listed in YAML take
 * `sync.default`.
 */
export const SYNC_DOC_TYPES = [
  'account',
  'journal',
  'partner',
  'move',
  'statement_line',
  'invoice',
  'payment',
  'bank_connection',
  'rate',
  'transfer',
] as const;
export type SyncDocType = (typeof SYNC_DOC_TYPES)[number];

export const SYNC_DIRECTIONS = ['both', 'push', 'pull', 'none'] as const;
export type SyncDirection = (typeof SYNC_DIRECTIONS)[number];

export const SYNC_MODES = ['live', 'interval'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

export const BACKOFF_KINDS = ['exponential-jitter', 'fixed'] as const;
export type BackoffKind = (typeof BACKOFF_KINDS)[number];

/** winston levels the daemon uses, most severe first. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `auto`: pretty on a terminal, JSON under systemd (journald sets $JOURNAL_STREAM) or into a pipe. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const CLOUD_AUTH_METHODS = ['basic', 'cookie'] as const;
export type CloudAuthMethod = (typeof CLOUD_AUTH_METHODS)[number];

/** What the daemon asks the cloud for in `Accept-Encoding`; `auto`: gzip unless the cloud is on this machine. */
export const CLOUD_COMPRESSIONS = ['auto', 'gzip', 'none'] as const;
export type CloudCompression = (typeof CLOUD_COMPRESSIONS)[number];

/** Exchange rates providers (`rates.provider`); docs/CURRENCIES.md. */
export const RATES_PROVIDERS = ['ecb', 'none'] as const;
export type RatesProviderId = (typeof RATES_PROVIDERS)[number];

export const POST_MOVES = ['draft', 'posted'] as const;
export type PostMoves = (typeof POST_MOVES)[number];

export const RECONCILE_RULE_KINDS = [
  'reference',
  'amount_partner',
  'amount_window',
  'transfer',
] as const;
export type ReconcileRuleKind = (typeof RECONCILE_RULE_KINDS)[number];

/** Statement file formats the drop folder reads; `auto` sniffs each file. */
export const DROPFOLDER_FORMATS = ['auto', 'ofx', 'camt053', 'mt940', 'csv'] as const;
export type DropfolderFormat = (typeof DROPFOLDER_FORMATS)[number];

/** OFX ACCTTYPE values plus CREDITCARD (which switches to the CCSTMTRQ request). */
export const OFX_ACCOUNT_TYPES = [
  'CHECKING',
  'SAVINGS',
  'MONEYMRKT',
  'CREDITLINE',
  'CD',
  'CREDITCARD',
] as const;
export type OfxAccountType = (typeof OFX_ACCOUNT_TYPES)[number];

/** OFX versions a Direct Connect server may require (docs/PROTOCOLS.md, "OFX Direct Connect"). */
export const OFX_VERSIONS = [102, 103, 151, 160, 200, 201, 202, 203, 210, 211, 220] as const;
export type OfxVersion = (typeof OFX_VERSIONS)[number];

/** The `cloud.url` value that starts a CouchDB-protocol server inside the daemon. */
export const EMBEDDED_CLOUD = 'embedded';

/** Default config path for the systemd service and the CLI. */
export const DEFAULT_CONFIG_PATH = '/etc/booksync/booksync.yaml';

/** state_dir when neither YAML nor $STATE_DIRECTORY sets it. */
export const DEFAULT_STATE_DIR = '/var/lib/booksync';

/** Connection names: used in document ids, log fields and folder names. */
export const CONNECTION_NAME_PATTERN = '^[a-z0-9][a-z0-9-]*$';

/** Account codes of the ledger automation when `ledger.accounts` leaves them out (the demo chart's). */
export const DEFAULT_LEDGER_ACCOUNTS = Object.freeze({
  receivable: '1200',
  payable: '2000',
  opening_balance: '3000',
  fx_gain: '4900',
  fx_loss: '6900',
  transfer: '1090',
});

/** Payload formats of alert webhooks (`alerts.webhooks[].format`). */
export const ALERT_WEBHOOK_FORMATS = ['json', 'ntfy', 'slack'] as const;
export type AlertWebhookFormat = (typeof ALERT_WEBHOOK_FORMATS)[number];

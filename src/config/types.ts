import type {
  AlertWebhookFormat,
  BackoffKind,
  BankProviderId,
  CloudAuthMethod,
  CloudCompression,
  ConflictStrategy,
  DropfolderFormat,
  LogFormat,
  LogLevel,
  OfxAccountType,
  OfxVersion,
  PostMoves,
  RatesProviderId,
  SyncDirection,
  SyncDocType,
  SyncMode,
  TieBreaker,
} from './constants';

/**
 * The loaded configuration: booksync.yaml with every default filled in, every relative path made
 * absolute, every secret reference replaced by its value, deeply frozen.
 *
 * Naming: keys keep the YAML's snake_case exactly, so a key path in an error message, in the
 * docs and in code is the same string. Values computed from the YAML sit beside their source
 * with a suffix: every duration `x` has `x_ms` (milliseconds), an amount `tolerance` has
 * `tolerance_minor` (integer minor units). Optional values that are absent are `null`, never
 * missing.
 */
export interface Config {
  /** Absolute path of the file this was loaded from; relative paths in it resolved against its folder. */
  readonly config_file: string;
  /** Absolute. */
  readonly state_dir: string;
  readonly log: LogConfig;
  readonly local_api: LocalApiConfig;
  readonly cloud: CloudConfig;
  readonly sync: SyncConfig;
  readonly bank: BankConfig;
  readonly ledger: LedgerConfig;
  readonly rates: RatesConfig;
  readonly ops: OpsConfig;
  readonly alerts: AlertsConfig;
}

export interface OpsConfig {
  /** The operations listener's address, or null for `none`. */
  readonly listen: { readonly host: string; readonly port: number } | null;
  readonly ready_offline_max: string;
  readonly ready_offline_max_ms: number;
}

export interface AlertWebhookConfig {
  readonly name: string;
  readonly format: AlertWebhookFormat;
  /** Resolved secret. */
  readonly url: string;
  /** Resolved secret, or null. */
  readonly token: string | null;
  readonly timeout: string;
  readonly timeout_ms: number;
}

export interface AlertsConfig {
  readonly webhooks: readonly AlertWebhookConfig[];
  readonly check_every: string;
  readonly check_every_ms: number;
  readonly repeat_every: string;
  readonly repeat_every_ms: number;
  readonly max_per_hour: number;
  readonly send_resolved: boolean;
  readonly sync_offline_after: string;
  readonly sync_offline_after_ms: number;
  readonly consent_warning: string;
  readonly consent_warning_ms: number;
  readonly conflict_age: string;
  readonly conflict_age_ms: number;
}

export interface LogConfig {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Absolute path of the JSON-lines file, or null. */
  readonly file: string | null;
}

export interface LocalApiConfig {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  /** Set when enabled (the schema requires both then). */
  readonly username: string | null;
  /** Resolved secret. */
  readonly password: string | null;
}

export interface CloudConfig {
  /** `embedded` or an http(s) database URL with no userinfo. */
  readonly url: string;
  /** Every configured URL: `[url]`, or the cluster's node URLs in failover order. */
  readonly urls: readonly string[];
  /** True when url is `embedded`: the daemon starts the cloud server itself. */
  readonly embedded: boolean;
  readonly auth: CloudAuthConfig | null;
  readonly request_timeout: string;
  readonly request_timeout_ms: number;
  readonly compression: CloudCompression;
}

export interface CloudAuthConfig {
  readonly method: CloudAuthMethod;
  readonly username: string;
  /** Resolved secret. */
  readonly password: string;
}

export interface SyncConfig {
  readonly mode: SyncMode;
  readonly interval: string;
  readonly interval_ms: number;
  readonly batch_size: number;
  readonly batch_bytes: number;
  readonly max_attachment_bytes: number;
  readonly backoff: BackoffKind;
  readonly backoff_max: string;
  readonly backoff_max_ms: number;
  readonly auth_retry: string;
  readonly auth_retry_ms: number;
  /** Policy of document types not in SYNC_DOC_TYPES (and the source of the defaults below). */
  readonly default: SyncPolicy;
  /** Every type of SYNC_DOC_TYPES, listed in YAML or not, with sync.default filled in. */
  readonly types: Readonly<Record<SyncDocType, SyncTypeConfig>>;
}

export interface SyncPolicy {
  readonly direction: SyncDirection;
  readonly conflict: ConflictStrategy;
  /** Set exactly when conflict is `merge`. */
  readonly tie_breaker: TieBreaker | null;
}

export interface SyncTypeConfig extends SyncPolicy {
  readonly exclude: SyncExclude;
}

/** Field paths (`a.b`, `items[].x`) kept off the wire. */
export interface SyncExclude {
  readonly push: readonly string[];
  readonly pull: readonly string[];
  readonly both: readonly string[];
}

export interface BankConfig {
  readonly request_timeout: string;
  readonly request_timeout_ms: number;
  readonly connections: readonly BankConnectionConfig[];
}

export interface CustomInstitution {
  readonly name: string;
  readonly bic?: string;
  readonly account?: string;
  readonly currency?: string;
}

export type Schedule =
  { readonly every: string; readonly every_ms: number } | { readonly cron: string };

export interface DropfolderSettings {
  /** Absolute. */
  readonly path: string;
  /** Absolute, or null for the provider's default in the connection state folder. */
  readonly archive: string | null;
  readonly rejected: string | null;
  readonly keep_files: boolean;
  readonly format: DropfolderFormat;
  /** CSV column mapping, as written (keys of CsvMapping in src/bank/formats/csv.ts). */
  readonly csv?: Readonly<Record<string, unknown>>;
  readonly account?: string;
  readonly currency?: string;
}

export interface OfxDirectSettings {
  readonly url: string;
  readonly org: string;
  readonly fid: string;
  readonly bank_id?: string;
  readonly account_id: string;
  readonly account_type: OfxAccountType;
  readonly version: OfxVersion;
  readonly app_id: string;
  readonly app_ver: string;
  readonly client_uid: string | null;
  readonly close_elements: boolean;
  readonly language: string;
}

export interface SimplefinSettings {
  /** Left out: every account. */
  readonly accounts?: readonly string[];
  readonly timezone: string;
}

export interface GocardlessSettings {
  readonly base_url: string;
  readonly requisition_id: string;
  /** Left out: every account of the requisition. */
  readonly accounts?: readonly string[];
}

export interface EnablebankingSettings {
  readonly base_url: string;
  readonly application_id: string;
  readonly session_id: string;
  /** Left out: every account of the session. */
  readonly accounts?: readonly string[];
}

/** Provider settings and resolved credentials, by provider. */
export interface ProviderConfigs {
  dropfolder: { settings: DropfolderSettings; credentials: Readonly<Record<string, never>> };
  'ofx-direct': {
    settings: OfxDirectSettings;
    credentials: { readonly username: string; readonly password: string };
  };
  simplefin: { settings: SimplefinSettings; credentials: { readonly setup_token: string } };
  gocardless: {
    settings: GocardlessSettings;
    credentials: { readonly secret_id: string; readonly secret_key: string };
  };
  enablebanking: {
    settings: EnablebankingSettings;
    credentials: { readonly private_key: string };
  };
}

interface BankConnectionBase {
  readonly name: string;
  /** A catalog id, a custom bank, or null. */
  readonly institution: string | CustomInstitution | null;
  readonly journal: string;
  readonly schedule: Schedule;
  readonly history_days: number;
  readonly overlap_days: number;
  readonly include_pending: boolean;
  readonly enabled: boolean;
}

/** A bank connection; `provider` tells the shape of `settings` and `credentials` (resolved secrets). */
export type BankConnectionConfig = {
  [P in BankProviderId]: BankConnectionBase & {
    readonly provider: P;
    readonly settings: Readonly<ProviderConfigs[P]['settings']>;
    readonly credentials: Readonly<ProviderConfigs[P]['credentials']>;
  };
}[BankProviderId];

export interface LedgerConfig {
  readonly company: { readonly name: string; readonly currency: string };
  readonly post_moves: PostMoves;
  /** Absolute path of the company file created at start, or null. */
  readonly chart: string | null;
  readonly accounts: {
    readonly receivable: string;
    readonly payable: string;
    readonly opening_balance: string;
    readonly fx_gain: string;
    readonly fx_loss: string;
    readonly transfer: string;
  };
  /** By bank connection name; journal and currency filled from the connection and the company. */
  readonly connections: Readonly<Record<string, LedgerConnectionConfig>>;
  readonly reconcile: { readonly rules: readonly ReconcileRule[] };
}

/** `rates`: exchange rates sources (docs/CURRENCIES.md). */
export interface RatesConfig {
  readonly provider: RatesProviderId;
  readonly url: string;
  readonly schedule: Schedule;
  /** Absolute, or null. */
  readonly folder: string | null;
}

export interface LedgerConnectionConfig {
  readonly journal: string;
  readonly bank_account: string;
  readonly suspense_account: string;
  readonly currency: string;
}

export type ReconcileRule =
  | { readonly kind: 'reference' }
  | { readonly kind: 'amount_partner' }
  | {
      readonly kind: 'amount_window';
      /** Decimal text in the company currency, as written. */
      readonly tolerance: string;
      /** The same in integer minor units of the company currency. */
      readonly tolerance_minor: number;
      readonly days: number;
      /** Account code the difference is booked to; null: none. */
      readonly write_off: string | null;
    }
  | {
      readonly kind: 'transfer';
      readonly days: number;
      /** Cross-currency tolerance, percent text as written ("1.5%"). */
      readonly tolerance: string;
    };

/** Secret-free summary for `booksync status` (a type alias, so it is a plain Record for JSON output). */
export type ConfigSummary = {
  readonly config_file: string;
  readonly state_dir: string;
  readonly log_level: LogLevel;
  /** Cloud URL with any user name or password removed. */
  readonly cloud_url: string;
  readonly sync_mode: SyncMode;
  readonly connections: number;
  readonly connections_enabled: number;
  /** `host:port`, or null when disabled. */
  readonly local_api: string | null;
};

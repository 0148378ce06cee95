import type {
  AlertWebhookFormat,
  BackoffKind,
  BankProviderId,
  CloudAuthMethod,
  CloudCompression,
  ConflictStrategy,
  LogFormat,
  LogLevel,
  PostMoves,
  RatesProviderId,
  SyncDirection,
  SyncDocType,
  SyncMode,
  TieBreaker,
} from './constants';
import type { CustomInstitution, ProviderConfigs, SyncExclude } from './types';

/**
 * booksync.yaml as it reads after the schema (src/config/schema) accepted it and filled in its
 * defaults: the input of buildConfig. Keys the schema gives a default are required here; keys it
 * leaves optional are optional. Paths are as written (relative or absolute) and secrets are
 * references, not values.
 */
export interface ConfigData {
  state_dir: string;
  log: { level: LogLevel; format: LogFormat; file: string | null };
  local_api: {
    enabled: boolean;
    host: string;
    port: number;
    username?: string;
    password?: SecretRef;
  };
  cloud: {
    url: string | string[];
    auth?: { method: CloudAuthMethod; username: string; password: SecretRef };
    request_timeout: string;
    compression: CloudCompression;
  };
  sync: SyncData;
  bank: { request_timeout: string; connections: BankConnectionData[] };
  ledger: LedgerData;
  rates: {
    provider: RatesProviderId;
    url: string;
    schedule: { every: string } | { cron: string };
    folder?: string | null;
  };
  ops: { listen: string; ready_offline_max: string };
  alerts: AlertsData;
}

/** `{ env: NAME }` or `{ file: PATH }` (src/config/secrets.ts resolves it). */
export type SecretRef = { env: string } | { file: string };

export interface SyncPolicyData {
  direction: SyncDirection;
  conflict: ConflictStrategy;
  tie_breaker?: TieBreaker;
}

export interface SyncData {
  mode: SyncMode;
  interval: string;
  batch_size: number;
  batch_bytes: number;
  max_attachment_bytes: number;
  backoff: BackoffKind;
  backoff_max: string;
  auth_retry: string;
  default: SyncPolicyData;
  /** Only the listed types; a listed type has its `exclude` lists filled in. */
  types: Partial<Record<SyncDocType, Partial<SyncPolicyData> & { exclude: SyncExclude }>>;
}

/** One bank connection; the schema closes `settings` and `credentials` per provider. */
export type BankConnectionData = {
  [P in BankProviderId]: {
    name: string;
    institution?: string | CustomInstitution;
    provider: P;
    settings: ProviderConfigs[P]['settings'];
    credentials: Record<keyof ProviderConfigs[P]['credentials'], SecretRef>;
    journal: string;
    schedule: { every: string } | { cron: string };
    history_days: number;
    overlap_days: number;
    include_pending: boolean;
    enabled: boolean;
  };
}[BankProviderId];

export interface LedgerData {
  company: { name: string; currency: string };
  post_moves: PostMoves;
  chart: string | null;
  accounts: {
    receivable?: string;
    payable?: string;
    opening_balance?: string;
    fx_gain?: string;
    fx_loss?: string;
    transfer?: string;
  };
  connections: Record<
    string,
    { journal?: string; bank_account: string; suspense_account: string; currency?: string }
  >;
  reconcile: { rules: ReconcileRuleData[] };
}

export type ReconcileRuleData =
  | { kind: 'reference' }
  | { kind: 'amount_partner' }
  | { kind: 'amount_window'; tolerance: string; days: number; write_off?: string }
  | { kind: 'transfer'; days: number; tolerance: string };

export interface AlertsData {
  webhooks: {
    name: string;
    format: AlertWebhookFormat;
    url: SecretRef;
    token?: SecretRef;
    timeout: string;
  }[];
  check_every: string;
  repeat_every: string;
  max_per_hour: number;
  send_resolved: boolean;
  sync_offline_after: string;
  consent_warning: string;
  conflict_age: string;
}

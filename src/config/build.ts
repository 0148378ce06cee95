import { resolve } from 'node:path';
import { parseDuration } from '../shared/duration';
import { parseAmount } from '../shared/money';
import {
  DEFAULT_LEDGER_ACCOUNTS,
  EMBEDDED_CLOUD,
  SYNC_DOC_TYPES,
  type SyncDocType,
} from './constants';
import type { ConfigData } from './data';
import type { KeyPath } from './locate';
import { secretKey, type ResolvedSecrets } from './secrets';
import type {
  AlertsConfig,
  BankConnectionConfig,
  Config,
  OpsConfig,
  LedgerConnectionConfig,
  ReconcileRule,
  Schedule,
  SyncPolicy,
  SyncTypeConfig,
} from './types';

/**
 * Builds the typed Config from data that passed every check (so the casts below hold): resolves
 * paths, adds the derived `_ms` / `_minor` values, fills the defaults that depend on other keys
 * (a type's policy from sync.default, a ledger mapping's journal and currency), swaps secret
 * references for their values, and freezes the result.
 */

/** `interval: '15m'` → `{ interval: '15m', interval_ms: 900000 }`. */
function withMs<K extends string>(
  key: K,
  text: string,
): Record<K, string> & Record<`${K}_ms`, number> {
  return { [key]: text, [`${key}_ms`]: parseDuration(text) } as Record<K, string> &
    Record<`${K}_ms`, number>;
}

export interface BuildContext {
  file: string;
  dir: string;
  secrets: ResolvedSecrets;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function buildConfig(data: ConfigData, ctx: BuildContext): Config {
  const at = (p: string | null): string | null => (p === null ? null : resolve(ctx.dir, p));
  const secret = (path: KeyPath): string => {
    const value = ctx.secrets.values.get(secretKey(path));
    if (value === undefined) throw new Error(`secret at ${path.join('.')} was not resolved`); // SNH: resolution errors stop the load first
    return value;
  };

  const localApi = data.local_api;
  const cloud = data.cloud;
  const cloudUrls: string[] = Array.isArray(cloud.url) ? [...cloud.url] : [cloud.url];
  const sync = data.sync;

  const policy: SyncPolicy = {
    direction: sync.default.direction,
    conflict: sync.default.conflict,
    tie_breaker: sync.default.tie_breaker ?? null,
  };
  const types = Object.fromEntries(
    SYNC_DOC_TYPES.map((type): [SyncDocType, SyncTypeConfig] => {
      const t: Partial<ConfigData['sync']['types'][SyncDocType]> = sync.types[type] ?? {};
      const ownConflict = t.conflict !== undefined;
      return [
        type,
        {
          direction: t.direction ?? policy.direction,
          conflict: t.conflict ?? policy.conflict,
          tie_breaker: t.tie_breaker ?? (ownConflict ? null : policy.tie_breaker),
          exclude: t.exclude ?? { push: [], pull: [], both: [] },
        },
      ];
    }),
  ) as Record<SyncDocType, SyncTypeConfig>;

  const connections = data.bank.connections.map((c, i): BankConnectionConfig => {
    const settings =
      c.provider === 'dropfolder'
        ? {
            ...c.settings,
            path: resolve(ctx.dir, c.settings.path),
            archive: at(c.settings.archive),
            rejected: at(c.settings.rejected),
          }
        : c.settings;
    const credentials = Object.fromEntries(
      Object.keys(c.credentials).map((k) => [
        k,
        secret(['bank', 'connections', i, 'credentials', k]),
      ]),
    );
    const schedule: Schedule =
      'every' in c.schedule ? withMs('every', c.schedule.every) : { cron: c.schedule.cron };
    return {
      name: c.name,
      institution: c.institution ?? null,
      provider: c.provider,
      settings,
      credentials,
      journal: c.journal,
      schedule,
      history_days: c.history_days,
      overlap_days: c.overlap_days,
      include_pending: c.include_pending,
      enabled: c.enabled,
    } as BankConnectionConfig;
  });

  const bankJournal = (name: string): string => {
    const connection = connections.find((c) => c.name === name);
    if (!connection) throw new Error(`ledger.connections.${name} names no bank connection`); // SNH: the semantic checks reject it first
    return connection.journal;
  };
  const ledger = data.ledger;
  const companyCurrency: string = ledger.company.currency;
  const ledgerConnections = Object.fromEntries(
    Object.entries(ledger.connections).map(([name, m]): [string, LedgerConnectionConfig] => [
      name,
      {
        journal: m.journal ?? bankJournal(name),
        bank_account: m.bank_account,
        suspense_account: m.suspense_account,
        currency: m.currency ?? companyCurrency,
      },
    ]),
  );
  const rules = ledger.reconcile.rules.map((r): ReconcileRule =>
    r.kind === 'amount_window'
      ? {
          kind: 'amount_window',
          tolerance: r.tolerance,
          tolerance_minor: parseAmount(r.tolerance, companyCurrency, { decimal: '.' }),
          days: r.days,
          write_off: r.write_off ?? null,
        }
      : { kind: r.kind },
  );

  const ops: OpsConfig = {
    listen: listenAddress(data.ops.listen),
    ...withMs('ready_offline_max', data.ops.ready_offline_max),
  };
  const a = data.alerts;
  const alerts: AlertsConfig = {
    webhooks: a.webhooks.map((w, i) => ({
      name: w.name,
      format: w.format,
      url: secret(['alerts', 'webhooks', i, 'url']),
      token: w.token === undefined ? null : secret(['alerts', 'webhooks', i, 'token']),
      ...withMs('timeout', w.timeout),
    })),
    ...withMs('check_every', a.check_every),
    ...withMs('repeat_every', a.repeat_every),
    max_per_hour: a.max_per_hour,
    send_resolved: a.send_resolved,
    ...withMs('sync_offline_after', a.sync_offline_after),
    ...withMs('consent_warning', a.consent_warning),
    ...withMs('conflict_age', a.conflict_age),
  };

  const config: Config = {
    config_file: ctx.file,
    state_dir: resolve(ctx.dir, data.state_dir),
    log: { level: data.log.level, format: data.log.format, file: at(data.log.file) },
    local_api: {
      enabled: localApi.enabled,
      host: localApi.host,
      port: localApi.port,
      username: localApi.username ?? null,
      password: localApi.password === undefined ? null : secret(['local_api', 'password']),
    },
    cloud: {
      // A list names the nodes of one cluster: the first is the URL, all of them the failover order.
      url: cloudUrls[0],
      urls: cloudUrls,
      embedded: cloudUrls[0] === EMBEDDED_CLOUD,
      auth:
        cloud.auth === undefined
          ? null
          : {
              method: cloud.auth.method,
              username: cloud.auth.username,
              password: secret(['cloud', 'auth', 'password']),
            },
      ...withMs('request_timeout', cloud.request_timeout),
      compression: cloud.compression,
    },
    sync: {
      mode: sync.mode,
      ...withMs('interval', sync.interval),
      batch_size: sync.batch_size,
      batch_bytes: sync.batch_bytes,
      max_attachment_bytes: sync.max_attachment_bytes,
      backoff: sync.backoff,
      ...withMs('backoff_max', sync.backoff_max),
      ...withMs('auth_retry', sync.auth_retry),
      default: policy,
      types,
    },
    bank: { ...withMs('request_timeout', data.bank.request_timeout), connections },
    ledger: {
      company: { name: ledger.company.name, currency: companyCurrency },
      post_moves: ledger.post_moves,
      chart: at(ledger.chart ?? null),
      accounts: {
        receivable: ledger.accounts.receivable ?? DEFAULT_LEDGER_ACCOUNTS.receivable,
        payable: ledger.accounts.payable ?? DEFAULT_LEDGER_ACCOUNTS.payable,
        opening_balance: ledger.accounts.opening_balance ?? DEFAULT_LEDGER_ACCOUNTS.opening_balance,
        fx_gain: ledger.accounts.fx_gain ?? DEFAULT_LEDGER_ACCOUNTS.fx_gain,
        fx_loss: ledger.accounts.fx_loss ?? DEFAULT_LEDGER_ACCOUNTS.fx_loss,
      },
      connections: ledgerConnections,
      reconcile: { rules },
    },
    rates: {
      provider: data.rates.provider,
      url: data.rates.url,
      schedule:
        'every' in data.rates.schedule
          ? withMs('every', data.rates.schedule.every)
          : { cron: data.rates.schedule.cron },
      folder: at(data.rates.folder ?? null),
    },
    ops,
    alerts,
  };
  return deepFreeze(config);
}

/** `127.0.0.1:9464` → host and port; `[::1]:9464` → `::1`; `none` → null. */
function listenAddress(text: string): OpsConfig['listen'] {
  if (text === 'none') return null;
  const colon = text.lastIndexOf(':');
  return {
    host: text.slice(0, colon).replace(/^\[(.*)\]$/, '$1'),
    port: Number(text.slice(colon + 1)),
  };
}

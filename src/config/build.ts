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
import type { KeyPath } from '../shared/yaml-locate';
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

/** Resolves config-relative paths and swaps secret references for their values. */
interface Resolvers {
  at: (p: string | null) => string | null;
  secret: (path: KeyPath) => string;
}

function resolvers(ctx: BuildContext): Resolvers {
  return {
    at: (p) => (p === null ? null : resolve(ctx.dir, p)),
    secret: (path) => {
      const value = ctx.secrets.values.get(secretKey(path));
      if (value === undefined) throw new Error(`secret at ${path.join('.')} was not resolved`); // SNH: resolution errors stop the load first
      return value;
    },
  };
}

function buildLocalApi(localApi: ConfigData['local_api'], r: Resolvers): Config['local_api'] {
  return {
    enabled: localApi.enabled,
    host: localApi.host,
    port: localApi.port,
    username: localApi.username ?? null,
    password: localApi.password === undefined ? null : r.secret(['local_api', 'password']),
  };
}

function buildCloud(cloud: ConfigData['cloud'], r: Resolvers): Config['cloud'] {
  const cloudUrls: string[] = Array.isArray(cloud.url) ? [...cloud.url] : [cloud.url];
  return {
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
            password: r.secret(['cloud', 'auth', 'password']),
          },
    ...withMs('request_timeout', cloud.request_timeout),
    compression: cloud.compression,
  };
}

/** Each document type's policy, falling back to sync.default key by key. */
function buildSync(sync: ConfigData['sync']): Config['sync'] {
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
  return {
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
  };
}

function buildBankConnections(
  connections: ConfigData['bank']['connections'],
  ctx: BuildContext,
  r: Resolvers,
): BankConnectionConfig[] {
  return connections.map((c, i): BankConnectionConfig => {
    const settings =
      c.provider === 'dropfolder'
        ? {
            ...c.settings,
            path: resolve(ctx.dir, c.settings.path),
            archive: r.at(c.settings.archive),
            rejected: r.at(c.settings.rejected),
          }
        : c.settings;
    const credentials = Object.fromEntries(
      Object.keys(c.credentials).map((k) => [
        k,
        r.secret(['bank', 'connections', i, 'credentials', k]),
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
}

/** The ledger section; a mapping without journal or currency takes its connection's and the company's. */
function buildLedger(
  ledger: ConfigData['ledger'],
  connections: readonly BankConnectionConfig[],
  r: Resolvers,
): Config['ledger'] {
  const bankJournal = (name: string): string => {
    const connection = connections.find((c) => c.name === name);
    if (!connection) throw new Error(`ledger.connections.${name} names no bank connection`); // SNH: the semantic checks reject it first
    return connection.journal;
  };
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
  const rules = ledger.reconcile.rules.map((rule): ReconcileRule =>
    rule.kind === 'amount_window'
      ? {
          kind: 'amount_window',
          tolerance: rule.tolerance,
          tolerance_minor: parseAmount(rule.tolerance, companyCurrency, { decimal: '.' }),
          days: rule.days,
          write_off: rule.write_off ?? null,
        }
      : rule.kind === 'transfer'
        ? { kind: 'transfer', days: rule.days, tolerance: rule.tolerance }
        : { kind: rule.kind },
  );
  return {
    company: { name: ledger.company.name, currency: companyCurrency },
    post_moves: ledger.post_moves,
    chart: r.at(ledger.chart ?? null),
    accounts: {
      receivable: ledger.accounts.receivable ?? DEFAULT_LEDGER_ACCOUNTS.receivable,
      payable: ledger.accounts.payable ?? DEFAULT_LEDGER_ACCOUNTS.payable,
      opening_balance: ledger.accounts.opening_balance ?? DEFAULT_LEDGER_ACCOUNTS.opening_balance,
      fx_gain: ledger.accounts.fx_gain ?? DEFAULT_LEDGER_ACCOUNTS.fx_gain,
      fx_loss: ledger.accounts.fx_loss ?? DEFAULT_LEDGER_ACCOUNTS.fx_loss,
      transfer: ledger.accounts.transfer ?? DEFAULT_LEDGER_ACCOUNTS.transfer,
    },
    connections: ledgerConnections,
    reconcile: { rules },
  };
}

function buildRates(rates: ConfigData['rates'], r: Resolvers): Config['rates'] {
  return {
    provider: rates.provider,
    url: rates.url,
    schedule:
      'every' in rates.schedule
        ? withMs('every', rates.schedule.every)
        : { cron: rates.schedule.cron },
    folder: r.at(rates.folder ?? null),
    keep_files: rates.keep_files,
  };
}

function buildAlerts(a: ConfigData['alerts'], r: Resolvers): AlertsConfig {
  return {
    webhooks: a.webhooks.map((w, i) => ({
      name: w.name,
      format: w.format,
      url: r.secret(['alerts', 'webhooks', i, 'url']),
      token: w.token === undefined ? null : r.secret(['alerts', 'webhooks', i, 'token']),
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
}

export function buildConfig(data: ConfigData, ctx: BuildContext): Config {
  const r = resolvers(ctx);
  // Bank before ledger: a ledger mapping without a journal takes its bank connection's.
  const connections = buildBankConnections(data.bank.connections, ctx, r);
  const ledger = buildLedger(data.ledger, connections, r);
  const ops: OpsConfig = {
    listen: listenAddress(data.ops.listen),
    ...withMs('ready_offline_max', data.ops.ready_offline_max),
  };
  const alerts = buildAlerts(data.alerts, r);

  const config: Config = {
    config_file: ctx.file,
    state_dir: resolve(ctx.dir, data.state_dir),
    log: { level: data.log.level, format: data.log.format, file: r.at(data.log.file) },
    local_api: buildLocalApi(data.local_api, r),
    cloud: buildCloud(data.cloud, r),
    sync: buildSync(data.sync),
    bank: { ...withMs('request_timeout', data.bank.request_timeout), connections },
    ledger,
    rates: buildRates(data.rates, r),
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

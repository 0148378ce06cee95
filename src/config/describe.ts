import { stripUrlCredentials } from '../shared/urls';
import type { Config, ConfigSummary } from './types';

/** The URL without user name and password (the loader refuses them, this is belt and braces). */
export const stripUserinfo = stripUrlCredentials;

/** A secret-free summary for `booksync status` and the `daemon.start` log line. */
export function describeConfig(config: Config): ConfigSummary {
  return {
    config_file: config.config_file,
    state_dir: config.state_dir,
    log_level: config.log.level,
    cloud_url: stripUserinfo(config.cloud.url),
    sync_mode: config.sync.mode,
    connections: config.bank.connections.length,
    connections_enabled: config.bank.connections.filter((c) => c.enabled).length,
    local_api: config.local_api.enabled
      ? `${config.local_api.host}:${config.local_api.port}`
      : null,
  };
}

/**
 * Every resolved secret value of the config, longest first, for the log redaction format (a
 * longer secret containing a shorter one must be masked first). Secrets sit at
 * local_api.password, cloud.auth.password, bank.connections[].credentials and alerts.webhooks[].url/token.
 */
export function secretValues(config: Config): string[] {
  const values = [
    config.local_api.password,
    config.cloud.auth?.password,
    ...config.bank.connections.flatMap((c) =>
      Object.values(c.credentials as Record<string, string>),
    ),
    ...config.alerts.webhooks.flatMap((w) => [w.url, w.token]),
  ];
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))].sort(
    (a, b) => b.length - a.length || a.localeCompare(b),
  );
}

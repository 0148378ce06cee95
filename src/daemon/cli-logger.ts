import { loadConfig, secretValues } from '../config';
import type { Logger } from '../shared/logger';
import { createLogger } from './logging';

/**
 * The logger of a CLI command that works on the books itself (the daemon is not running):
 * warnings and errors on stderr, masked like the daemon's with the config's secrets. The config
 * is read on the first line logged; when it cannot be read, the command reports that itself.
 */
export function createCliLogger(configPath: string, env: NodeJS.ProcessEnv): Logger {
  let secrets: string[] | undefined;
  const configSecrets = (): string[] => {
    if (!secrets) {
      try {
        secrets = secretValues(loadConfig(configPath, { env }));
      } catch {
        secrets = [];
      }
    }
    return secrets;
  };
  return createLogger({
    level: env.BOOKSYNC_CLI_LOG_LEVEL ?? 'warn',
    stream: process.stderr,
    secrets: configSecrets,
  });
}

import { loadConfig, type Config } from '../config';
import { BooksStore } from '../ledger';
import { BooksyncError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { callDaemon, DaemonNotRunningError } from './control';
import type { ControlMethodName, ControlParams, ControlResult } from './control-methods';
import { statePaths, StateDirInUseError } from './daemon';
import { embeddedCloudPaths } from './embedded-cloud-login';
import { baseStatus, type StatusReport } from './status';

/**
 * Runs `fn` inside the running daemon over the control socket when one runs, else against the
 * books opened directly (the daemon is the only writer while it runs: it owns the LevelDB lock).
 */
export async function withDaemonOrStore<T>(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  viaDaemon: (socket: string) => Promise<T>,
  direct: (
    store: BooksStore,
    config: ReturnType<typeof loadConfig>,
    booksPath: string,
  ) => Promise<T>,
  opts: { directNeedsSecrets?: boolean } = {},
): Promise<T> {
  // The daemon has its own secrets; only work done here on the books may need them.
  let config = loadConfig(configPath, { env, secrets: 'skip' });
  const paths = statePaths(config.state_dir);
  try {
    return await viaDaemon(paths.socket);
  } catch (err) {
    if (!(err instanceof DaemonNotRunningError)) throw err;
  }
  if (opts.directNeedsSecrets) config = loadConfig(configPath, { env });
  let store: BooksStore;
  try {
    store = await BooksStore.open(paths.books, { logger });
  } catch (err) {
    if (err instanceof BooksyncError && err.code === 'STORE_LOCKED') {
      throw new StateDirInUseError(
        `the books in ${config.state_dir} are held by a booksync process that does not answer on ${paths.socket}`,
        { cause: err },
      );
    }
    throw err;
  }
  try {
    return await direct(store, config, paths.books);
  } finally {
    await store.close();
  }
}

/** How long a command on the books may take in the daemon (a fetch or a re-walk can be long). */
const COMMAND_TIMEOUT_MS = 10 * 60_000;

/**
 * Control method `method` with `params` in the running daemon, else `direct` on the books opened
 * here: the CLI's commands that act on the books (an admin can act while the service is stopped).
 */
export function viaDaemonOr<M extends ControlMethodName>(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  method: M,
  params: ControlParams<M>,
  direct: (store: BooksStore, config: Config) => Promise<ControlResult<M>>,
  opts: { directNeedsSecrets?: boolean; timeoutMs?: number } = {},
): Promise<ControlResult<M>> {
  return withDaemonOrStore(
    configPath,
    env,
    logger,
    (socket) => callDaemon(socket, method, params, opts.timeoutMs ?? COMMAND_TIMEOUT_MS),
    direct,
    opts,
  );
}

/** `booksync status`: from the running daemon, or from the books when it is not running. */
export function readStatus(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<StatusReport> {
  return withDaemonOrStore(
    configPath,
    env,
    logger,
    (socket) => callDaemon(socket, 'status', {}),
    async (store, config, booksPath) => {
      const report = await baseStatus(config, store, booksPath);
      // Where to find the embedded cloud's login even while it is not running.
      if (config.cloud.embedded)
        report.services.cloud = {
          url: null,
          credentials_file: embeddedCloudPaths(config.state_dir).credentials,
        };
      return report;
    },
  );
}

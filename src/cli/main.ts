#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config';
import type { Daemon, StatusReport } from '../daemon';
import { BooksyncError, describeError } from '../shared/errors';
import { ADMIN_COMMANDS } from './admin-commands';
import { BOOKS_COMMANDS, type Command } from './books-commands';
import { formatStatus } from './format';
import { RATES_COMMANDS } from './rates-commands';
import { VERSION } from '../shared/version';

/** sysexits(3) codes systemd and scripts understand. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  TEMPFAIL: 75,
  CONFIG: 78,
} as const;

const DEFAULT_CONFIG = '/etc/booksync/booksync.yaml';

/** Start failures caused by what the admin configured (a file the config names), beyond ConfigError: exit 78, so systemd does not restart-loop. */
const CONFIG_CODES = new Set(['LEDGER_CHART_INVALID']);

/**
 * The daemon and its storage stack are loaded only by the commands that need them, so
 * `version`, `--help` and `check-config` answer at once.
 */
const daemonModule = () => import('../daemon');

/** A logger for commands that open the books directly: warnings and errors to stderr only. */
async function cliLogger(configPath: string, env: NodeJS.ProcessEnv) {
  const { createCliLogger } = await import('../daemon/cli-logger');
  return createCliLogger(configPath, env);
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'run the daemon in the foreground (what systemd runs)',
    usage: 'booksync start [--config PATH]',
    async run({ configPath, env }) {
      const { Daemon, StateDirInUseError } = await daemonModule();
      const { wireServices } = await import('../daemon/wiring');
      let daemon: Daemon;
      try {
        daemon = await Daemon.start({ configPath, env, services: wireServices });
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.format()}\n`);
          return EXIT.CONFIG;
        }
        if (err instanceof StateDirInUseError) {
          process.stderr.write(`booksync: ${err.message}\n`);
          return EXIT.TEMPFAIL;
        }
        // One line, no stack: the daemon.start_failed log line has the details.
        process.stderr.write(
          `booksync: cannot start: ${describeError(err).message.replace(/\s*\n\s*/g, ' ')}\n`,
        );
        return CONFIG_CODES.has(describeError(err).code) ? EXIT.CONFIG : EXIT.SOFTWARE;
      }
      // An error nobody caught is logged as one JSON line and ends the process non-zero, so
      // systemd (Restart=on-failure) starts a clean instance.
      const crash = (err: unknown) => {
        daemon.log.error(`uncaught error: ${describeError(err).message}`, {
          event: 'daemon.crash',
          err,
        });
        setTimeout(() => process.exit(EXIT.SOFTWARE), 100).unref();
      };
      process.on('uncaughtException', crash);
      process.on('unhandledRejection', crash);
      daemon.installSignalHandlers();
      return daemon.done;
    },
  },
  'check-config': {
    summary: 'validate the config file: prints ok, or every error with file:line:col',
    usage: 'booksync check-config [--config PATH]',
    // eslint-disable-next-line @typescript-eslint/require-await -- async so that an unexpected load failure reaches main as a rejection
    async run({ configPath, env }) {
      try {
        loadConfig(configPath, { env, preflight: true });
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stdout.write(`${err.format()}\n`);
          return EXIT.CONFIG;
        }
        throw err;
      }
      process.stdout.write('ok\n');
      return EXIT.OK;
    },
  },
  status: {
    summary: 'show the daemon, the books, sync and bank connections (--json for scripts)',
    usage: 'booksync status [--config PATH] [--json]',
    options: { json: { type: 'boolean' } },
    async run({ values, configPath, env }) {
      const { readStatus } = await daemonModule();
      const report: StatusReport = await readStatus(
        configPath,
        env,
        await cliLogger(configPath, env),
      );
      process.stdout.write(
        values.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report),
      );
      return EXIT.OK;
    },
  },
  ...BOOKS_COMMANDS,
  ...ADMIN_COMMANDS,
  ...RATES_COMMANDS,
  version: {
    summary: 'print the version',
    usage: 'booksync version',
    run() {
      process.stdout.write(`booksync ${VERSION}\n`);
      return Promise.resolve(EXIT.OK);
    },
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`,
  );
  return [
    'booksync: keeps local books and a cloud CouchDB in sync, and feeds them from the bank.',
    '',
    'Usage: booksync <command> [--config PATH] [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Options:',
    `  --config PATH  config file (default: $BOOKSYNC_CONFIG or ${DEFAULT_CONFIG})`,
    '  --help         show help for a command',
    '',
  ].join('\n');
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? EXIT.OK : EXIT.USAGE;
  }
  if (name === '--version')
    return COMMANDS.version.run({ values: {}, positionals: [], configPath: '', env });
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(
      `booksync: unknown command '${name}' (known: ${Object.keys(COMMANDS).join(', ')})\n`,
    );
    return EXIT.USAGE;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        ...(command.options ?? {}),
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`booksync ${name}: ${(err as Error).message}\nusage: ${command.usage}\n`);
    return EXIT.USAGE;
  }
  if (parsed.values.help) {
    process.stdout.write(`${command.summary}\nusage: ${command.usage}\n`);
    return EXIT.OK;
  }
  const configPath = parsed.values.config ?? env.BOOKSYNC_CONFIG ?? DEFAULT_CONFIG;
  try {
    return await command.run({
      values: parsed.values,
      positionals: parsed.positionals,
      configPath,
      env,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.format()}\n`);
      return EXIT.CONFIG;
    }
    if (err instanceof BooksyncError) {
      process.stderr.write(`booksync ${name}: ${err.message}\n`);
      return err.code === 'STATE_DIR_IN_USE' ? EXIT.TEMPFAIL : EXIT.FAILURE;
    }
    process.stderr.write(
      `booksync ${name}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`,
    );
    return EXIT.SOFTWARE;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    // Exit explicitly: a daemon that has stopped must not linger on a timer some library left.
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`booksync: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(EXIT.SOFTWARE);
    },
  );
}

import type { Command } from './books-commands';

/** `booksync backup` and `booksync restore` (README, "Backup and restore"). */
export const ADMIN_COMMANDS: Record<string, Command> = {
  backup: {
    summary:
      'write a consistent backup of the books, sync bookkeeping and bank state to FILE (while the daemon runs)',
    usage: 'booksync backup FILE [--config PATH] [--json]',
    options: { json: { type: 'boolean' } },
    async run({ values, positionals, configPath, env }) {
      if (positionals.length !== 1) {
        process.stderr.write(`backup: give one file to write\nusage: ${this.usage}\n`);
        return 64;
      }
      const { loadConfig } = await import('../config');
      const { backupToFile } = await import('../daemon/backup');
      const { createLogger } = await import('../daemon');
      const config = loadConfig(configPath, { env, secrets: 'skip' });
      const logger = createLogger({
        level: env.BOOKSYNC_CLI_LOG_LEVEL ?? 'warn',
        stream: process.stderr,
        secrets: () => [],
      });
      const result = await backupToFile(config, positionals[0], logger);
      process.stdout.write(
        values.json
          ? `${JSON.stringify(result)}\n`
          : `backup written to ${result.file} (${result.bytes} bytes, ${result.via === 'daemon' ? 'from the running daemon' : 'from the stopped books'})\n`,
      );
      return 0;
    },
  },
  restore: {
    summary: 'restore a backup into an empty state directory (the service stopped)',
    usage: 'booksync restore FILE --state-dir DIR [--json]',
    options: { 'state-dir': { type: 'string' }, json: { type: 'boolean' } },
    async run({ values, positionals }) {
      const stateDir = values['state-dir'];
      if (positionals.length !== 1 || typeof stateDir !== 'string' || stateDir === '') {
        process.stderr.write(
          `restore: give one backup file and --state-dir DIR\nusage: ${this.usage}\n`,
        );
        return 64;
      }
      const { restoreBackup } = await import('../backup');
      const result = await restoreBackup(positionals[0], stateDir);
      const e = result.entries;
      process.stdout.write(
        values.json
          ? `${JSON.stringify(result)}\n`
          : `restored into ${result.state_dir}: ${e.books} books entries, ${e.sync} sync entries, ${e.file} files\n`,
      );
      return 0;
    },
  },
};

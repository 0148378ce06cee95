/**
 * Writes docs/ERRORS.md from the error-code catalogs (`src/<module>/error-codes.ts`, the single
 * source). `--check` writes nothing and exits 1 when the shipped file is stale.
 *
 *   node dist/scripts/gen-errors-doc.js [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ErrorCatalog } from '../src/shared/errors';
import { BACKUP_ERROR_CODES } from '../src/backup/error-codes';
import { BANK_ERROR_CODES } from '../src/bank/error-codes';
import { CONFIG_ERROR_CODES } from '../src/config/error-codes';
import { DAEMON_ERROR_CODES } from '../src/daemon/error-codes';
import { LEDGER_ERROR_CODES } from '../src/ledger/error-codes';
import { LOCAL_API_ERROR_CODES } from '../src/local-api/error-codes';
import { OPS_ERROR_CODES } from '../src/ops/error-codes';
import { RATES_ERROR_CODES } from '../src/rates/error-codes';
import { SHARED_ERROR_CODES } from '../src/shared/error-codes';
import { SYNC_ERROR_CODES } from '../src/sync/error-codes';

/** Every catalog, in the order docs/ERRORS.md lists them. */
export const ERROR_CATALOGS: readonly { title: string; file: string; catalog: ErrorCatalog }[] = [
  { title: 'Configuration', file: 'src/config/error-codes.ts', catalog: CONFIG_ERROR_CODES },
  {
    title: 'Books (ledger and store)',
    file: 'src/ledger/error-codes.ts',
    catalog: LEDGER_ERROR_CODES,
  },
  { title: 'Cloud sync', file: 'src/sync/error-codes.ts', catalog: SYNC_ERROR_CODES },
  { title: 'Bank feeds', file: 'src/bank/error-codes.ts', catalog: BANK_ERROR_CODES },
  { title: 'Exchange rates', file: 'src/rates/error-codes.ts', catalog: RATES_ERROR_CODES },
  { title: 'Local API', file: 'src/local-api/error-codes.ts', catalog: LOCAL_API_ERROR_CODES },
  { title: 'Backup and restore', file: 'src/backup/error-codes.ts', catalog: BACKUP_ERROR_CODES },
  { title: 'Operations', file: 'src/ops/error-codes.ts', catalog: OPS_ERROR_CODES },
  {
    title: 'Daemon and control socket',
    file: 'src/daemon/error-codes.ts',
    catalog: DAEMON_ERROR_CODES,
  },
  {
    title: 'Values and state files',
    file: 'src/shared/error-codes.ts',
    catalog: SHARED_ERROR_CODES,
  },
];

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** docs/ERRORS.md as generated from the catalogs. */
export function errorsDoc(): string {
  const out = [
    '# Error codes',
    '',
    'Every error booksync raises on purpose carries a stable `code` (in logs as `code`, in status',
    'documents as `last_error.code`, in control-socket answers as `error.code`). Scripts and alert',
    'rules should match on the code, never on the message text, which may change. A code never',
    'changes its spelling. "Raised as" is the error class (see `src/shared/errors.ts`);',
    '`last_error` marks a code that is only recorded in a status document.',
    '',
    'This file is generated from the catalogs named below by `npm run errors-doc`;',
    '`test/unit/error-codes.test.ts` fails when it differs from them.',
  ];
  for (const { title, file, catalog } of ERROR_CATALOGS) {
    out.push('', `## ${title}`, '', `Catalog: \`${file}\`.`, '');
    out.push('| Code | Raised as | Meaning |', '|---|---|---|');
    for (const [code, entry] of Object.entries(catalog)) {
      out.push(`| \`${code}\` | \`${entry.raisedAs}\` | ${cell(entry.meaning)} |`);
    }
  }
  return `${out.join('\n')}\n`;
}

if (require.main === module) {
  const target = resolve(__dirname, '../../docs/ERRORS.md');
  const text = errorsDoc();
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // not written yet
  }
  if (process.argv.includes('--check')) {
    if (current !== text) {
      process.stderr.write(`${target} is stale: run npm run errors-doc\n`);
      process.exitCode = 1;
    }
  } else if (current !== text) {
    writeFileSync(target, text);
    process.stdout.write(`wrote ${target}\n`);
  } else {
    process.stdout.write(`${target} is up to date\n`);
  }
}

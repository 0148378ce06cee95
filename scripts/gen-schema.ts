/**
 * Writes config/booksync.schema.json from the schema modules in src/config/schema (the single
 * source). `--check` writes nothing and exits 1 when the shipped file is stale.
 *
 *   node dist/scripts/gen-schema.js [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { schemaJson } from '../src/config/schema';

const target = resolve(__dirname, '../../config/booksync.schema.json');
const text = schemaJson();
let current = '';
try {
  current = readFileSync(target, 'utf8');
} catch {
  // not written yet
}
if (process.argv.includes('--check')) {
  if (current !== text) {
    process.stderr.write(`${target} is stale: run node dist/scripts/gen-schema.js\n`);
    process.exitCode = 1;
  }
} else if (current !== text) {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
} else {
  process.stdout.write(`${target} is up to date\n`);
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** booksync's version, read once from package.json (dist/src/shared → the package root). */
export const VERSION: string = (
  JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { version: string }
).version;

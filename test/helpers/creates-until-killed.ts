/**
 * Child process for the kill test of the books' direct creations
 * (test/component/ledger-level-creates.test.ts), started with
 * `child_process.fork(thisFile, [dir, run])`. It opens the books in `dir` and writes new accounts
 * through `writeExpecting`, 250 at a time, ids `account:R<run>-<n>`, until it is killed; after each
 * write it reports how many it has written: `{ written: n }`.
 */
import winston from 'winston';
import { BooksStore } from '../../src/ledger';
import { account } from './local-api-harness';

async function main(): Promise<void> {
  const [dir, run] = process.argv.slice(2);
  const store = await BooksStore.open(dir, { logger: winston.createLogger({ silent: true }) });
  for (let written = 0; ;) {
    const writes = [];
    for (let k = 0; k < 250; k++, written++)
      writes.push({ doc: { ...account(`R${run}-${written}`) }, expectedRev: null });
    const results = await store.writeExpecting(writes);
    if (!results.every((r) => r.ok)) throw new Error('a creation was refused');
    await new Promise<void>((resolve) => process.send!({ written }, () => resolve()));
  }
}

void main();

/**
 * Child process for the books store lock tests (test/component/store.test.ts), started with
 * `child_process.fork(thisFile, [dir, mode])`. It opens the books in `dir` and reports over IPC:
 * `{ opened: true }` or `{ opened: false, error: { name, code, message } }`.
 * - mode `try`: report, close, exit.
 * - mode `hold`: report, keep the store open until the parent sends `'close'`, then close and exit.
 */
import winston from 'winston';
import { BooksStore } from '../../src/ledger';

async function main(): Promise<void> {
  const [dir, mode = 'try'] = process.argv.slice(2);
  const logger = winston.createLogger({ silent: true });
  const send = (msg: unknown) =>
    new Promise<void>((resolve) => process.send!(msg, () => resolve()));
  let store: BooksStore;
  try {
    store = await BooksStore.open(dir, { logger });
  } catch (err) {
    const e = err as Error & { code?: string };
    await send({ opened: false, error: { name: e.name, code: e.code, message: e.message } });
    process.disconnect();
    return;
  }
  await send({ opened: true });
  if (mode === 'hold') {
    process.on('message', (msg) => {
      if (msg === 'close') void store.close().then(() => process.disconnect());
    });
  } else {
    await store.close();
    process.disconnect();
  }
}

void main();

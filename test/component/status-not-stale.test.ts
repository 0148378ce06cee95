import { strict as assert } from 'node:assert';
import { FetchLoop, type ConnectionSpec } from '../../src/bank/fetch-loop';
import { ProviderRegistry } from '../../src/bank/registry';
import { listStatuses, statusView } from '../../src/bank/status';
import type { BooksStore } from '../../src/ledger';
import { BankRunMemory, STATUS_NOT_SAVED } from '../../src/daemon/bank-run-memory';
import {
  FakeProvider,
  captureLogger,
  fakeSpec,
  result,
  statement,
  tempDir,
  tempStore,
  tx,
} from '../helpers/fake-provider';

/** The books' disk fills up after the run saved `fetching`: every later write fails as LevelDB reports it. */
function fillDiskAfterFirstWrite(store: BooksStore): void {
  const bulkDocs = store.db.bulkDocs.bind(store.db) as (...args: unknown[]) => Promise<unknown>;
  let writes = 0;
  store.db.bulkDocs = (async (...args: unknown[]) => {
    writes += 1;
    if (writes > 1)
      throw Object.assign(
        new Error('IO error: /var/lib/booksync/books/000123.log: No space left on device'),
        { code: 'ENOSPC' },
      );
    return bulkDocs(...args);
  }) as unknown as BooksStore['db']['bulkDocs'];
}

describe('status after a state that could not be saved (disk full)', function () {
  let books: Awaited<ReturnType<typeof tempStore>>;
  let tmp: ReturnType<typeof tempDir>;
  let loop: FetchLoop;
  let spec: ConnectionSpec;
  let fake: FakeProvider;

  beforeEach(async () => {
    const log = captureLogger();
    tmp = tempDir();
    books = await tempStore(log.logger);
    fake = new FakeProvider('fake');
    loop = new FetchLoop({
      store: books.store,
      registry: new ProviderRegistry([fake]),
      logger: log.logger,
    });
    spec = fakeSpec(tmp.dir);
  });

  afterEach(async () => {
    await books.close();
    tmp.cleanup();
  });

  const views = async () => (await listStatuses(books.store)).map(statusView);

  it('a connection whose status document could not be saved shows the run outcome and says the state was not saved', async () => {
    const memory = new BankRunMemory();
    memory.observe(loop);
    fake.then(
      result([
        statement('DE89370400440532013000', [tx({ providerId: 'T1', bookingDate: '2024-03-14' })]),
      ]),
    );
    fillDiskAfterFirstWrite(books.store);
    const outcome = await loop.run(spec);
    assert.equal(outcome.status, 'error');

    const stored = await views();
    assert.equal(
      stored[0].status,
      'fetching',
      'the stored document is stuck where the disk filled up',
    );
    assert.equal(stored[0].last_error, null);

    const [shown] = memory.correct(stored, loop.running());
    assert.equal(shown.status, 'error');
    assert.equal(shown.state_saved, false);
    assert.match(shown.last_error?.message ?? '', /No space left on device/);
    assert.match(shown.warning ?? '', /could not be saved/);
  });

  it("after a restart (nothing in memory), a stored 'fetching' with no run in progress is shown as not saved", async () => {
    fake.then(
      result([
        statement('DE89370400440532013000', [tx({ providerId: 'T1', bookingDate: '2024-03-14' })]),
      ]),
    );
    fillDiskAfterFirstWrite(books.store);
    await loop.run(spec);
    const [shown] = new BankRunMemory().correct(await views(), []);
    assert.equal(shown.status, 'error');
    assert.equal(shown.state_saved, false);
    assert.equal(shown.last_error?.code, STATUS_NOT_SAVED);
  });

  it('a saved status is shown as stored', async () => {
    const memory = new BankRunMemory();
    memory.observe(loop);
    fake.then(
      result([
        statement('DE89370400440532013000', [tx({ providerId: 'T1', bookingDate: '2024-03-14' })]),
      ]),
    );
    await loop.run(spec);
    const stored = await views();
    assert.deepEqual(memory.correct(stored, []), stored);
    assert.equal(stored[0].status, 'connected');
  });
});

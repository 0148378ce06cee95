import { strict as assert } from 'node:assert';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { planStatementLines } from '../../src/bank/dedup';
import { FetchLoop, type ConnectionSpec } from '../../src/bank/fetch-loop';
import type { BankTransaction, StatementStream } from '../../src/bank/provider';
import { builtinRegistry } from '../../src/bank/providers';
import { parseStatement } from '../../src/bank/formats';
import { STREAM_MIN_BYTES } from '../../src/bank/providers/dropfolder';
import { ProviderRegistry } from '../../src/bank/registry';
import { readStatus } from '../../src/bank/status';
import type { StatementLineDoc } from '../../src/ledger';
import { generateCamt } from '../../scripts/bench-bank';
import {
  captureLogger,
  FakeProvider,
  fakeClock,
  fakeSpec,
  result,
  tempDir,
  tempStore,
  type CapturedLog,
} from '../helpers/fake-provider';

const DEMO_OFX = path.resolve(__dirname, '../../../demo/statements/demo-2024-01.ofx');
/** Entries of a camt.053 file just above the streaming size (about 530 bytes an entry). */
const ENTRIES = Math.ceil(STREAM_MIN_BYTES / 500);

/** A stored line without what the store and the clock add. */
function content(doc: StatementLineDoc): Partial<StatementLineDoc> {
  const { _rev, created_at, updated_at, ...rest } = doc as StatementLineDoc & {
    created_at?: string;
    updated_at?: string;
  };
  return rest;
}

/** Statement files too large to hold are streamed through the loop, in bounded memory. */
describe('bank fetch loop with streamed statement files', function () {
  this.timeout(60_000);
  let log: CapturedLog;
  let tmp: ReturnType<typeof tempDir>;
  let books: Awaited<ReturnType<typeof tempStore>>;
  let inbox: string;
  let spec: ConnectionSpec;
  let big: string;
  const clock = fakeClock('2024-03-01T07:00:00Z');
  const lines = async () => books.store.allOfType<StatementLineDoc>('statement_line');

  before(function () {
    tmp = tempDir();
    big = path.join(tmp.dir, 'big.camt053.xml');
    generateCamt(big, ENTRIES, 3);
    assert.ok(
      statSync(big).size >= STREAM_MIN_BYTES,
      'the generated file is large enough to be streamed',
    );
  });

  after(function () {
    tmp.cleanup();
  });

  beforeEach(async function () {
    log = captureLogger();
    books = await tempStore(log.logger, clock.now);
    const run = path.join(tmp.dir, `run-${Math.random().toString(36).slice(2)}`);
    inbox = path.join(run, 'inbox');
    mkdirSync(inbox, { recursive: true });
    spec = {
      name: 'big',
      provider: 'dropfolder',
      institution: 'demo-bank',
      settings: {
        path: inbox,
        archive: path.join(run, 'archive'),
        rejected: path.join(run, 'rejected'),
      },
      secrets: {},
      historyDays: 3650,
      stateDir: path.join(run, 'state'),
    };
  });

  afterEach(async function () {
    await books.close();
  });

  it('given a camt.053 file above the streaming size, then it is streamed and stores exactly what the in-memory parse plans, once', async function () {
    copyFileSync(big, path.join(inbox, 'big.camt053.xml'));
    const loop = new FetchLoop({
      store: books.store,
      registry: builtinRegistry(),
      logger: log.logger,
      now: clock.now,
      writeBatchSize: 250,
    });
    const outcome = await loop.run(spec);
    assert.equal(outcome.status, 'connected', JSON.stringify(outcome.error));
    assert.ok(
      log.entries.some((e) => e.event === 'bank.file' && e.streamed === true),
      'read as a stream',
    );
    const parsed = parseStatement(readFileSync(big), { fileName: 'big.camt053.xml' });
    const stored = (await lines()).map(content);
    const importId = (stored[0] as StatementLineDoc).import_id;
    assert.ok(
      importId && stored.every((l) => (l as StatementLineDoc).import_id === importId),
      "every line carries the run's import id",
    );
    const expected = planStatementLines({
      connection: 'big',
      statements: parsed.statements,
      includePending: false,
      window: outcome.window!,
      existing: [],
      importedAt: clock.now().toISOString(),
      importId,
    });
    assert.equal(outcome.counts.new, ENTRIES);
    const byId = (a: { _id?: string }, b: { _id?: string }) =>
      String(a._id) < String(b._id) ? -1 : 1;
    assert.deepEqual(stored.sort(byId), (expected.writes as StatementLineDoc[]).sort(byId));
    assert.deepEqual(readdirSync(inbox), [], 'archived once stored');
    const closing = parsed.statements[0].balances[1]; // CLBD, the latest ledger balance
    assert.deepEqual((await readStatus(books.store, 'big'))?.balance, {
      amount: closing.amount,
      currency: 'EUR',
      date: closing.date,
    });

    copyFileSync(big, path.join(inbox, 'big-again.camt053.xml'));
    clock.advance(60_000);
    const again = await loop.run(spec);
    assert.equal(again.status, 'connected');
    assert.equal(again.counts.new, 0);
    assert.equal(again.counts.duplicates, ENTRIES);
    assert.equal((await lines()).length, ENTRIES);
  });

  it('given a large camt.053 file holding its statement twice (two <Document> roots), then it is streamed, its lines are stored once and a warning says so', async function () {
    const text = readFileSync(big, 'utf8');
    writeFileSync(path.join(inbox, 'twice.camt053.xml'), text + text);
    const loop = new FetchLoop({
      store: books.store,
      registry: builtinRegistry(),
      logger: log.logger,
      now: clock.now,
      writeBatchSize: 250,
    });
    const outcome = await loop.run(spec);
    assert.equal(outcome.status, 'connected', JSON.stringify(outcome.error));
    assert.ok(
      log.entries.some((e) => e.event === 'bank.file' && e.streamed === true),
      'read as a stream',
    );
    assert.equal(outcome.counts.new, ENTRIES);
    assert.equal((await lines()).length, ENTRIES);
    assert.ok(
      outcome.warnings.some((w) =>
        /twice\.camt053\.xml: statement .* appears again in the file; read once/.test(w),
      ),
      outcome.warnings.join('\n'),
    );
  });

  it('given a large file whose very last entry is malformed beside a good file, then the large one is rejected with a reason and nothing of it is stored', async function () {
    const text = readFileSync(big, 'utf8');
    const at = text.indexOf('<Amt Ccy="EUR">', text.lastIndexOf('<Ntry>'));
    writeFileSync(
      path.join(inbox, 'late-error.camt053.xml'),
      `${text.slice(0, at)}<Amt Ccy="EUR">12,5x</Amt>${text.slice(text.indexOf('</Amt>', at) + 6)}`,
    );
    copyFileSync(DEMO_OFX, path.join(inbox, 'demo-2024-01.ofx'));
    let written = 0;
    const bulkDocs = books.store.db.bulkDocs.bind(books.store.db);
    books.store.db.bulkDocs = ((docs: Array<{ type?: string }>, ...rest: unknown[]) => {
      written += docs.filter((d) => d.type === 'statement_line').length;
      return (bulkDocs as (...a: unknown[]) => unknown)(docs, ...rest);
    }) as typeof books.store.db.bulkDocs;
    const loop = new FetchLoop({
      store: books.store,
      registry: builtinRegistry(),
      logger: log.logger,
      now: clock.now,
    });
    const outcome = await loop.run(spec);
    assert.equal(outcome.status, 'connected', JSON.stringify(outcome.error));
    assert.equal(outcome.counts.new, 7, 'only the demo OFX lines');
    assert.equal((await lines()).length, 7);
    assert.equal(written, 7, 'no line of the rejected file reached the books');
    assert.match(outcome.warnings.join('\n'), /rejected late-error\.camt053\.xml: .*Amt/);
    const rejected = path.join(path.dirname(inbox), 'rejected');
    assert.ok(existsSync(path.join(rejected, 'late-error.camt053.xml')));
    assert.match(
      readFileSync(path.join(rejected, 'late-error.camt053.xml.reason'), 'utf8'),
      /late-error\.camt053\.xml:\d+: Ntry\/Amt/,
    );
    assert.deepEqual(readdirSync(inbox), []);
  });

  it('given a provider stream whose last line the books cannot store and no way to reject it, then the run fails, nothing is stored, the watermark stays and commit is not called', async function () {
    const good: BankTransaction = {
      bookingDate: '2024-02-10',
      amount: -5,
      currency: 'EUR',
      pending: false,
    };
    let committed = false;
    const stream: StatementStream = {
      name: 'feed',
      async read(sink) {
        for (let i = 0; i < 3000; i++) {
          sink.transaction(
            i === 2999 ? { ...good, currency: 'EURO' } : { ...good, amount: -1 - i },
            0,
          );
          if (i % 500 === 499) await sink.drain();
        }
        sink.statement(
          { accountId: 'DE01', currency: 'EUR', balances: [], transactionCount: 3000 },
          0,
        );
        await sink.drain();
        return { warnings: [] };
      },
    };
    const provider = new FakeProvider('fake', [
      result([], {
        streams: [stream],
        commit: () => {
          committed = true;
          return Promise.resolve();
        },
      }),
    ]);
    const loop = new FetchLoop({
      store: books.store,
      registry: new ProviderRegistry([provider]),
      logger: log.logger,
      now: clock.now,
      writeBatchSize: 100,
    });
    const outcome = await loop.run(fakeSpec(tmp.dir, { name: 'feed', historyDays: 60 }));
    assert.equal(outcome.status, 'error');
    assert.equal(outcome.error?.code, 'BANK_MALFORMED');
    assert.match(outcome.error?.message ?? '', /statement 1, transaction 3000: currency 'EURO'/);
    assert.equal((await lines()).length, 0);
    assert.equal(committed, false);
    assert.equal((await readStatus(books.store, 'feed'))?.watermark, undefined);
  });

  it('given a stream for an account with a stored pending line, then it is read into memory and the booked line replaces the pending one', async function () {
    const pending: BankTransaction = {
      providerId: 'P1',
      bookingDate: '2024-02-10',
      amount: -2000,
      currency: 'EUR',
      payee: 'Shop',
      pending: true,
    };
    const booked: BankTransaction = {
      providerId: 'B7',
      bookingDate: '2024-02-12',
      amount: -2400,
      currency: 'EUR',
      payee: 'Shop',
      pending: false,
    };
    const stream: StatementStream = {
      name: 'feed',
      async read(sink) {
        sink.transaction({ ...booked }, 0);
        sink.statement(
          { accountId: 'DE01', currency: 'EUR', balances: [], transactionCount: 1 },
          0,
        );
        await sink.drain();
        return { warnings: [] };
      },
    };
    const provider = new FakeProvider('fake', [
      result([{ accountId: 'DE01', currency: 'EUR', balances: [], transactions: [pending] }]),
      result([], { streams: [stream] }),
    ]);
    const loop = new FetchLoop({
      store: books.store,
      registry: new ProviderRegistry([provider]),
      logger: log.logger,
      now: clock.now,
    });
    const feedSpec = fakeSpec(tmp.dir, { name: 'feed', historyDays: 60, includePending: true });
    assert.equal((await loop.run(feedSpec)).counts.new, 1);
    clock.advance(60_000);
    const outcome = await loop.run(feedSpec);
    assert.equal(outcome.status, 'connected', JSON.stringify(outcome.error));
    assert.ok(
      log.entries.some(
        (e) =>
          e.event === 'bank.file' &&
          e.streamed === false &&
          /pending lines stored/.test(String(e.reason)),
      ),
    );
    assert.equal(outcome.counts.new, 1);
    assert.equal(outcome.counts.replaced, 1);
    const all = await lines();
    const old = all.find((l) => l.provider_id === 'P1');
    const replacement = all.find((l) => l.provider_id === 'B7');
    assert.equal(old?.state, 'deleted');
    assert.equal(old?.replaced_by, replacement?._id);
  });

  it('given a large stream, then its lines are stored while it is read, a batch at a time, not all at the end', async function () {
    const good: BankTransaction = {
      bookingDate: '2024-02-10',
      amount: -5,
      currency: 'EUR',
      pending: false,
    };
    const storedWhenHanded: number[] = [];
    let stored = 0;
    const bulkDocs = books.store.db.bulkDocs.bind(books.store.db);
    books.store.db.bulkDocs = (async (docs: Array<{ type?: string }>, ...rest: unknown[]) => {
      const out = await (bulkDocs as (...a: unknown[]) => Promise<unknown>)(docs, ...rest);
      stored += docs.filter((d) => d.type === 'statement_line').length;
      return out;
    }) as typeof books.store.db.bulkDocs;
    let reads = 0;
    const stream: StatementStream = {
      name: 'feed',
      async read(sink) {
        reads += 1;
        for (let i = 0; i < 5000; i++) {
          sink.transaction({ ...good, amount: -1 - i, payee: `P${i}` }, 0);
          if (i % 250 === 249) {
            await sink.drain();
            if (reads === 2) storedWhenHanded.push(stored);
          }
        }
        sink.statement(
          { accountId: 'DE01', currency: 'EUR', balances: [], transactionCount: 5000 },
          0,
        );
        await sink.drain();
        return { warnings: [] };
      },
    };
    const provider = new FakeProvider('fake', [result([], { streams: [stream] })]);
    const loop = new FetchLoop({
      store: books.store,
      registry: new ProviderRegistry([provider]),
      logger: log.logger,
      now: clock.now,
      writeBatchSize: 100,
    });
    const outcome = await loop.run(fakeSpec(tmp.dir, { name: 'feed', historyDays: 60 }));
    assert.equal(outcome.status, 'connected', JSON.stringify(outcome.error));
    assert.equal(outcome.counts.new, 5000);
    assert.equal(reads, 2, 'a checking read and a storing read');
    // After each 250 lines handed over, the 100-line batches they fill are stored but the last,
    // which may still be on its way to LevelDB while the next lines are read.
    assert.equal(storedWhenHanded.length, 20);
    storedWhenHanded.forEach((stored, k) => {
      const filled = Math.floor(((k + 1) * 250) / 100) * 100;
      assert.ok(
        stored >= filled - 100 && stored <= filled,
        `${stored} stored after ${(k + 1) * 250} lines`,
      );
    });
    assert.equal((await lines()).length, 5000);
  });
});

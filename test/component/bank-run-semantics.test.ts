import { strict as assert } from 'node:assert';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { findDuplicates } from '../../src/bank/duplicates';
import { FetchLoop, type ConnectionSpec } from '../../src/bank/fetch-loop';
import type { BankTransaction, StatementSink, StatementStream } from '../../src/bank/provider';
import { ProviderRegistry } from '../../src/bank/registry';
import { createJobTimer } from '../../src/bank/scheduler';
import { readBlock, readStatus, writeBlock } from '../../src/bank/status';
import { visibleLines, type StatementLineDoc } from '../../src/ledger';
import {
  FakeProvider,
  captureLogger,
  fakeClock,
  fakeSpec,
  result,
  statement,
  tempDir,
  tempStore,
  tx,
  type CapturedLog,
} from '../helpers/fake-provider';

const IBAN = 'DE89370400440532013000';

/** A stream of one statement whose second read can stall after `stallAfter` lines until the run is aborted. */
function stallingStream(lines: BankTransaction[], stallAfter?: number): StatementStream {
  let reads = 0;
  return {
    name: 'big.xml',
    async read(sink: StatementSink) {
      reads += 1;
      const stall = reads === 2 && stallAfter !== undefined;
      for (let i = 0; i < lines.length; i++) {
        sink.transaction(lines[i], 0);
        if (i % 100 === 99) await sink.drain();
        if (stall && i + 1 === stallAfter) {
          // A read that makes no progress (a slow disk, a parser stuck): it only drains.
          for (;;) {
            await new Promise((resolve) => setImmediate(resolve));
            await sink.drain();
          }
        }
      }
      sink.statement(
        { accountId: IBAN, currency: 'EUR', balances: [], transactionCount: lines.length },
        0,
      );
      await sink.drain();
      return { warnings: [] };
    },
  };
}

function manyLines(n: number, prefix: string): BankTransaction[] {
  return Array.from({ length: n }, (_, i) =>
    tx({ providerId: `${prefix}${i}`, amount: -(i + 1), payee: `Shop ${i}` }),
  );
}

describe('bank run semantics', function () {
  this.timeout(60_000);
  let log: CapturedLog;
  let tmp: ReturnType<typeof tempDir>;
  let books: Awaited<ReturnType<typeof tempStore>>;
  let fake: FakeProvider;
  let spec: ConnectionSpec;
  const clock = fakeClock('2024-03-15T10:00:00Z');
  const stored = async () => books.store.allOfType<StatementLineDoc>('statement_line');

  beforeEach(async function () {
    log = captureLogger();
    tmp = tempDir();
    books = await tempStore(log.logger, clock.now);
    fake = new FakeProvider('fake');
    spec = fakeSpec(tmp.dir);
  });

  afterEach(async function () {
    await books.close();
    tmp.cleanup();
  });

  describe('the blocked marker', function () {
    it('given a marker written over an old one, then it replaces it by a rename (a crash leaves one or the other, never half of one)', function () {
      writeBlock(spec.stateDir, {
        status: 'auth_required',
        fingerprint: 'a',
        since: '2024-03-01T00:00:00Z',
      });
      const file = path.join(spec.stateDir, 'blocked.json');
      const before = statSync(file).ino;
      writeBlock(spec.stateDir, {
        status: 'error',
        fingerprint: 'b',
        since: '2024-03-02T00:00:00Z',
      });
      assert.notEqual(statSync(file).ino, before, 'a new file took its place');
      assert.deepEqual(readdirSync(spec.stateDir), ['blocked.json'], 'no temporary file left');
      assert.equal(readBlock(spec.stateDir)?.fingerprint, 'b');
    });

    it('given a marker that cannot be read (garbage, or not a file), then the connection counts as blocked: no provider call until an admin fetches it by name', async function () {
      const loop = new FetchLoop({
        store: books.store,
        registry: new ProviderRegistry([fake]),
        logger: log.logger,
        now: clock.now,
      });
      mkdirSync(spec.stateDir, { recursive: true });
      writeFileSync(path.join(spec.stateDir, 'blocked.json'), '{"status":"auth_requ');
      assert.ok(readBlock(spec.stateDir)?.unreadable, 'truncated JSON is unreadable, not absent');
      const skipped = await loop.run(spec);
      assert.equal(skipped.skipped, 'permanent_error');
      assert.match(skipped.error?.message ?? '', /blocked marker cannot be read/);
      assert.equal(fake.calls.length, 0, 'the bank was not asked');

      fake.then(result([statement(IBAN, [tx({ providerId: 'A1' })])]));
      const forced = await loop.run(spec, { force: true });
      assert.equal(forced.status, 'connected');
      assert.equal(fake.calls.length, 1);
      assert.equal(readBlock(spec.stateDir), undefined, 'the successful run removed the marker');
    });

    it('given a folder where the marker should be, then that is unreadable too, so blocked', function () {
      mkdirSync(path.join(spec.stateDir, 'blocked.json'), { recursive: true });
      assert.ok(readBlock(spec.stateDir)?.unreadable);
    });
  });

  describe('the run timeout', function () {
    it('given a streamed input that never ends, then the run stops at the timeout with BANK_TIMEOUT and stores nothing', async function () {
      const endless: StatementStream = {
        name: 'endless.xml',
        async read(sink) {
          for (let i = 0; ; i++) {
            sink.transaction(tx({ providerId: `E${i}`, amount: -100 }), 0);
            if (i % 100 === 99) await sink.drain();
          }
        },
      };
      fake.then(result([], { streams: [endless] }));
      const loop = new FetchLoop({
        store: books.store,
        registry: new ProviderRegistry([fake]),
        logger: log.logger,
        now: clock.now,
      });
      const outcome = await loop.run({ ...spec, runTimeoutMs: 300 });
      assert.equal(outcome.status, 'error');
      assert.equal(outcome.error?.code, 'BANK_TIMEOUT');
      assert.equal((await stored()).length, 0);
    });

    it('given a streamed input that stalls while its lines are stored, then the run stops at the timeout and the lines it stored are rolled back', async function () {
      const lines = manyLines(1000, 'S');
      fake.then(result([], { streams: [stallingStream(lines, 1000)] }));
      const loop = new FetchLoop({
        store: books.store,
        registry: new ProviderRegistry([fake]),
        logger: log.logger,
        now: clock.now,
        writeBatchSize: 250,
      });
      const outcome = await loop.run({ ...spec, runTimeoutMs: 3_000 });
      assert.equal(outcome.error?.code, 'BANK_TIMEOUT');
      const rollback = log.events('bank.import_rollback');
      assert.equal(rollback.length, 1);
      assert.ok(Number(rollback[0].lines) > 0, 'lines were stored before the stall');
      assert.equal(
        rollback[0].lines,
        log.events('bank.import_progress').reduce((n, e) => Math.max(n, Number(e.staged)), 0),
        'every stored line was rolled back',
      );
      assert.equal((await stored()).length, 0);
      assert.equal((await readStatus(books.store, 'acme'))?.staged_import, undefined);
    });
  });

  describe('a failed write half-way (disk full)', function () {
    const ENOSPC = () =>
      Object.assign(new Error('IO error: No space left on device'), { code: 'ENOSPC' });

    /** Makes the books' bulk writes fail once `batches` batches of new lines went through, while `full()` holds. */
    function diskFullAfter(batches: number, full: () => boolean, deletionsToo: boolean): void {
      const db = books.store.db;
      const bulkDocs = db.bulkDocs.bind(db);
      let written = 0;
      db.bulkDocs = ((docs: Array<{ type?: string; _deleted?: boolean }>, ...rest: unknown[]) => {
        const lines = docs.some((d) => d.type === 'statement_line');
        const deletions = docs.some((d) => d._deleted);
        if (full() && ((lines && ++written > batches) || (deletionsToo && deletions)))
          return Promise.reject(ENOSPC());
        return (bulkDocs as (...a: unknown[]) => unknown)(docs, ...rest);
      }) as typeof db.bulkDocs;
    }

    it('given the disk fills after some batches, then no line is left behind: the stored ones are rolled back', async function () {
      fake.then(result([statement(IBAN, manyLines(3000, 'D'))]));
      diskFullAfter(2, () => true, false);
      const loop = new FetchLoop({
        store: books.store,
        registry: new ProviderRegistry([fake]),
        logger: log.logger,
        now: clock.now,
        writeBatchSize: 500,
      });
      const outcome = await loop.run(spec);
      assert.equal(outcome.status, 'error');
      assert.equal(log.events('bank.import_rollback')[0]?.lines, 1000);
      assert.equal((await stored()).length, 0);
    });

    it('given the disk stays full so the rollback fails too, then the stored lines stay invisible, and the next run rolls them back and imports the whole input once', async function () {
      const lines = manyLines(3000, 'F');
      fake.then(result([statement(IBAN, lines)]), result([statement(IBAN, lines)]));
      let full = true;
      diskFullAfter(2, () => full, true);
      const loop = new FetchLoop({
        store: books.store,
        registry: new ProviderRegistry([fake]),
        logger: log.logger,
        now: clock.now,
        writeBatchSize: 500,
      });
      const failed = await loop.run(spec);
      assert.equal(failed.status, 'error');
      const left = await stored();
      assert.equal(left.length, 1000, 'two batches were written before the disk filled');
      assert.deepEqual(await visibleLines(books.store, left), [], 'none of them is visible');
      assert.ok((await readStatus(books.store, 'acme'))?.staged_import);

      full = false;
      const again = await loop.run(spec);
      assert.equal(again.status, 'connected', JSON.stringify(again.error));
      assert.equal(again.counts.new, 3000);
      const all = await stored();
      assert.equal(all.length, 3000);
      assert.equal(
        (await visibleLines(books.store, all)).length,
        3000,
        'all visible once committed',
      );
      assert.equal((await readStatus(books.store, 'acme'))?.staged_import, undefined);
    });
  });

  describe('the schedule', function () {
    it('given a next run time in the past, then the job runs now instead of failing to start', async function () {
      let job: { cancel(): void } | undefined;
      const ran = new Promise<void>((resolve) => {
        job = createJobTimer().schedule('bank:past', new Date(Date.now() - 60_000), resolve);
      });
      await ran;
      job?.cancel();
    });

    it('given a next run time a moment ahead, then it runs too (however the millisecond falls)', async function () {
      const at = new Date(Date.now() + 1);
      await new Promise<void>((resolve) => createJobTimer().schedule('bank:soon', at, resolve));
    });
  });

  describe('fetch --since and bank duplicates', function () {
    let loop: FetchLoop;

    beforeEach(function () {
      loop = new FetchLoop({
        store: books.store,
        registry: new ProviderRegistry([fake]),
        logger: log.logger,
        now: clock.now,
      });
    });

    it('given a connection fetched up to today, when fetched --since an earlier day, then that window is fetched, missing lines come in once and the watermark stays', async function () {
      fake.then(
        result([statement(IBAN, [tx({ providerId: 'N1', bookingDate: '2024-03-14' })])]),
        result([
          statement(IBAN, [
            tx({ providerId: 'OLD1', bookingDate: '2024-01-20' }),
            tx({ providerId: 'N1', bookingDate: '2024-03-14' }),
          ]),
        ]),
        result([statement(IBAN, [])]),
      );
      await loop.run(spec);
      assert.equal((await readStatus(books.store, 'acme'))?.watermark, '2024-03-15');
      const past = await loop.run(spec, { since: '2024-01-01' });
      assert.equal(past.status, 'connected', JSON.stringify(past.error));
      assert.deepEqual(fake.calls[1].window, { from: '2024-01-01', to: '2024-03-15' });
      assert.equal(past.counts.new, 1, 'the missing line');
      assert.equal(past.counts.duplicates, 1);
      assert.equal(
        (await readStatus(books.store, 'acme'))?.watermark,
        '2024-03-15',
        'the watermark did not move back',
      );
      await loop.run(spec);
      assert.deepEqual(
        fake.calls[2].window,
        { from: '2024-03-08', to: '2024-03-15' },
        'the next scheduled run starts from the watermark as before',
      );
    });

    it('given --since after today, then the run fails with BANK_SINCE_INVALID and asks the bank nothing', async function () {
      const outcome = await loop.run(spec, { since: '2024-04-01' });
      assert.equal(outcome.error?.code, 'BANK_SINCE_INVALID');
      assert.equal(fake.calls.length, 0);
    });

    it('given a line entered by hand and the same payment from the feed, then bank duplicates lists the pair and changes nothing', async function () {
      fake.then(
        result([
          statement(IBAN, [
            tx({ providerId: 'F1', amount: -4200, bookingDate: '2024-03-12', payee: 'Stadtwerke' }),
            tx({ providerId: 'F2', amount: -99, payee: 'Kiosk' }),
          ]),
        ]),
      );
      await loop.run(spec);
      await books.store.put({
        _id: 'stl:acme:manual:1',
        type: 'statement_line',
        connection: 'acme',
        account_id: IBAN,
        date: '2024-03-11',
        amount: -4200,
        currency: 'EUR',
        payee: 'Stadtwerke Köln',
        dedup_key: 'manual:1',
        pending: false,
        state: 'new',
        imported_at: '2024-03-11T09:00:00.000Z',
      });
      const before = (await books.store.db.info()).update_seq;
      const pairs = await findDuplicates(books.store);
      assert.equal(pairs.length, 1);
      assert.deepEqual(pairs[0].lines.map((l) => l.id).sort(), [
        'stl:acme:manual:1',
        `stl:acme:p:${IBAN}:F1`,
      ]);
      assert.equal(pairs[0].days_apart, 1);
      assert.equal((await books.store.db.info()).update_seq, before, 'nothing was written');
      assert.deepEqual(await findDuplicates(books.store, 0), [], 'a day apart is outside --days 0');
    });
  });
});

import { strict as assert } from 'node:assert';
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { FetchLoop, type BankStore, type ConnectionSpec } from '../../src/bank/fetch-loop';
import {
  BankAuthError,
  BankUnavailableError,
  ConsentExpiredError,
  MalformedStatementError,
  RateLimitedError,
} from '../../src/bank/errors';
import { PermanentError } from '../../src/shared/errors';
import { ProviderRegistry } from '../../src/bank/registry';
import { readStatus } from '../../src/bank/status';
import {
  bankConnectionId,
  statementLineId,
  type BooksDoc,
  type BooksStore,
  type StatementLineDoc,
} from '../../src/ledger';
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

describe('bank fetch loop', function () {
  let log: CapturedLog;
  let tmp: ReturnType<typeof tempDir>;
  let clock: ReturnType<typeof fakeClock>;
  let books: Awaited<ReturnType<typeof tempStore>>;
  let fake: FakeProvider;
  let loop: FetchLoop;
  let spec: ConnectionSpec;

  const lines = async (store: BooksStore = books.store) =>
    store.allOfType<StatementLineDoc>('statement_line');
  const live = async (store: BooksStore = books.store) =>
    (await lines(store)).filter((l) => l.state !== 'deleted');
  const status = async (name = 'acme') => readStatus(books.store, name);

  beforeEach(async function () {
    log = captureLogger();
    tmp = tempDir();
    clock = fakeClock('2024-03-15T10:00:00Z');
    books = await tempStore(log.logger, clock.now);
    fake = new FakeProvider('fake');
    loop = new FetchLoop({
      store: books.store,
      registry: new ProviderRegistry([fake]),
      logger: log.logger,
      now: clock.now,
    });
    spec = fakeSpec(tmp.dir);
  });

  afterEach(async function () {
    await books.close();
    tmp.cleanup();
  });

  describe('runs and watermarks', function () {
    it('given a new connection, when it runs, then it fetches today − history_days .. today, stores the lines and advances the watermark', async function () {
      fake.then(
        result([
          statement(
            IBAN,
            [
              tx({ providerId: 'T1', bookingDate: '2024-03-14' }),
              tx({ providerId: 'T2', bookingDate: '2024-03-15' }),
            ],
            { balances: [{ amount: 123456, currency: 'EUR', date: '2024-03-15', kind: 'ledger' }] },
          ),
        ]),
      );
      const outcome = await loop.run(spec, {
        planNext: (at) => new Date(at.getTime() + 12 * 3600_000),
      });
      assert.equal(outcome.status, 'connected');
      assert.deepEqual(fake.calls[0].window, { from: '2024-02-14', to: '2024-03-15' });
      assert.deepEqual(outcome.counts, {
        fetched: 2,
        new: 2,
        duplicates: 0,
        pending: 0,
        replaced: 0,
        removed: 0,
        corrected: 0,
      });
      const doc = await status();
      assert.equal(doc?.watermark, '2024-03-15');
      assert.equal(doc?.status, 'connected');
      assert.equal(doc?.last_success_at, '2024-03-15T10:00:00.000Z');
      assert.equal(doc?.next_run_at, '2024-03-15T22:00:00.000Z');
      assert.deepEqual(doc?.balance, { amount: 123456, currency: 'EUR', date: '2024-03-15' });
      assert.deepEqual((await lines()).map((l) => l._id).sort(), [
        statementLineId('acme', `p:${IBAN}:T1`),
        statementLineId('acme', `p:${IBAN}:T2`),
      ]);
      const runs = log.events('bank.run');
      assert.equal(runs.length, 1);
      for (const field of [
        'connection',
        'provider',
        'status',
        'window',
        'fetched',
        'new',
        'duplicates',
        'pending',
        'ms',
        'next_run_at',
        'error',
      ]) {
        assert.ok(field in runs[0], `bank.run has ${field}`);
      }
      assert.equal(runs[0].window, '2024-02-14..2024-03-15');
      assert.equal(
        JSON.stringify(log.entries).includes('s3cret'),
        false,
        'secrets never reach a log line',
      );
      assert.equal(JSON.stringify(doc).includes('s3cret'), false);
    });

    it('given a watermark, when it runs again, then the window starts overlap_days before it', async function () {
      fake.then(result([statement(IBAN, [])]), result([statement(IBAN, [])]));
      await loop.run(spec);
      clock.set('2024-03-20T10:00:00Z');
      await loop.run(spec);
      assert.deepEqual(fake.calls[1].window, { from: '2024-03-08', to: '2024-03-20' });
      assert.equal((await status())?.watermark, '2024-03-20');
    });

    it('given an unknown provider id, when it runs, then status is error naming the known ids', async function () {
      const outcome = await loop.run({ ...spec, provider: 'nope' });
      assert.equal(outcome.status, 'error');
      assert.equal(outcome.error?.code, 'BANK_PROVIDER_UNKNOWN');
      assert.match(outcome.error?.message ?? '', /known: fake/);
    });

    it('given a run in progress, when the same connection is run again, then the second call joins the first', async function () {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      fake.then(async () => {
        await gate;
        return result([statement(IBAN, [tx({ providerId: 'A' })])]);
      });
      const first = loop.run(spec);
      const second = loop.run(spec);
      assert.equal(first, second);
      assert.equal(loop.isRunning('acme'), true);
      release();
      const [a, b] = await Promise.all([first, second]);
      assert.equal(a, b);
      assert.equal(fake.calls.length, 1);
      assert.equal((await lines()).length, 1);
    });

    it('given status changes, then bank.status is logged once per change and not for a steady state', async function () {
      fake.then(
        new BankUnavailableError('BANK_HTTP_UNAVAILABLE', 'bank answered 503'),
        result([statement(IBAN, [])]),
        result([statement(IBAN, [])]),
      );
      await loop.run(spec);
      await loop.run(spec);
      await loop.run(spec);
      const changes = log.events('bank.status').map((e) => `${String(e.from)}→${String(e.to)}`);
      assert.deepEqual(changes, ['connected→error', 'error→connected']);
    });

    it('given more lines than the write batch, when it runs, then every line is stored once and a re-run adds none', async function () {
      const small = new FetchLoop({
        store: books.store,
        registry: new ProviderRegistry([fake]),
        logger: log.logger,
        now: clock.now,
        writeBatchSize: 7,
      });
      const many = Array.from({ length: 40 }, (_, i) =>
        tx({ providerId: `N${i}`, amount: -(i + 1) }),
      );
      fake.then(result([statement(IBAN, many)]), result([statement(IBAN, many)]));
      assert.equal((await small.run(spec)).counts.new, 40);
      assert.equal((await small.run(spec)).counts.new, 0);
      assert.equal((await lines()).length, 40);
    });

    it('given a connection state folder, then it is created private (0700)', async function () {
      fake.then(result([statement(IBAN, [])]));
      await loop.run(spec);
      assert.equal(statSync(spec.stateDir).mode & 0o777, 0o700);
    });
  });

  describe('failures', function () {
    it('given one connection malformed, one answering 500 and one hung, when all run, then the healthy one still imports and each failure has a readable reason', async function () {
      const good = new FakeProvider('good', [
        result([statement(IBAN, [tx({ providerId: 'G1' })])]),
      ]);
      const malformed = new FakeProvider('malformed', [
        new MalformedStatementError(
          'BANK_MALFORMED',
          'statement.ofx line 12: <STMTTRN> without <TRNAMT>; nothing was imported',
        ),
      ]);
      const http500 = new FakeProvider('http500', [
        new BankUnavailableError(
          'BANK_HTTP_UNAVAILABLE',
          'the bank answered HTTP 500 Internal Server Error; will retry on schedule',
        ),
      ]);
      const hung = new FakeProvider('hung', ['hang']);
      const many = new FetchLoop({
        store: books.store,
        registry: new ProviderRegistry([good, malformed, http500, hung]),
        logger: log.logger,
        now: clock.now,
      });
      // The run timeout bounds the whole run, so only the hung one gets a short one.
      const specs = ['good', 'malformed', 'http500', 'hung'].map((p) =>
        fakeSpec(tmp.dir, { name: p, provider: p, runTimeoutMs: p === 'hung' ? 30 : 30_000 }),
      );
      const outcomes = await Promise.all(specs.map((s) => many.run(s)));
      const by = Object.fromEntries(outcomes.map((o) => [o.connection, o]));
      assert.equal(by.good.status, 'connected');
      assert.equal(by.good.counts.new, 1);
      assert.equal(by.malformed.status, 'error');
      assert.match(by.malformed.error?.message ?? '', /without <TRNAMT>/);
      assert.equal(by.http500.error?.code, 'BANK_HTTP_UNAVAILABLE');
      assert.equal(by.hung.error?.code, 'BANK_TIMEOUT');
      assert.match(by.hung.error?.message ?? '', /did not finish within/);
      assert.equal(hung.calls[0].signal.aborted, true, 'the hung provider was told to abort');
      for (const name of ['malformed', 'http500', 'hung']) {
        const doc = await readStatus(books.store, name);
        assert.equal(doc?.status, 'error');
        assert.equal(doc?.watermark, undefined);
        assert.ok(doc?.last_error?.message);
      }
      assert.equal((await lines()).length, 1);
    });

    it('given a batch with one invalid line, when it runs, then nothing is written and the watermark stays', async function () {
      fake.then(
        result([
          statement(IBAN, [
            tx({ providerId: 'OK1' }),
            tx({ providerId: 'BAD', amount: 12.5 }),
            tx({ providerId: 'OK2' }),
          ]),
        ]),
      );
      const outcome = await loop.run(spec);
      assert.equal(outcome.status, 'error');
      assert.equal(outcome.error?.code, 'BANK_MALFORMED');
      assert.match(outcome.error?.message ?? '', /BAD.*12\.5.*nothing was imported/);
      assert.equal((await lines()).length, 0);
      assert.equal((await status())?.watermark, undefined);
    });

    it('given auth fails, then status is auth_required and the provider is not called again until the credentials change', async function () {
      fake.then(
        new BankAuthError(
          'OFX_SIGNON_INVALID',
          'the bank rejected the user id or password (OFX 15500)',
        ),
        result([statement(IBAN, [tx({ providerId: 'X' })])]),
      );
      assert.equal((await loop.run(spec)).status, 'auth_required');
      clock.advance(12 * 3600_000);
      const again = await loop.run(spec);
      assert.equal(again.skipped, 'auth_required');
      assert.equal(fake.calls.length, 1);
      assert.equal(existsSync(path.join(spec.stateDir, 'blocked.json')), true);
      const doc = await status();
      assert.equal(doc?.status, 'auth_required');
      assert.equal(
        JSON.stringify(doc).includes('fingerprint'),
        false,
        'no credential hash in the replicated document',
      );
      const renewed = await loop.run({ ...spec, secrets: { token: 'new-password' } });
      assert.equal(renewed.status, 'connected');
      assert.equal(fake.calls.length, 2);
      assert.equal(existsSync(path.join(spec.stateDir, 'blocked.json')), false);
    });

    it('given a permanent failure (a refused request), then the connection is not retried until its settings change, or an admin forces one run', async function () {
      fake.then(
        new PermanentError(
          'BANK_REQUEST_REJECTED',
          'the bank refused the request: HTTP 400 unknown account 123 (check settings.account_id)',
        ),
        new PermanentError('BANK_REQUEST_REJECTED', 'still refused'),
        result([statement(IBAN, [])]),
      );
      const first = await loop.run(spec);
      assert.equal(first.status, 'error');
      const again = await loop.run(spec);
      assert.equal(again.skipped, 'permanent_error');
      assert.equal(again.status, 'error');
      assert.match(again.error?.message ?? '', /unknown account 123/);
      assert.equal(fake.calls.length, 1);
      assert.equal((await loop.run(spec, { force: true })).error?.message, 'still refused');
      assert.equal(fake.calls.length, 2);
      assert.equal(
        (await loop.run({ ...spec, settings: { account_id: '456' } })).status,
        'connected',
      );
    });

    it('given auth_required, when an admin forces a run, then the provider is asked once more with the same credentials', async function () {
      fake.then(
        new BankAuthError('OFX_LOCKED_OUT', 'locked out (OFX 15502)'),
        result([statement(IBAN, [])]),
      );
      await loop.run(spec);
      assert.equal((await loop.run(spec)).skipped, 'auth_required');
      assert.equal((await loop.run(spec, { force: true })).status, 'connected');
      assert.equal(fake.calls.length, 2);
    });

    it('given the provider reports the consent expired, then status is consent_expired and no call happens until renewed', async function () {
      fake.then(
        new ConsentExpiredError('GOCARDLESS_AGREEMENT_EXPIRED', 'end user agreement expired'),
        result([statement(IBAN, [])]),
      );
      assert.equal((await loop.run(spec)).status, 'consent_expired');
      assert.equal((await loop.run(spec)).skipped, 'consent_expired');
      assert.equal(fake.calls.length, 1);
      assert.equal(
        (await loop.run({ ...spec, settings: { requisition_id: 'new-requisition' } })).status,
        'connected',
      );
    });

    it('given the provider fails after the lines were written (commit throws), then the watermark stays and the re-run adds nothing', async function () {
      const feed = [tx({ providerId: 'C1' }), tx({ providerId: 'C2' })];
      fake.then(
        result([statement(IBAN, feed)], {
          commit: async () =>
            Promise.reject(new Error('cannot move statement.ofx to the archive: EACCES')),
        }),
        result([statement(IBAN, feed)]),
      );
      const failed = await loop.run(spec);
      assert.equal(failed.status, 'error');
      assert.match(failed.error?.message ?? '', /EACCES/);
      assert.equal((await status())?.watermark, undefined);
      assert.equal((await lines()).length, 2);
      const retried = await loop.run(spec);
      assert.equal(retried.counts.new, 0);
      assert.equal(retried.counts.duplicates, 2);
      assert.equal((await status())?.watermark, '2024-03-15');
    });
  });

  describe('pending → posted with new id and amount', function () {
    it('given pending −20.00 (P1) that posts as −24.00 (B7) two days later, then one posted −24.00 line remains and P1 is recorded as superseded', async function () {
      spec = { ...spec, includePending: true };
      fake.then(
        result([
          statement(IBAN, [
            tx({
              providerId: 'P1',
              amount: -2000,
              payee: 'Hotel Sol',
              bookingDate: '2024-03-13',
              pending: true,
            }),
          ]),
        ]),
        result([
          statement(IBAN, [
            tx({ providerId: 'B7', amount: -2400, payee: 'HOTEL SOL', bookingDate: '2024-03-15' }),
          ]),
        ]),
        result([
          statement(IBAN, [
            tx({ providerId: 'B7', amount: -2400, payee: 'HOTEL SOL', bookingDate: '2024-03-15' }),
          ]),
        ]),
      );
      const first = await loop.run(spec);
      assert.equal(first.counts.pending, 1);
      clock.set('2024-03-15T12:00:00Z');
      const second = await loop.run(spec);
      assert.equal(second.counts.new, 1);
      assert.equal(second.counts.replaced, 1);
      const active = await live();
      assert.deepEqual(
        active.map((l) => [l.amount, l.pending]),
        [[-2400, false]],
      );
      const p1 = await books.store.get<StatementLineDoc>(statementLineId('acme', `p:${IBAN}:P1`));
      assert.equal(p1?.state, 'deleted');
      assert.equal(p1?.replaced_by, statementLineId('acme', `p:${IBAN}:B7`));
      const third = await loop.run(spec);
      assert.equal(third.counts.new, 0);
      assert.equal((await live()).length, 1);
    });

    it('given a pending line that vanishes from the feed without a posted version, then it is marked vanished', async function () {
      spec = { ...spec, includePending: true };
      fake.then(
        result([
          statement(IBAN, [
            tx({ amount: -500, payee: 'Kiosk', bookingDate: '2024-03-14', pending: true }),
            tx({ providerId: 'K1', amount: -100 }),
          ]),
        ]),
        result([statement(IBAN, [tx({ providerId: 'K1', amount: -100 })])]),
      );
      await loop.run(spec);
      assert.equal((await lines()).filter((l) => l.pending).length, 1);
      const outcome = await loop.run(spec);
      assert.equal(outcome.counts.removed, 1);
      const kiosk = (await lines()).find((l) => l.payee === 'Kiosk');
      assert.ok(kiosk?.vanished_at, 'kept, marked vanished');
    });

    it('given a pending line that vanished and comes back, then it is the same line again, not a new one', async function () {
      spec = { ...spec, includePending: true };
      const kiosk = tx({ amount: -500, payee: 'Kiosk', bookingDate: '2024-03-14', pending: true });
      fake.then(
        result([statement(IBAN, [kiosk, tx({ providerId: 'K1', amount: -100 })])]),
        result([statement(IBAN, [tx({ providerId: 'K1', amount: -100 })])]),
        result([statement(IBAN, [kiosk, tx({ providerId: 'K1', amount: -100 })])]),
      );
      const first = await loop.run(spec);
      const kioskId = first.new_ids.find((id) => !id.endsWith(':K1'));
      await loop.run(spec);
      const back = await loop.run(spec);
      assert.equal(back.counts.new, 0, 'nothing new');
      assert.deepEqual(back.new_ids, []);
      assert.equal(back.counts.duplicates, 2);
      const all = await lines();
      assert.equal(all.length, 2);
      const line = all.find((l) => l._id === kioskId);
      assert.equal(line?.vanished_at, undefined, 'no longer vanished');
      assert.equal(
        line?.imported_at,
        all.find((l) => l.provider_id === 'K1')?.imported_at,
        'still the line of the first import',
      );
    });

    it('given the provider keeps the id when the pending line books, then the same line is updated in place to booked', async function () {
      spec = { ...spec, includePending: true };
      fake.then(
        result([
          statement(IBAN, [
            tx({ providerId: 'S1', amount: -999, bookingDate: '2024-03-14', pending: true }),
          ]),
        ]),
        result([
          statement(IBAN, [
            tx({ providerId: 'S1', amount: -1099, bookingDate: '2024-03-15', pending: false }),
          ]),
        ]),
      );
      await loop.run(spec);
      await loop.run(spec);
      const all = await lines();
      assert.equal(all.length, 1);
      assert.deepEqual([all[0].amount, all[0].pending, all[0].date], [-1099, false, '2024-03-15']);
    });
  });

  describe('ids shift between fetches', function () {
    it('given the same 5 bookings re-sent under positional ids, then no line is added and none is overwritten by another booking', async function () {
      const bookings = [-1000, -2000, -3000, -4000, -5000].map((amount, i) => ({
        amount,
        payee: `Vendor ${i}`,
        bookingDate: '2024-03-1' + String(i),
      }));
      const withIds = (offset: number) =>
        bookings.map((b, i) => tx({ ...b, providerId: String(i + 1 + offset) }));
      fake.then(
        result([statement(IBAN, withIds(0))]),
        result([statement(IBAN, withIds(1))]),
        result([
          statement(IBAN, [
            tx({ amount: -777, payee: 'New', bookingDate: '2024-03-15', providerId: '1' }),
            ...withIds(1),
          ]),
        ]),
      );
      await loop.run(spec);
      const before = new Map((await lines()).map((l) => [l._id, l.amount]));
      const second = await loop.run(spec);
      assert.equal(second.counts.new, 0);
      assert.deepEqual(new Map((await lines()).map((l) => [l._id, l.amount])), before);
      const third = await loop.run(spec);
      assert.equal(third.counts.new, 1);
      const all = await lines();
      assert.equal(all.length, 6);
      assert.equal(
        all.find((l) => l._id === statementLineId('acme', `p:${IBAN}:1`))?.amount,
        -1000,
        'the old line of id 1 keeps its booking',
      );
      assert.equal(all.filter((l) => l.amount === -777).length, 1);
    });
  });

  describe('legitimate identical purchases', function () {
    it('given two −3.50 coffees at the same payee on the same day with distinct ids, then two lines, and a re-fetch keeps two', async function () {
      const coffees = [
        tx({ providerId: 'c1', amount: -350, payee: 'Café Central' }),
        tx({ providerId: 'c2', amount: -350, payee: 'Café Central' }),
      ];
      fake.then(result([statement(IBAN, coffees)]), result([statement(IBAN, coffees)]));
      assert.equal((await loop.run(spec)).counts.new, 2);
      assert.equal((await loop.run(spec)).counts.new, 0);
      assert.equal((await lines()).length, 2);
    });

    it('given two identical coffees without ids, then occurrence numbers keep them two, and a re-fetch maps to the same ids', async function () {
      const coffee = () => tx({ amount: -350, payee: 'Café Central', memo: 'card 1234' });
      fake.then(
        result([statement(IBAN, [coffee(), coffee()])]),
        result([statement(IBAN, [coffee(), coffee()])]),
        result([statement(IBAN, [coffee(), coffee(), coffee()])]),
      );
      await loop.run(spec);
      const ids = (await lines()).map((l) => l._id).sort();
      assert.equal(ids.length, 2);
      assert.match(ids[0], /^stl:acme:h:DE89370400440532013000:[0-9a-f]{32}:0$/);
      assert.match(ids[1], /:1$/);
      await loop.run(spec);
      assert.deepEqual((await lines()).map((l) => l._id).sort(), ids);
      const third = await loop.run(spec);
      assert.equal(third.counts.new, 1, 'a third identical coffee that day is a third line');
    });
  });

  describe('idempotent re-runs', function () {
    const feed = () => [
      tx({ providerId: 'I1', amount: -100 }),
      tx({ amount: -200, payee: 'No id' }),
      tx({ amount: -200, payee: 'No id' }),
    ];

    it('given the same window fetched twice, then zero extra lines', async function () {
      fake.then(result([statement(IBAN, feed())]), result([statement(IBAN, feed())]));
      await loop.run(spec);
      const second = await loop.run(spec);
      assert.equal(second.counts.new, 0);
      assert.equal(second.counts.duplicates, 3);
      assert.equal((await lines()).length, 3);
    });

    it('given a crash after the lines were written but before the watermark, then the re-run writes the same ids and nothing more', async function () {
      // A store whose status write with a watermark dies once, as a process would between the two writes.
      let crashed = false;
      const crashing: BankStore = {
        get: (id) => books.store.get(id),
        putMany: (docs, opts) => books.store.putMany(docs, opts),
        createAbsent: (docs, opts) => books.store.createAbsent(docs, opts),
        allOfType: (type) => books.store.allOfType(type),
        db: books.store.db,
        put: (async (doc: BooksDoc, opts?: object) => {
          if (
            !crashed &&
            doc._id === bankConnectionId('acme') &&
            (doc as { watermark?: string }).watermark
          ) {
            crashed = true;
            throw new Error('killed');
          }
          return books.store.put(doc, opts);
        }) as BankStore['put'],
      };
      const crashy = new FetchLoop({
        store: crashing,
        registry: new ProviderRegistry([fake]),
        logger: log.logger,
        now: clock.now,
      });
      fake.then(result([statement(IBAN, feed())]), result([statement(IBAN, feed())]));
      const first = await crashy.run(spec);
      assert.equal(first.status, 'error');
      const ids = (await lines()).map((l) => l._id).sort();
      assert.equal(ids.length, 3);
      assert.equal((await status())?.watermark, undefined);
      const second = await crashy.run(spec);
      assert.equal(second.status, 'connected');
      assert.equal(second.counts.new, 0);
      assert.deepEqual((await lines()).map((l) => l._id).sort(), ids);
      assert.deepEqual(
        fake.calls[1].window,
        fake.calls[0].window,
        'the failed window is fetched again',
      );
    });

    it('given two sites fetching the same connection, then they produce the same ids and replicating one into the other adds nothing', async function () {
      const other = await tempStore(log.logger, clock.now);
      try {
        const fakeB = new FakeProvider('fake', [result([statement(IBAN, feed())])]);
        const loopB = new FetchLoop({
          store: other.store,
          registry: new ProviderRegistry([fakeB]),
          logger: log.logger,
          now: clock.now,
        });
        fake.then(result([statement(IBAN, feed())]));
        const specB = fakeSpec(path.join(tmp.dir, 'site-b'));
        await Promise.all([loop.run(spec), loopB.run(specB)]);
        const idsA = (await lines()).map((l) => l._id).sort();
        const idsB = (await lines(other.store)).map((l) => l._id).sort();
        assert.deepEqual(idsA, idsB);
        await books.store.db.replicate.to(other.store.db);
        assert.equal((await lines(other.store)).length, 3);
      } finally {
        await other.close();
      }
    });
  });

  describe('backdated booking', function () {
    it('given a booking dated 3 days before the last successful run, then the next run (overlap 7 days) imports it', async function () {
      fake.then(
        result([statement(IBAN, [tx({ providerId: 'A', bookingDate: '2024-03-15' })])]),
        result([
          statement(IBAN, [
            tx({ providerId: 'A', bookingDate: '2024-03-15' }),
            tx({ providerId: 'LATE', bookingDate: '2024-03-12' }),
          ]),
        ]),
      );
      await loop.run(spec);
      clock.set('2024-03-16T10:00:00Z');
      const second = await loop.run(spec);
      assert.ok(
        fake.calls[1].window.from <= '2024-03-12',
        `window ${fake.calls[1].window.from} covers the backdated day`,
      );
      assert.equal(second.counts.new, 1);
      assert.ok((await lines()).some((l) => l.provider_id === 'LATE' && l.date === '2024-03-12'));
    });
  });

  describe("a failed fetch doesn't advance the watermark", function () {
    it('given a 5xx after a good run, then the watermark stays, status is error with a reason, and the next run re-fetches the same window without duplicates', async function () {
      const first = [tx({ providerId: 'W1' })];
      fake.then(
        result([statement(IBAN, first)]),
        new BankUnavailableError(
          'BANK_HTTP_UNAVAILABLE',
          'the bank answered HTTP 502 Bad Gateway; will retry on schedule',
        ),
        result([statement(IBAN, [...first, tx({ providerId: 'W2', bookingDate: '2024-03-16' })])]),
      );
      await loop.run(spec);
      clock.set('2024-03-16T10:00:00Z');
      const failed = await loop.run(spec);
      assert.equal(failed.status, 'error');
      let doc = await status();
      assert.equal(doc?.watermark, '2024-03-15');
      assert.equal(doc?.last_success_at, '2024-03-15T10:00:00.000Z');
      assert.equal(doc?.last_refresh_at, '2024-03-16T10:00:00.000Z');
      assert.deepEqual(doc?.last_error, {
        code: 'BANK_HTTP_UNAVAILABLE',
        message: 'the bank answered HTTP 502 Bad Gateway; will retry on schedule',
      });
      const retried = await loop.run(spec);
      assert.equal(fake.calls[2].window.from, fake.calls[1].window.from);
      assert.equal(retried.counts.new, 1);
      doc = await status();
      assert.equal(doc?.watermark, '2024-03-16');
      assert.equal(doc?.last_error, undefined);
    });
  });

  describe('rate limit', function () {
    it('given "4/day … try again in 85092 s", then status rate_limited, next_run_at = now + 85092 s, and no call before then', async function () {
      const retryAt = new Date(clock.now().getTime() + 85_092_000);
      fake.then(
        new RateLimitedError(
          'the rate limit for this resource is 4/day. Please try again in 85092 seconds',
          retryAt,
        ),
        result([statement(IBAN, [])]),
      );
      const limited = await loop.run(spec, {
        planNext: (at) => new Date(at.getTime() + 4 * 3600_000),
      });
      assert.equal(limited.status, 'rate_limited');
      assert.equal(limited.next_run_at, retryAt.toISOString());
      assert.equal((await status())?.next_run_at, retryAt.toISOString());
      clock.advance(4 * 3600_000);
      const early = await loop.run(spec);
      assert.equal(early.skipped, 'rate_limited');
      assert.equal(fake.calls.length, 1);
      assert.ok(log.events('bank.run').some((e) => e.skipped === 'rate_limited'));
      clock.set(new Date(retryAt.getTime() + 1000).toISOString());
      assert.equal((await loop.run(spec)).status, 'connected');
      assert.equal(fake.calls.length, 2);
    });
  });

  describe('consent and credentials', function () {
    it('given consent ending in 20 days, then consent_expiring with one warning each at 15, 3 and 1 days, and consent_expired with no call at expiry', async function () {
      const expires = '2024-04-04T10:00:00.000Z';
      const ok = () => result([statement(IBAN, [])], { consentExpiresAt: expires });
      fake.then(ok(), ok(), ok(), ok(), ok(), ok());
      assert.equal((await loop.run(spec)).status, 'connected');
      assert.equal(log.events('bank.consent_expiring').length, 0);
      clock.set('2024-03-20T10:00:00Z'); // 15 days left
      assert.equal((await loop.run(spec)).status, 'consent_expiring');
      clock.set('2024-03-20T18:00:00Z');
      await loop.run(spec);
      clock.set('2024-04-01T10:00:00Z'); // 3 days
      await loop.run(spec);
      clock.set('2024-04-03T10:00:00Z'); // 1 day
      await loop.run(spec);
      assert.deepEqual(
        log.events('bank.consent_expiring').map((e) => e.threshold),
        [15, 3, 1],
      );
      const callsBefore = fake.calls.length;
      clock.set('2024-04-04T10:00:01Z');
      const expired = await loop.run(spec);
      assert.equal(expired.status, 'consent_expired');
      assert.equal(fake.calls.length, callsBefore);
      assert.equal((await status())?.status, 'consent_expired');
    });

    it('given re-consent with new account ids, then history is not imported again', async function () {
      const history = () =>
        [
          tx({ providerId: 'H1', amount: -100, bookingDate: '2024-03-11' }),
          tx({ amount: -200, payee: 'Rent', bookingDate: '2024-03-12' }),
        ].map((t) => ({ ...t, providerId: t.providerId }));
      fake.then(
        result([statement('acc-old-uuid', history())]),
        result([statement('acc-new-uuid', [...history(), tx({ providerId: 'H9', amount: -900 })])]),
      );
      await loop.run(spec);
      const renewed = await loop.run({ ...spec, settings: { requisition_id: 'req-2' } });
      assert.equal(renewed.counts.new, 1);
      assert.equal((await lines()).length, 3);
    });
  });

  describe('timezones and date-only values', function () {
    it("given a run at 23:30 UTC and the bank's zone Europe/Madrid, then today is the Madrid day and booking dates are kept as sent (DST day lines kept)", async function () {
      clock.set('2024-03-30T23:30:00Z'); // 00:30 on 31 March in Madrid, the day clocks go forward
      fake.then(
        result([
          statement(IBAN, [
            tx({ providerId: 'M1', bookingDate: '2024-03-31', amount: -100 }),
            tx({ providerId: 'M2', bookingDate: '2024-03-31', amount: -200 }),
            tx({ providerId: 'M3', bookingDate: '2024-03-30', amount: -300 }),
          ]),
        ]),
      );
      await loop.run({ ...spec, timezone: 'Europe/Madrid' });
      assert.equal(fake.calls[0].window.to, '2024-03-31');
      const dates = (await lines()).map((l) => `${l.provider_id}:${l.date}`).sort();
      assert.deepEqual(dates, ['M1:2024-03-31', 'M2:2024-03-31', 'M3:2024-03-30']);
      assert.equal((await status())?.watermark, '2024-03-31');
    });

    it('given a negative UTC offset zone, then a date-only value is not shifted and today is the local day', async function () {
      clock.set('2024-03-31T02:00:00Z'); // 22:00 on 30 March in New York
      fake.then(result([statement(IBAN, [tx({ providerId: 'NY1', bookingDate: '2024-03-30' })])]));
      await loop.run({ ...spec, timezone: 'America/New_York' });
      assert.equal(fake.calls[0].window.to, '2024-03-30');
      assert.equal((await lines())[0].date, '2024-03-30');
    });
  });

  describe('user edits win', function () {
    it('given a line the user deleted and one they reconciled, then a re-fetch neither resurrects nor changes them', async function () {
      const feed = () => [
        tx({ providerId: 'U1', amount: -100 }),
        tx({ providerId: 'U2', amount: -200 }),
        tx({ amount: -300, payee: 'No id' }),
      ];
      fake.then(result([statement(IBAN, feed())]), result([statement(IBAN, feed())]));
      await loop.run(spec);
      const all = await lines();
      const u1 = all.find((l) => l.provider_id === 'U1') as StatementLineDoc;
      const noId = all.find((l) => l.payee === 'No id') as StatementLineDoc;
      const u2 = all.find((l) => l.provider_id === 'U2') as StatementLineDoc;
      await books.store.put({ ...u1, state: 'deleted' });
      await books.store.put({ ...noId, state: 'deleted' });
      const reconciled = await books.store.put({
        ...u2,
        state: 'reconciled',
        memo: 'matched to INV-2024-0042',
      });
      const second = await loop.run(spec);
      assert.equal(second.counts.new, 0);
      const after = await lines();
      assert.equal(after.length, 3);
      assert.equal(after.filter((l) => l.state === 'deleted').length, 2);
      const u2After = after.find((l) => l.provider_id === 'U2');
      assert.equal(u2After?._rev, reconciled._rev, 'the reconciled line was not written');
    });

    it('given a pending line the user reconciled between runs, then its booked version is not imported beside it (the loop sees the change)', async function () {
      spec = { ...spec, includePending: true };
      fake.then(
        result([
          statement(IBAN, [
            tx({ amount: -4200, payee: 'Garage', bookingDate: '2024-03-14', pending: true }),
          ]),
        ]),
        result([
          statement(IBAN, [
            tx({ providerId: 'G7', amount: -4200, payee: 'Garage', bookingDate: '2024-03-15' }),
          ]),
        ]),
      );
      await loop.run(spec);
      const [pending] = await lines();
      const kept = await books.store.put({ ...pending, state: 'reconciled' });
      const second = await loop.run(spec);
      assert.equal(second.status, 'connected');
      assert.equal(second.counts.new, 0);
      assert.equal((await lines()).length, 1);
      assert.equal((await books.store.get<StatementLineDoc>(pending._id))?._rev, kept._rev);
    });

    it('given a bank correction of a reconciled line, then the line is unchanged and the run warns', async function () {
      fake.then(
        result([statement(IBAN, [tx({ providerId: 'R1', amount: -1000 })])]),
        result([
          statement(IBAN, [
            tx({
              providerId: 'R1b',
              amount: -1100,
              corrects: { providerId: 'R1', action: 'REPLACE' },
            }),
          ]),
        ]),
      );
      await loop.run(spec);
      const [line] = await lines();
      const kept = await books.store.put({ ...line, state: 'reconciled' });
      const second = await loop.run(spec);
      assert.equal(second.counts.new, 0);
      assert.match(second.warnings.join('\n'), /reconciled/);
      assert.equal((await books.store.get<StatementLineDoc>(line._id))?._rev, kept._rev);
    });

    it('given lines stored under an older key format, then the new format does not duplicate them', async function () {
      const legacy = (
        id: string,
        providerId: string | undefined,
        amount: number,
        payee: string,
      ): StatementLineDoc => ({
        _id: statementLineId('acme', id),
        type: 'statement_line',
        connection: 'acme',
        account_id: IBAN,
        date: '2024-03-10',
        amount,
        currency: 'EUR',
        payee,
        ...(providerId ? { provider_id: providerId } : {}),
        dedup_key: id,
        pending: false,
        state: 'posted',
        imported_at: '2024-03-10T08:00:00.000Z',
      });
      await books.store.putMany([
        legacy('v0-FIT1', 'FIT1', -100, 'Shop'),
        legacy('v0-hash-abc', undefined, -250, 'Bakery'),
      ]);
      fake.then(
        result([
          statement(IBAN, [
            tx({ providerId: 'FIT1', amount: -100, payee: 'Shop' }),
            tx({ amount: -250, payee: 'Bakery' }),
          ]),
        ]),
      );
      const outcome = await loop.run(spec);
      assert.equal(outcome.counts.new, 0);
      assert.equal((await lines()).length, 2);
    });
  });

  describe('OFX corrections', function () {
    it('given CORRECTACTION REPLACE and DELETE, then the corrected line is superseded and the deleted one marked deleted', async function () {
      fake.then(
        result([
          statement(IBAN, [
            tx({ providerId: 'F1', amount: -1000 }),
            tx({ providerId: 'F2', amount: -2000 }),
          ]),
        ]),
        result([
          statement(IBAN, [
            tx({
              providerId: 'F1c',
              amount: -1010,
              corrects: { providerId: 'F1', action: 'REPLACE' },
            }),
            tx({
              providerId: 'F2d',
              amount: -2000,
              corrects: { providerId: 'F2', action: 'DELETE' },
            }),
          ]),
        ]),
      );
      await loop.run(spec);
      const second = await loop.run(spec);
      assert.equal(second.counts.corrected, 2);
      const f1 = await books.store.get<StatementLineDoc>(statementLineId('acme', `p:${IBAN}:F1`));
      assert.equal(f1?.state, 'deleted');
      assert.equal(f1?.replaced_by, statementLineId('acme', `p:${IBAN}:F1c`));
      // The loop keeps a slim copy of stored lines; the correction is written onto the whole document.
      assert.ok(
        f1?.imported_at && f1.dedup_key && f1.payee,
        'fields the plan does not read are kept',
      );
      assert.equal(
        (await books.store.get<StatementLineDoc>(statementLineId('acme', `p:${IBAN}:F2`)))?.state,
        'deleted',
      );
      assert.deepEqual(
        (await live()).map((l) => l.amount),
        [-1010],
      );
    });
  });
});

import { strict as assert } from 'node:assert';
import { FetchLoop, type ConnectionSpec } from '../../src/bank/fetch-loop';
import { BankAuthError, RateLimitedError } from '../../src/bank/errors';
import { ProviderRegistry } from '../../src/bank/registry';
import {
  BankScheduler,
  UnknownConnectionError,
  createJobTimer,
  seededRandom,
  type JobTimer,
} from '../../src/bank/scheduler';
import { formatStatusTable, listStatuses, readStatus } from '../../src/bank/status';
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

const HOUR = 3600_000;

/** Records job registrations instead of arming timers; tests fire jobs by hand. */
class RecordingTimer implements JobTimer {
  readonly jobs = new Map<string, { at: Date; run: () => void; cancelled: boolean }>();
  shutdowns = 0;

  schedule(name: string, at: Date, run: () => void) {
    const job = { at, run, cancelled: false };
    this.jobs.set(name, job);
    return { cancel: () => void (job.cancelled = true) };
  }

  shutdown() {
    this.shutdowns += 1;
    return Promise.resolve();
  }

  active(): Record<string, string> {
    return Object.fromEntries(
      [...this.jobs].filter(([, j]) => !j.cancelled).map(([n, j]) => [n, j.at.toISOString()]),
    );
  }
}

describe('bank scheduler', function () {
  let log: CapturedLog;
  let tmp: ReturnType<typeof tempDir>;
  let clock: ReturnType<typeof fakeClock>;
  let books: Awaited<ReturnType<typeof tempStore>>;
  let fake: FakeProvider;
  let loop: FetchLoop;
  let timer: RecordingTimer;
  const specs = (...fields: Array<Partial<ConnectionSpec>>) =>
    fields.map((f) => fakeSpec(tmp.dir, f));
  const make = (list: ConnectionSpec[], t: JobTimer = timer) =>
    new BankScheduler(list, {
      loop,
      store: books.store,
      logger: log.logger,
      now: clock.now,
      random: seededRandom(42),
      timer: t,
    });

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
    timer = new RecordingTimer();
  });

  afterEach(async function () {
    await books.close();
    tmp.cleanup();
  });

  it('given enabled and disabled connections, when started, then one job per enabled connection is registered within the startup jitter and the disabled one is disconnected', async function () {
    const scheduler = make(
      specs(
        { name: 'a', schedule: { every: '4h' } },
        { name: 'b', schedule: { cron: '0 6 * * *' } },
        { name: 'off', enabled: false },
      ),
    );
    await scheduler.start();
    const jobs = timer.active();
    assert.deepEqual(Object.keys(jobs).sort(), ['bank:a', 'bank:b']);
    for (const at of Object.values(jobs)) {
      const delay = Date.parse(at) - clock.now().getTime();
      assert.ok(delay > 0 && delay < 10_000, `first run within 10 s (got ${delay} ms)`);
    }
    assert.equal((await readStatus(books.store, 'off'))?.status, 'disconnected');
    assert.equal(fake.calls.length, 0);
    await scheduler.stop(Date.now());
  });

  it('given a job fires, when the run ends, then the next run is planned every + bounded jitter and stored as next_run_at', async function () {
    fake.then(result([statement('ACC', [tx({ providerId: '1' })])]));
    const scheduler = make(specs({ name: 'a', schedule: { every: '4h' } }));
    await scheduler.start();
    const [outcome] = await scheduler.runNow(['a']);
    assert.equal(outcome.status, 'connected');
    const at = Date.parse(timer.active()['bank:a']);
    const base = clock.now().getTime() + 4 * HOUR;
    assert.ok(at >= base && at < base + 5 * 60_000, 'jitter is at most 5 minutes');
    assert.equal((await readStatus(books.store, 'a'))?.next_run_at, new Date(at).toISOString());
    assert.equal(scheduler.nextRuns().a, new Date(at).toISOString());
    await scheduler.stop(Date.now());
  });

  it('given a fired job, then the scheduled callback runs the fetch and re-arms the job', async function () {
    fake.then(result([statement('ACC', [])]));
    const scheduler = make(specs({ name: 'a', schedule: { every: '4h' } }));
    await scheduler.start();
    const first = timer.jobs.get('bank:a');
    first?.run();
    await loop.idle();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fake.calls.length, 1);
    const next = timer.jobs.get('bank:a');
    assert.notEqual(next, first);
    assert.ok(next && next.at.getTime() >= clock.now().getTime() + 4 * HOUR);
    await scheduler.stop(Date.now());
  });

  it('given an after-run step, then it sees every run that reached the provider, and its failure is logged, not thrown', async function () {
    fake.then(result([statement('ACC', [tx({ providerId: '1' })])]), new Error('boom'));
    const seen: string[] = [];
    const scheduler = new BankScheduler(specs({ name: 'a' }, { name: 'off', enabled: false }), {
      loop,
      store: books.store,
      logger: log.logger,
      now: clock.now,
      random: seededRandom(1),
      timer,
      afterRun: (o) => {
        seen.push(`${o.connection}:${o.status}:${o.counts.new}`);
        return seen.length === 2 ? Promise.reject(new Error('posting failed')) : Promise.resolve();
      },
    });
    await scheduler.runNow(['a']);
    await scheduler.runNow(['a']);
    await scheduler.runNow(['off']);
    assert.deepEqual(seen, ['a:connected:1', 'a:error:0']);
    assert.equal(log.events('bank.after_run').length, 1);
  });

  it('given a cron schedule, then the next run is the next cron instant plus at most 5 minutes of jitter', async function () {
    fake.then(result([statement('ACC', [])]));
    const scheduler = make(specs({ name: 'c', schedule: { cron: '0 6 * * *' } }));
    await scheduler.start();
    await scheduler.runNow(['c']);
    const at = Date.parse(timer.active()['bank:c']);
    const six = Date.parse('2024-03-16T06:00:00Z');
    assert.ok(at >= six && at < six + 5 * 60_000, new Date(at).toISOString());
    await scheduler.stop(Date.now());
  });

  it('given a rate limit, then the job is re-armed at the retry-after instant exactly', async function () {
    const retryAt = new Date(clock.now().getTime() + 85_092_000);
    fake.then(new RateLimitedError('4/day', retryAt));
    const scheduler = make(specs({ name: 'r', schedule: { every: '1h' } }));
    await scheduler.start();
    await scheduler.runNow(['r']);
    assert.equal(timer.active()['bank:r'], retryAt.toISOString());
    await scheduler.stop(Date.now());
    const restarted = make(specs({ name: 'r', schedule: { every: '1h' } }), new RecordingTimer());
    await restarted.start();
    assert.equal(restarted.nextRuns().r, retryAt.toISOString(), 'a restart keeps the retry-after');
    await restarted.stop(Date.now());
  });

  it('given a config reload, then only changed jobs change and status documents are kept', async function () {
    fake.then(result([statement('ACC', [tx({ providerId: 'k' })])]));
    const scheduler = make(
      specs(
        { name: 'keep', schedule: { every: '4h' } },
        { name: 'change', schedule: { every: '4h' } },
        { name: 'drop' },
      ),
    );
    await scheduler.start();
    await scheduler.runNow(['keep']);
    const keepJob = timer.jobs.get('bank:keep');
    const dropJob = timer.jobs.get('bank:drop');
    const statusBefore = await readStatus(books.store, 'keep');
    await scheduler.reschedule(
      specs(
        { name: 'keep', schedule: { every: '4h' }, secrets: { token: 'rotated' } },
        { name: 'change', schedule: { cron: '30 7 * * *' } },
        { name: 'added' },
      ),
    );
    assert.equal(timer.jobs.get('bank:keep'), keepJob, 'unchanged schedule keeps its job');
    assert.equal(keepJob?.cancelled, false);
    assert.equal(dropJob?.cancelled, true);
    const changeAt = Date.parse(timer.active()['bank:change']);
    assert.ok(
      changeAt >= Date.parse('2024-03-16T07:30:00Z') &&
        changeAt < Date.parse('2024-03-16T07:35:00Z'),
    );
    assert.ok(timer.active()['bank:added']);
    assert.deepEqual(Object.keys(timer.active()).sort(), [
      'bank:added',
      'bank:change',
      'bank:keep',
    ]);
    const statusAfter = await readStatus(books.store, 'keep');
    assert.equal(statusAfter?.watermark, statusBefore?.watermark);
    assert.equal(scheduler.specs().find((s) => s.name === 'keep')?.secrets.token, 'rotated');
    await scheduler.stop(Date.now());
  });

  it('given `booksync fetch` with names, then unknown names are refused listing the configured ones, and no names runs every enabled connection', async function () {
    fake.then(result([statement('A', [])]), result([statement('B', [])]));
    const scheduler = make(specs({ name: 'a' }, { name: 'b' }, { name: 'off', enabled: false }));
    await assert.rejects(
      scheduler.runNow(['a', 'nope']),
      (err: unknown) =>
        err instanceof UnknownConnectionError && /nope.*configured: a, b, off/.test(err.message),
    );
    const outcomes = await scheduler.runNow();
    assert.deepEqual(
      outcomes.map((o) => `${o.connection}:${o.status}`),
      ['a:connected', 'b:connected'],
    );
    const table = formatStatusTable(await listStatuses(books.store), clock.now());
    assert.match(table.split('\n')[0], /^CONNECTION\s+PROVIDER\s+STATUS/);
    assert.match(table, /\na\s+fake\s+connected/);
    const view = await scheduler.status();
    assert.deepEqual(
      view.connections.map((c) => c.name).sort(),
      ['a', 'b'],
      'runNow without start writes no status for the disabled one',
    );
    assert.equal(
      formatStatusTable(view.connections, clock.now()),
      table,
      'the JSON view prints the same table',
    );
  });

  it('given an auth_required connection, then `booksync fetch NAME` retries it once but fetching all does not', async function () {
    fake.then(new BankAuthError('BANK_HTTP_AUTH', 'rejected'), result([statement('ACC', [])]));
    const scheduler = make(specs({ name: 'a' }));
    await scheduler.runNow(['a']);
    assert.equal((await scheduler.runNow())[0].skipped, 'auth_required');
    assert.equal(fake.calls.length, 1);
    assert.equal((await scheduler.runNow(['a']))[0].status, 'connected');
    assert.equal(fake.calls.length, 2);
  });

  it('given a hung run at stop, then stop cancels jobs, aborts the run at the deadline and shuts the timer down', async function () {
    fake.then('hang');
    const scheduler = make(specs({ name: 'h', runTimeoutMs: 60_000 }));
    await scheduler.start();
    const running = scheduler.runNow(['h']);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(loop.isRunning('h'), true);
    await scheduler.stop(Date.now() + 20);
    const [outcome] = await running;
    assert.equal(outcome.error?.code, 'BANK_ABORTED');
    assert.equal(loop.isRunning('h'), false);
    assert.equal(timer.shutdowns, 1);
    assert.deepEqual(timer.active(), {});
    assert.equal((await readStatus(books.store, 'h'))?.watermark, undefined);
  });

  it('given the job timer, then a stored future next_run_at registers a named job at that instant and stop removes it', async function () {
    const realNow = () => new Date();
    const real = new FetchLoop({
      store: books.store,
      registry: new ProviderRegistry([fake]),
      logger: log.logger,
      now: realNow,
    });
    const nextRun = new Date(Date.now() + 2 * HOUR);
    const jobs = createJobTimer();
    await books.store.put({
      _id: 'bankconn:acme',
      type: 'bank_connection',
      name: 'acme',
      provider: 'fake',
      institution: 'demo-bank',
      status: 'connected',
      next_run_at: nextRun.toISOString(),
      counts: { fetched: 0, new: 0, duplicates: 0, pending: 0 },
    });
    const scheduler = new BankScheduler(specs({ name: 'acme', schedule: { every: '4h' } }), {
      loop: real,
      store: books.store,
      logger: log.logger,
      timer: jobs,
      random: seededRandom(1),
    });
    await scheduler.start();
    const job = jobs.pending().get('bank:acme');
    assert.ok(job, 'job registered under its connection name');
    assert.equal(job.getTime(), nextRun.getTime());
    await scheduler.stop(Date.now() + 1000);
    assert.equal(jobs.pending().get('bank:acme'), undefined);
    assert.equal(fake.calls.length, 0);
  });
});

import assert from 'node:assert/strict';
import type { Config } from '../../src/config';
import {
  BankProgress,
  LoopStuckError,
  notifySocketAddress,
  ProgressClock,
  runProbes,
  statusLine,
  syncQuietLimitMs,
  SystemdIntegration,
  SystemdNotifier,
  SystemdNotifyError,
  watchdogPeriodMs,
  Watchdog,
  type NotifyTransport,
} from '../../src/daemon/systemd';
import { captureLogger } from '../helpers/line-logger';

const never = () => new Promise<void>(() => undefined);

class RecordingTransport implements NotifyTransport {
  readonly sent: string[] = [];
  failWith: Error | undefined;
  send(message: string): void {
    if (this.failWith) throw this.failWith;
    this.sent.push(message);
  }
  close(): void {}
}

describe('systemd watchdog: WATCHDOG=1 only while the loops make progress', () => {
  it('given a probe that hangs or fails, when the watchdog ticks, then it sends no ping and logs which probe and why', async () => {
    const { logger, lines } = captureLogger();
    let pings = 0;
    let syncStuck = true;
    const watchdog = new Watchdog({
      periodMs: 90,
      logger,
      ping: () => pings++,
      probes: () => [
        { name: 'books', check: () => Promise.resolve() },
        {
          name: 'sync',
          check: () =>
            syncStuck
              ? Promise.reject(new LoopStuckError('sync has made no progress for 999 s'))
              : Promise.resolve(),
        },
        { name: 'bank', check: syncStuck ? never : () => Promise.resolve() },
      ],
    });
    const failures = await watchdog.tick();
    assert.equal(pings, 0);
    assert.deepEqual(failures, [
      { probe: 'sync', reason: 'sync has made no progress for 999 s' },
      { probe: 'bank', reason: 'no answer within 30 ms' },
    ]);
    assert.equal(lines.filter((l) => l.includes('"daemon.watchdog"')).length, 1);
    await watchdog.tick();
    assert.equal(
      lines.filter((l) => l.includes('"daemon.watchdog"')).length,
      1,
      'the same failures are logged once',
    );
    syncStuck = false;
    assert.deepEqual(await watchdog.tick(), []);
    assert.equal(pings, 1);
    assert.match(lines.at(-1) ?? '', /all watchdog probes pass again/);
  });

  it('given probes that all answer, then runProbes reports no failure', async () => {
    assert.deepEqual(await runProbes([{ name: 'a', check: () => Promise.resolve() }], 50), []);
  });

  it('given a loop clock, then it is stuck only once quiet for longer than its limit, and a beat resets it', () => {
    let now = 1_000;
    const clock = new ProgressClock(() => now);
    now += 5_000;
    clock.check('sync', 5_000);
    now += 1;
    assert.throws(
      () => clock.check('sync', 5_000),
      (e: unknown) =>
        e instanceof LoopStuckError &&
        e.code === 'LOOP_STUCK' &&
        /sync has made no progress for 5 s/.test(e.message),
    );
    clock.beat();
    clock.check('sync', 5_000);
  });

  it('given the sync config, then the quiet limit covers the longest back-off or interval plus two request timeouts', () => {
    const config = (mode: 'live' | 'interval', interval: number) =>
      ({
        cloud: { request_timeout_ms: 30_000 },
        sync: { mode, interval_ms: interval, backoff_max_ms: 300_000, auth_retry_ms: 900_000 },
      }) as unknown as Config;
    assert.equal(syncQuietLimitMs(config('live', 3_600_000)), 900_000 + 60_000 + 60_000);
    assert.equal(syncQuietLimitMs(config('interval', 3_600_000)), 3_600_000 + 60_000 + 60_000);
  });

  it('given bank runs, then a run in flight over 30 min or a job overdue by over 15 min is stuck, a running connection is not overdue', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const bank = new BankProgress(() => now);
    const due = { main: '2026-01-01T00:00:00.000Z', idle: null };
    bank.check(['main'], due);
    now += 30 * 60_000;
    bank.check(['main'], due);
    now += 1;
    assert.throws(
      () => bank.check(['main'], due),
      /bank run of main has been in flight for 1800 s/,
    );
    bank.check([], { main: new Date(now - 15 * 60_000).toISOString() });
    assert.throws(
      () => bank.check([], { main: new Date(now - 15 * 60_000 - 1000).toISOString() }),
      /bank job of main is 901 s overdue/,
    );
  });
});

describe('systemd notify messages', () => {
  it('given a transport, then the notifier sends the sd_notify fields, STATUS only when it changed and always on one line', () => {
    const t = new RecordingTransport();
    const n = new SystemdNotifier(t, captureLogger().logger);
    n.ready('sync online\n0 open conflicts');
    n.status('sync online; 0 open conflicts');
    n.status('sync offline; 0 open conflicts');
    n.reloading();
    n.watchdog();
    n.stopping();
    assert.equal(t.sent[0], 'READY=1\nSTATUS=sync online; 0 open conflicts');
    assert.equal(t.sent[1], 'STATUS=sync offline; 0 open conflicts');
    assert.match(t.sent[2], /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    assert.deepEqual(t.sent.slice(3), ['WATCHDOG=1', 'STOPPING=1']);
  });

  it('given a send that fails, then the daemon goes on and the failure is logged once per code', () => {
    const t = new RecordingTransport();
    t.failWith = new SystemdNotifyError(
      'SYSTEMD_NOTIFY_FAILED',
      'sendto NOTIFY_SOCKET failed (errno 111)',
    );
    const { logger, lines } = captureLogger();
    const n = new SystemdNotifier(t, logger);
    n.watchdog();
    n.watchdog();
    assert.equal(lines.length, 1);
    assert.match(lines[0], /cannot notify systemd: sendto NOTIFY_SOCKET failed \(errno 111\)/);
  });

  it('given a NOTIFY_SOCKET that cannot be used, then the daemon logs why once and runs on without notifying', async () => {
    const { logger, lines } = captureLogger();
    const integration = new SystemdIntegration({
      env: { NOTIFY_SOCKET: 'run/notify', WATCHDOG_USEC: '1000' },
      logger,
      services: () => [],
    });
    await integration.ready();
    await integration.aroundReload(() => Promise.resolve(true));
    integration.close();
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /cannot open NOTIFY_SOCKET; systemd will not hear from the daemon: NOTIFY_SOCKET must be an absolute path/,
    );
    assert.match(lines[0], /"code":"SYSTEMD_NOTIFY_SOCKET_INVALID"/);
  });

  it('given a stop while READY=1 waits for the status line, then READY=1 is never sent after STOPPING=1', async () => {
    const t = new RecordingTransport();
    let answer!: (s: Record<string, unknown>) => void;
    const sync = {
      name: 'sync',
      start: () => Promise.resolve(),
      stop: () => Promise.resolve(),
      status: () => new Promise<Record<string, unknown>>((r) => (answer = r)),
    };
    const integration = new SystemdIntegration({
      env: {},
      logger: captureLogger().logger,
      services: () => [sync],
      transport: t,
    });
    const ready = integration.ready();
    integration.stopping();
    answer({ state: 'online', open_conflicts: 0 });
    await ready;
    integration.close();
    assert.deepEqual(t.sent, ['STOPPING=1']);
  });

  it('given WATCHDOG_USEC and WATCHDOG_PID, then the period applies only to this process', () => {
    assert.equal(watchdogPeriodMs({ WATCHDOG_USEC: '30000000' }, 42), 30_000);
    assert.equal(watchdogPeriodMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 30_000);
    assert.equal(watchdogPeriodMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42), undefined);
    assert.equal(watchdogPeriodMs({ WATCHDOG_USEC: 'soon' }, 42), undefined);
    assert.equal(watchdogPeriodMs({}, 42), undefined);
  });

  it('given NOTIFY_SOCKET, then a path is NUL-terminated, an @name is abstract, anything else is refused', () => {
    assert.deepEqual(
      notifySocketAddress('/run/n'),
      Buffer.from([1, 0, ...Buffer.from('/run/n'), 0]),
    );
    assert.deepEqual(notifySocketAddress('@n'), Buffer.from([1, 0, 0, ...Buffer.from('n')]));
    assert.throws(
      () => notifySocketAddress('run/n'),
      (e: unknown) => e instanceof SystemdNotifyError && e.code === 'SYSTEMD_NOTIFY_SOCKET_INVALID',
    );
    assert.throws(() => notifySocketAddress(`/${'x'.repeat(107)}`), /longer than 107 bytes/);
  });

  it('given service reports, then the status line counts bank connections by status and names open conflicts', () => {
    assert.equal(
      statusLine({
        sync: { state: 'online', open_conflicts: 0 },
        bank: {
          connections: [{ status: 'connected' }, { status: 'fetching' }, { status: 'connected' }],
        },
      }),
      'sync online; 3 bank connections ok; 0 open conflicts',
    );
    assert.equal(
      statusLine({
        sync: { state: 'offline', open_conflicts: 1 },
        bank: {
          connections: [
            { status: 'connected' },
            { status: 'auth_required' },
            { status: 'error' },
            { status: 'error' },
          ],
        },
      }),
      'sync offline; 1 bank connection ok, 1 auth_required, 2 error; 1 open conflict',
    );
    assert.equal(statusLine({}), 'running');
  });
});

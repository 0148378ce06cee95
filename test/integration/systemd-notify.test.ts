import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DaemonProcess } from '../helpers/daemon-process';
import { NotifyReceiver } from '../helpers/notify-receiver';

/**
 * The built daemon against a real NOTIFY_SOCKET (a unix datagram socket this test binds), as
 * systemd runs it with Type=notify and WatchdogSec=: every message must come from the main pid
 * (NotifyAccess=main), in the order systemd expects.
 */
describe('systemd notify protocol (built CLI, real NOTIFY_SOCKET)', function () {
  this.timeout(60_000);
  let dir: string;
  let receiver: NotifyReceiver;
  let daemon: DaemonProcess | undefined;

  beforeEach(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-notify-'));
    fs.writeFileSync(
      path.join(dir, 'booksync.yaml'),
      [
        'state_dir: ./state',
        'log:',
        '  level: info',
        'cloud:',
        '  url: embedded',
        'ledger:',
        '  company: { name: Test Company, currency: EUR }',
        '',
      ].join('\n'),
    );
    receiver = new NotifyReceiver(path.join(dir, 'notify.sock'));
    await receiver.bound;
  });

  afterEach(async () => {
    await daemon?.kill();
    receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function start(env: NodeJS.ProcessEnv): DaemonProcess {
    daemon = new DaemonProcess(['start', '--config', path.join(dir, 'booksync.yaml')], {
      env: { ...process.env, NOTIFY_SOCKET: receiver.path, ...env },
    });
    return daemon;
  }

  it('sends READY with a one-line STATUS after daemon.ready, pings the watchdog, wraps a reload in RELOADING/READY, and sends STOPPING before a clean exit', async () => {
    const d = start({ WATCHDOG_USEC: '900000' });
    const ready = await receiver.waitFor('READY=1');
    assert.ok(
      d.lines.some((l) => l.event === 'daemon.ready'),
      'READY=1 comes after the daemon.ready log line',
    );
    assert.equal(ready.pid, d.pid, 'sent by the main process, so NotifyAccess=main accepts it');
    const status = ready.fields.find((f) => f.startsWith('STATUS='));
    assert.match(
      status ?? '',
      /^STATUS=sync (online|syncing|offline); 0 bank connections ok; 0 open conflicts$/,
    );

    const ping = await receiver.waitFor('WATCHDOG=1');
    assert.equal(ping.pid, d.pid);

    const beforeReload = receiver.messages.length;
    d.signal('SIGHUP');
    const reloading = await receiver.waitFor('RELOADING=1', beforeReload);
    assert.match(
      reloading.fields.find((f) => f.startsWith('MONOTONIC_USEC=')) ?? '',
      /^MONOTONIC_USEC=\d+$/,
    );
    await receiver.waitFor('READY=1', receiver.messages.indexOf(reloading) + 1);
    await d.waitFor('config.reload');

    const beforeStop = receiver.messages.length;
    d.signal('SIGTERM');
    const stopping = await receiver.waitFor('STOPPING=1', beforeStop);
    assert.equal(stopping.pid, d.pid);
    assert.deepEqual(await d.exited, { code: 0, signal: null });
    assert.ok(
      !receiver.messages
        .slice(receiver.messages.indexOf(stopping))
        .some((m) => m.fields.includes('WATCHDOG=1')),
      'no ping after STOPPING=1',
    );
  });

  it('sends no WATCHDOG=1 when systemd set the watchdog for another process (WATCHDOG_PID)', async () => {
    const d = start({ WATCHDOG_USEC: '300000', WATCHDOG_PID: '1' });
    await receiver.waitFor('READY=1');
    const beforeStop = receiver.messages.length;
    d.signal('SIGTERM');
    await receiver.waitFor('STOPPING=1', beforeStop);
    assert.deepEqual(await d.exited, { code: 0, signal: null });
    assert.ok(!receiver.messages.some((m) => m.fields.includes('WATCHDOG=1')));
  });
});

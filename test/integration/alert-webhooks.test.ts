import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DaemonProcess } from '../helpers/daemon-process';
import { freePort } from '../helpers/prometheus-server';
import { WebhookReceiver } from '../helpers/webhook-receiver';

/**
 * Webhook alerts from the built daemon: its cloud cannot be reached, so sync goes offline, /readyz
 * turns 503 and, after `sync_offline_after`, the webhook receives BooksyncSyncOffline.
 */
describe('daemon alerts by webhook when the cloud is unreachable', function () {
  this.timeout(60_000);
  let dir: string;
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-it-alerts-'));
    receiver = new WebhookReceiver();
    await receiver.start();
  });

  afterEach(async () => {
    await daemon?.kill();
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends BooksyncSyncOffline to the webhook and answers /readyz 503 with the reason', async () => {
    const closedPort = await freePort();
    const configPath = path.join(dir, 'booksync.yaml');
    fs.writeFileSync(
      configPath,
      [
        'state_dir: ./state',
        'cloud:',
        `  url: http://127.0.0.1:${closedPort}/books`,
        'ops:',
        '  listen: 127.0.0.1:0',
        '  ready_offline_max: 1s',
        'alerts:',
        '  check_every: 1s',
        '  sync_offline_after: 1s',
        '  webhooks:',
        '    - { name: ops-json, format: json, url: { env: HOOK_URL }, token: { env: HOOK_TOKEN } }',
        'ledger:',
        '  company: { name: Test Company, currency: EUR }',
        '',
      ].join('\n'),
    );
    const hookUrl = `${receiver.url}/hooks/Zq8wSecretPath`;
    daemon = new DaemonProcess(['start', '--config', configPath], {
      env: { ...process.env, HOOK_URL: hookUrl, HOOK_TOKEN: 'tk_9f8e7d6c' },
    });
    const ops = String((await daemon.waitFor('ops.listening')).url);
    await daemon.waitFor((l) => l.event === 'sync.status' && l.state === 'offline');
    const hook = await receiver.next();
    assert.equal(hook.path, '/hooks/Zq8wSecretPath');
    assert.equal(hook.headers.authorization, 'Bearer tk_9f8e7d6c');
    const body = JSON.parse(hook.body) as Record<string, unknown>;
    assert.equal(body.alert, 'BooksyncSyncOffline');
    assert.equal(body.status, 'firing');
    assert.match(String(body.summary), /^sync has been offline since /);
    const ready = await fetch(`${ops}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { reason: string }).reason, 'sync_offline');
    await daemon.waitFor('alerts.sent');
    daemon.signal('SIGTERM');
    assert.equal((await daemon.exited).code, 0);
    assert.equal(receiver.received.length, 1, 'sent once while firing');
    assert.ok(
      !daemon.rawStdout.includes('Zq8wSecretPath') && !daemon.rawStdout.includes('tk_9f8e7d6c'),
      'neither the URL nor the token is logged',
    );
  });
});

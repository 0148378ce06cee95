import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpCloudAdmin } from '../helpers/cloud-admin';
import { CloudServer } from '../helpers/cloud-server';
import { DaemonProcess } from '../helpers/daemon-process';

/**
 * `cloud.url` changed under a running daemon (SIGHUP, no restart): embedded → a real cloud →
 * embedded again. Each cloud ends up with everything the books hold.
 */
const PASSWORD = 'local-api-pass-sw1';
const auth = 'Basic ' + Buffer.from(`books:${PASSWORD}`).toString('base64');

function config(cloudUrl: string): string {
  return [
    'state_dir: ./state',
    'local_api:',
    '  enabled: true',
    '  port: 0',
    '  username: books',
    '  password: { env: BOOKSYNC_LOCAL_PASSWORD }',
    'cloud:',
    `  url: ${cloudUrl}`,
    'sync:',
    '  mode: live',
    '  default: { direction: none }',
    '  types:',
    '    partner: { direction: both }',
    'ledger:',
    '  company: { name: Test Company, currency: EUR }',
    '',
  ].join('\n');
}

/**
 * Waits until `check` holds, checking again after each sync cycle that moved documents and after
 * each re-walk the daemon reports done: what every check here waits for is written by one of them,
 * and a line that came before a check is never waited for again (the mark is taken first). The
 * wait is on the daemon's own log, not on a cloud's feed, which never wakes for a change in the
 * books (express-pouchdb holds a quiet long-poll open past its `timeout`).
 */
async function daemonUntil(d: DaemonProcess, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    const mark = d.lines.length;
    if (await check()) return;
    await d.waitFor(
      (l) =>
        (l.event === 'sync.cycle' && Number(l.docs) > 0) ||
        (l.event === 'sync.reset' && l.phase === 'done'),
      mark,
    );
  }
}

describe('cloud.url switched on reload (built CLI as a child process)', function () {
  this.timeout(120_000);
  let cloud: CloudServer;
  let dir: string;
  let daemon: DaemonProcess | undefined;

  beforeEach(async () => {
    cloud = await CloudServer.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-switch-'));
  });
  afterEach(async () => {
    await daemon?.kill();
    await cloud.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('given a daemon on the embedded cloud, when cloud.url switches to a real URL and back on SIGHUP, then each cloud receives every document with no restart', async () => {
    const file = path.join(dir, 'booksync.yaml');
    fs.writeFileSync(file, config('embedded'));
    daemon = new DaemonProcess(['start', '--config', file], {
      env: { ...process.env, BOOKSYNC_LOCAL_PASSWORD: PASSWORD },
    });
    const d = daemon;
    const api = `http://127.0.0.1:${String((await d.waitFor('local_api.listening')).port)}/books`;
    const embedded1 = String((await d.waitFor('cloud.embedded')).url);
    await d.waitFor('daemon.ready');
    const put = async (doc: Record<string, unknown>) => {
      const res = await fetch(`${api}/${encodeURIComponent(String(doc._id))}`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(doc),
      });
      assert.equal(res.status, 201, await res.text());
    };
    // The embedded cloud's login, made at its first start (STATE_DIR/cloud-credentials, `user:password`).
    const embeddedAuth = () => ({
      authorization:
        'Basic ' +
        Buffer.from(
          fs.readFileSync(path.join(dir, 'state', 'cloud-credentials'), 'utf8').trim(),
        ).toString('base64'),
    });
    const partnersIn = async (dbUrl: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${dbUrl}/_all_docs`, { headers });
      return res.ok
        ? ((await res.json()) as { rows: Array<{ id: string }> }).rows
            .map((r) => r.id)
            .filter((id) => id.startsWith('partner:'))
        : [];
    };
    for (let i = 0; i < 5; i++)
      await put({
        _id: `partner:e${i}`,
        type: 'partner',
        name: `Embedded ${i}`,
        bank_accounts: [],
      });
    await daemonUntil(d, async () => (await partnersIn(embedded1, embeddedAuth())).length === 5);

    // Switch to the real cloud: every document goes there, the embedded cloud stops.
    const real = cloud.dbUrl('books');
    let mark = d.lines.length;
    fs.writeFileSync(file, config(real));
    d.signal('SIGHUP');
    await d.waitFor('config.reload', mark);
    await daemonUntil(d, async () => (await partnersIn(real)).length === 5);
    const reset = await d.waitFor('sync.reset', mark);
    assert.equal(reset.level, 'warn');
    assert.equal(
      await fetch(embedded1).then(
        () => 'up',
        () => 'down',
      ),
      'down',
      'the embedded cloud stopped',
    );
    // A document written in the real cloud comes down.
    await new HttpCloudAdmin(cloud.origin).put('books', {
      _id: 'partner:r0',
      type: 'partner',
      name: 'Real 0',
      bank_accounts: [],
    });
    const local = async (id: string) =>
      (await fetch(`${api}/${encodeURIComponent(id)}`, { headers: { authorization: auth } }))
        .status;
    await daemonUntil(d, async () => (await local('partner:r0')) === 200);

    // And back to embedded: it gets what it missed.
    mark = d.lines.length;
    fs.writeFileSync(file, config('embedded'));
    d.signal('SIGHUP');
    const embedded2 = String((await d.waitFor('cloud.embedded', mark)).url);
    await daemonUntil(d, async () => (await partnersIn(embedded2, embeddedAuth())).length === 6);
    assert.ok(
      d.lines
        .slice(mark)
        .some((l) => l.event === 'sync.reset' && /different cloud/.test(String(l.reason))),
    );
    d.signal('SIGTERM');
    assert.equal((await d.exited).code, 0);
  });
});

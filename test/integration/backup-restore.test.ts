import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { controlRequest } from '../../src/daemon';
import { CloudServer } from '../helpers/cloud-server';
import { DaemonProcess, runCli } from '../helpers/daemon-process';

/**
 * `booksync backup` of a running daemon and `booksync restore` into an empty state directory,
 * with the built CLI as child processes and a CouchDB-protocol cloud over real HTTP.
 */
const PASSWORD = 'local-pass-backup-7Qe';
const REPO = path.resolve(__dirname, '../../..');
const auth = 'Basic ' + Buffer.from(`books:${PASSWORD}`).toString('base64');
const ENV = { ...process.env, BOOKSYNC_LOCAL_PASSWORD: PASSWORD };

function siteConfig(stateDir: string, cloudUrl: string, inbox: string): string {
  return [
    `state_dir: ${stateDir}`,
    'local_api: { enabled: true, port: 0, username: books, password: { env: BOOKSYNC_LOCAL_PASSWORD } }',
    `cloud: { url: "${cloudUrl}" }`,
    'sync:',
    '  mode: live',
    '  default: { direction: none }',
    '  types:',
    '    account:        { direction: both, conflict: remote-wins }',
    '    journal:        { direction: both, conflict: remote-wins }',
    "    # local-wins: a restore that lost its bases would push the stale books over the cloud's newer version",
    '    partner:        { direction: both, conflict: local-wins }',
    '    move:           { direction: both, conflict: manual }',
    '    invoice:        { direction: both, conflict: manual }',
    '    payment:        { direction: both, conflict: manual }',
    '    statement_line: { direction: push, conflict: local-wins }',
    'bank:',
    '  connections:',
    '    - { name: demo, institution: demo-bank, provider: dropfolder, settings: { path: ' +
      JSON.stringify(inbox) +
      ' }, journal: BNK1, schedule: { every: 1d } }',
    'ledger:',
    '  company: { name: Demo Company, currency: EUR }',
    `  chart: ${JSON.stringify(path.join(REPO, 'config/demo-company.yaml'))}`,
    '  connections:',
    '    demo: { journal: BNK1, bank_account: "1010", suspense_account: "1099", currency: EUR }',
    '',
  ].join('\n');
}

/** Id → revision of every cloud document. */
async function cloudRevs(cloud: CloudServer): Promise<Map<string, string>> {
  return new Map((await cloud.allRaw('books')).map((d) => [String(d._id), String(d._rev)]));
}

describe('backup and restore (built CLI as child processes)', function () {
  this.timeout(180_000);
  let cloud: CloudServer;
  let home: string;
  const daemons: DaemonProcess[] = [];

  beforeEach(async () => {
    cloud = await CloudServer.start();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-backup-'));
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.kill()));
    await cloud.destroy();
    fs.rmSync(home, { recursive: true, force: true });
  });

  function site(
    name: string,
    stateDir = path.join(home, name, 'state'),
  ): { config: string; stateDir: string; inbox: string } {
    const inbox = path.join(home, name, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const config = path.join(home, name, 'booksync.yaml');
    fs.writeFileSync(config, siteConfig(stateDir, cloud.dbUrl('books'), inbox));
    return { config, stateDir, inbox };
  }

  async function start(config: string): Promise<{ daemon: DaemonProcess; api: string }> {
    const daemon = new DaemonProcess(['start', '--config', config], { env: ENV });
    daemons.push(daemon);
    const listening = await daemon.waitFor('local_api.listening');
    await daemon.waitFor('daemon.ready');
    return { daemon, api: `http://127.0.0.1:${String(listening.port)}/books` };
  }

  /** Runs sync cycles until one moves nothing either way (the engine's own "caught up"). */
  async function settle(stateDir: string): Promise<void> {
    for (;;) {
      const r = (await controlRequest(
        path.join(stateDir, 'control.sock'),
        'sync.now',
        {},
        60_000,
      )) as { push: { docs: number }; pull: { docs: number } };
      if (r.push.docs === 0 && r.pull.docs === 0) return;
    }
  }

  async function stop(daemon: DaemonProcess): Promise<void> {
    daemon.signal('SIGTERM');
    assert.equal((await daemon.exited).code, 0);
  }

  async function report(config: string): Promise<Record<string, unknown>> {
    const r = await runCli(['report', '--json', '--config', config], { env: ENV });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  async function putLocal(api: string, doc: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${api}/${encodeURIComponent(String(doc._id))}`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(doc),
    });
    assert.equal(res.status, 201, await res.text());
  }

  async function getLocal(api: string, id: string): Promise<Record<string, unknown> | null> {
    const res = await fetch(`${api}/${encodeURIComponent(id)}`, {
      headers: { authorization: auth },
    });
    return res.status === 404 ? null : ((await res.json()) as Record<string, unknown>);
  }

  it('a backup taken during a live sync and a bank import restores; the restored daemon balances and pushes nothing twice', async () => {
    const original = site('original');
    for (const f of fs.readdirSync(path.join(REPO, 'demo/statements')))
      fs.copyFileSync(path.join(REPO, 'demo/statements', f), path.join(original.inbox, f));
    const { daemon } = await start(original.config);
    // The import (and the posting of its lines, and sync pushing them) runs while the backup is taken.
    const backupFile = path.join(home, 'during.booksync.gz');
    const [fetched, backup] = await Promise.all([
      runCli(['fetch', 'demo', '--json', '--config', original.config], { env: ENV }),
      runCli(['backup', backupFile, '--config', original.config], { env: {} }),
    ]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /from the running daemon/);
    assert.equal(fs.statSync(backupFile).mode & 0o777, 0o600);
    await daemon.waitFor('daemon.backup');
    await settle(original.stateDir);
    const before = await report(original.config);
    await stop(daemon);
    const cloudBefore = await cloudRevs(cloud);
    assert.ok(cloudBefore.size > 20, `the cloud holds the books (${cloudBefore.size} documents)`);

    const restored = site('restored');
    const restore = await runCli(['restore', backupFile, '--state-dir', restored.stateDir]);
    assert.equal(restore.code, 0, restore.stderr);
    const second = await start(restored.config);
    await settle(restored.stateDir);
    await runCli(['fetch', '--config', restored.config], { env: ENV });
    await settle(restored.stateDir);
    const after = await report(restored.config);
    await stop(second.daemon);

    const tb = after.trial_balance as { balanced: boolean };
    assert.equal(tb.balanced, true);
    assert.deepEqual(after.trial_balance, before.trial_balance);
    assert.deepEqual(await cloudRevs(cloud), cloudBefore, 'no cloud document was written again');
  });

  it('restoring an older backup pulls what is newer in the cloud instead of pushing the stale version over it', async () => {
    const original = site('original');
    const { daemon, api } = await start(original.config);
    await putLocal(api, {
      _id: 'partner:restore-probe',
      type: 'partner',
      name: 'ACME SA (old)',
      bank_accounts: [],
    });
    await settle(original.stateDir);
    const backupFile = path.join(home, 'old.booksync.gz');
    const backup = await runCli(['backup', backupFile, '--config', original.config], {
      env: {},
    });
    assert.equal(backup.code, 0, backup.stderr);
    // After the backup: the books change acme (pushed), another writer adds globex in the cloud.
    const current = await getLocal(api, 'partner:restore-probe');
    await putLocal(api, { ...current, name: 'ACME SA (new)' });
    await settle(original.stateDir);
    const globex = await fetch(`${cloud.dbUrl('books')}/partner:cloud-only`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'partner',
        name: 'Globex GmbH',
        bank_accounts: [],
        updated_at: '2026-01-01T00:00:00.000Z',
        created_at: '2026-01-01T00:00:00.000Z',
      }),
    });
    assert.equal(globex.status, 201);
    await stop(daemon);
    const cloudBefore = await cloudRevs(cloud);
    assert.equal((await cloud.raw('books', 'partner:restore-probe'))?.name, 'ACME SA (new)');

    const restored = site('restored');
    assert.equal((await runCli(['restore', backupFile, '--state-dir', restored.stateDir])).code, 0);
    const second = await start(restored.config);
    await settle(restored.stateDir);
    assert.equal(
      (await getLocal(second.api, 'partner:restore-probe'))?.name,
      'ACME SA (new)',
      'the newer cloud version was pulled',
    );
    assert.equal((await getLocal(second.api, 'partner:cloud-only'))?.name, 'Globex GmbH');
    await stop(second.daemon);
    assert.deepEqual(
      await cloudRevs(cloud),
      cloudBefore,
      'the stale version was not pushed over the cloud',
    );
  });

  it('restore refuses a non-empty state directory, and a damaged or truncated backup writes nothing', async () => {
    const original = site('original');
    const { daemon } = await start(original.config);
    const backupFile = path.join(home, 'b.booksync.gz');
    assert.equal(
      (
        await runCli(['backup', backupFile, '--config', original.config], {
          env: {},
        })
      ).code,
      0,
    );
    const again = await runCli(['backup', backupFile, '--config', original.config], {
      env: {},
    });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists; give a new file name/);
    await stop(daemon);

    const busy = await runCli(['restore', backupFile, '--state-dir', original.stateDir]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /refusing to restore into .*: it is not empty/);

    const lines = gunzipSync(new Uint8Array(fs.readFileSync(backupFile)))
      .toString('utf8')
      .split('\n');
    const truncated = path.join(home, 'truncated.gz');
    fs.writeFileSync(truncated, new Uint8Array(gzipSync(lines.slice(0, -2).join('\n') + '\n')));
    const damaged = path.join(home, 'damaged.gz');
    fs.writeFileSync(
      damaged,
      new Uint8Array(
        gzipSync(lines.map((l, i) => (i === 3 ? l.replace(/"v":"./, '"v":"A') : l)).join('\n')),
      ),
    );
    for (const [file, message] of [
      [truncated, /truncated after line \d+/],
      [damaged, /checksum mismatch/],
    ] as const) {
      const target = path.join(home, 'target');
      const r = await runCli(['restore', file, '--state-dir', target]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(fs.existsSync(target), false, 'nothing was written');
    }
  });
});

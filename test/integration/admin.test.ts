import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DaemonProcess, runCli } from '../helpers/daemon-process';

/** Admin ergonomics with the built CLI: start failures, read commands without the unit's secrets. */
const SECRET = 'unit-only-pass-4Kz';

function config(dir: string, extra: string[] = []): string {
  const file = path.join(dir, 'booksync.yaml');
  fs.writeFileSync(
    file,
    [
      'state_dir: ./state',
      'local_api: { enabled: true, port: 0, username: books, password: { env: BOOKSYNC_LOCAL_PASSWORD } }',
      'cloud: { url: embedded }',
      ...extra,
      '',
    ].join('\n'),
  );
  return file;
}

/** The environment of an admin's shell: no BOOKSYNC_LOCAL_PASSWORD. */
const ADMIN_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'BOOKSYNC_LOCAL_PASSWORD'),
);
const UNIT_ENV = { ...process.env, BOOKSYNC_LOCAL_PASSWORD: SECRET };

describe('admin ergonomics (built CLI)', function () {
  this.timeout(120_000);
  let dir: string;
  const daemons: DaemonProcess[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-admin-'));
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.kill()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function startFailure(file: string): Promise<{ code: number | null; stderr: string }> {
    const r = await runCli(['start', '--config', file], { env: UNIT_ENV });
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack');
    return r;
  }

  it('a missing chart is a config error: start exits 78 with one line', async () => {
    const r = await startFailure(
      config(dir, ['ledger: { company: { name: T, currency: EUR }, chart: ./missing-chart.yaml }']),
    );
    assert.equal(r.code, 78);
    assert.match(r.stderr, /ledger\.chart: the chart file .*missing-chart\.yaml does not exist/);
  });

  it('a state_dir under a regular file fails check-config, and start exits 78 with one line', async () => {
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    const file = config(dir, ['ledger: { company: { name: T, currency: EUR } }']);
    fs.writeFileSync(
      file,
      fs.readFileSync(file, 'utf8').replace('state_dir: ./state', 'state_dir: ./file/state'),
    );
    const check = await runCli(['check-config', '--config', file], { env: UNIT_ENV });
    assert.equal(check.code, 78);
    assert.match(
      check.stdout,
      /state_dir: cannot create .*\/file\/state: .*\/file is a file, not a folder/,
    );
    const r = await startFailure(file);
    assert.equal(r.code, 78);
  });

  it('a start failure that is not the config (the books folder is a file) is one line too', async () => {
    const file = config(dir, ['ledger: { company: { name: T, currency: EUR } }']);
    fs.mkdirSync(path.join(dir, 'state'));
    fs.writeFileSync(path.join(dir, 'state', 'books'), 'not a folder');
    const r = await startFailure(file);
    assert.equal(r.code, 70);
    assert.match(r.stderr, /^booksync: cannot start: cannot create the books folder/);
  });

  it('status, report and conflicts work without the secrets the unit has; check-config still needs them', async () => {
    const file = config(dir, ['ledger: { company: { name: T, currency: EUR } }']);
    const daemon = new DaemonProcess(['start', '--config', file], { env: UNIT_ENV });
    daemons.push(daemon);
    await daemon.waitFor('daemon.ready');

    const status = await runCli(['status', '--json', '--config', file], { env: ADMIN_ENV });
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { running: boolean }).running, true);
    assert.ok(!status.stdout.includes(SECRET));
    for (const args of [
      ['report', '--json'],
      ['conflicts', '--json'],
      ['reconcile', '--pending', '--json'],
    ]) {
      const r = await runCli([...args, '--config', file], { env: ADMIN_ENV });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const check = await runCli(['check-config', '--config', file], { env: ADMIN_ENV });
    assert.equal(check.code, 78);
    assert.match(check.stdout, /environment variable BOOKSYNC_LOCAL_PASSWORD is not set/);

    daemon.signal('SIGTERM');
    assert.equal((await daemon.exited).code, 0);
    const offline = await runCli(['status', '--json', '--config', file], { env: ADMIN_ENV });
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal((JSON.parse(offline.stdout) as { running: boolean }).running, false);
  });
});

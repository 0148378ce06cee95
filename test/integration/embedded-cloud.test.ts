import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StatusReport } from '../../src/daemon/status';
import { DaemonProcess, runCli } from '../helpers/daemon-process';

/**
 * The embedded cloud as a local user meets it: a port on 127.0.0.1 anyone on the machine can
 * reach, so it must ask for the login the daemon generated, and the files that could reveal
 * the port or the login must be closed to other users.
 */
describe('embedded cloud: login and file modes (built CLI as a child process)', function () {
  this.timeout(90_000);
  let dir: string;
  let configPath: string;
  let daemon: DaemonProcess | undefined;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-cloud-login-'));
    configPath = path.join(dir, 'booksync.yaml');
    fs.mkdirSync(path.join(dir, 'logs'));
    fs.writeFileSync(
      configPath,
      [
        'state_dir: ./state',
        'log:',
        '  level: info',
        '  file: ./logs/booksync.log',
        'cloud:',
        '  url: embedded',
        'sync:',
        '  mode: live',
        '  types:',
        '    partner: { direction: both, conflict: remote-wins }',
        'ledger:',
        '  company: { name: Test Company, currency: EUR }',
        '',
      ].join('\n'),
    );
  });

  afterEach(async () => {
    await daemon?.kill();
    daemon = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const basic = (login: string) => `Basic ${Buffer.from(login).toString('base64')}`;

  it('answers 401 without the generated login, serves and syncs with it, and keeps state, login and log private', async () => {
    daemon = new DaemonProcess(['start', '--config', configPath]);
    const started = await daemon.waitFor('cloud.embedded');
    await daemon.waitFor('daemon.ready');
    const url = String(started.url);
    const credentialsFile = String(started.credentials_file);
    const stateDir = path.join(dir, 'state');
    assert.equal(credentialsFile, path.join(stateDir, 'cloud-credentials'));

    assert.equal(fs.statSync(stateDir).mode & 0o777, 0o700, 'state directory 0700');
    assert.equal(fs.statSync(credentialsFile).mode & 0o777, 0o600, 'credentials file 0600');
    assert.equal(
      fs.statSync(path.join(dir, 'logs', 'booksync.log')).mode & 0o037,
      0,
      'log file 0640 or stricter',
    );
    const login = fs.readFileSync(credentialsFile, 'utf8').trim();
    assert.match(login, /^booksync:[A-Za-z0-9_-]{32}$/);

    // A local user without the login: the database, the server root, a planted partner.
    const anonymous = await fetch(url);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assert.equal((await fetch(new URL('/_all_dbs', url))).status, 401);
    const wrong = await fetch(url, { headers: { authorization: basic('booksync:guess') } });
    assert.equal(wrong.status, 401);
    const planted = await fetch(`${url}/partner:planted`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'partner',
        name: 'Mallory',
        bank_accounts: [{ iban: 'DE89370400440532013000' }],
      }),
    });
    assert.equal(planted.status, 401);

    // The person who read the file: a write that reaches the books through the running sync.
    const mark = daemon.lines.length;
    const put = await fetch(`${url}/partner:acme`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: basic(login) },
      body: JSON.stringify({ type: 'partner', name: 'ACME SA', bank_accounts: [] }),
    });
    assert.equal(put.status, 201, await put.text());
    await daemon.waitFor(
      (l) => l.event === 'sync.cycle' && l.direction === 'pull' && Number(l.docs) > 0,
      mark,
    );

    const status = JSON.parse(
      (await runCli(['status', '--json', '--config', configPath])).stdout,
    ) as StatusReport;
    assert.equal(
      status.services.cloud.credentials_file,
      credentialsFile,
      'status says where the login is',
    );
    assert.equal(
      status.store.documents.partner,
      1,
      'the partner written with the login reached the books, the planted one did not',
    );
    assert.notEqual(status.services.sync.state, 'auth_error');

    daemon.signal('SIGTERM');
    assert.equal((await daemon.exited).code, 0);
    const logText =
      daemon.rawStdout + fs.readFileSync(path.join(dir, 'logs', 'booksync.log'), 'utf8');
    const password = login.slice('booksync:'.length);
    assert.ok(!logText.includes(password), 'the generated password is never logged');

    // Stopped: status still names the file; a restart keeps the same login.
    const offline = JSON.parse(
      (await runCli(['status', '--json', '--config', configPath])).stdout,
    ) as StatusReport;
    assert.equal(offline.services.cloud.credentials_file, credentialsFile);
    daemon = new DaemonProcess(['start', '--config', configPath]);
    const again = await daemon.waitFor('cloud.embedded');
    assert.equal(fs.readFileSync(credentialsFile, 'utf8').trim(), login);
    assert.equal(
      (await fetch(String(again.url), { headers: { authorization: basic(login) } })).status,
      200,
    );
  });

  it('tightens a state directory and a log file left readable by others', async () => {
    fs.mkdirSync(path.join(dir, 'state'), { mode: 0o755 });
    fs.chmodSync(path.join(dir, 'state'), 0o755);
    fs.writeFileSync(path.join(dir, 'logs', 'booksync.log'), '');
    fs.chmodSync(path.join(dir, 'logs', 'booksync.log'), 0o644);
    daemon = new DaemonProcess(['start', '--config', configPath]);
    await daemon.waitFor('daemon.ready');
    assert.equal(fs.statSync(path.join(dir, 'state')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, 'logs', 'booksync.log')).mode & 0o777, 0o640);
    assert.ok(daemon.lines.some((l) => l.event === 'daemon.state_dir_mode' && l.level === 'warn'));
  });

  it('refuses to start on a credentials file it cannot read as user:password, and leaves it as it was', async () => {
    fs.mkdirSync(path.join(dir, 'state'), { mode: 0o700 });
    const file = path.join(dir, 'state', 'cloud-credentials');
    fs.writeFileSync(file, 'no colon here\n', { mode: 0o600 });
    const r = await runCli(['start', '--config', configPath]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /cloud-credentials is not one line 'user:password'/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'no colon here\n');
  });
});

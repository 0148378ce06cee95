import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { controlRequest } from '../../src/daemon/control';
import type { StatusReport } from '../../src/daemon/status';
import { DaemonProcess, runCli } from '../helpers/daemon-process';

/**
 * The built CLI as an admin uses it: check-config, start, status over the control socket,
 * SIGHUP reloads (good and bad), SIGTERM, a second instance, a crash.
 */
describe('daemon lifecycle (built CLI as a child process)', function () {
  this.timeout(60_000);
  let dir: string;
  let configPath: string;
  const running: DaemonProcess[] = [];

  function writeConfig(body: string): void {
    fs.writeFileSync(configPath, body);
  }

  /** The keys every config needs besides the ones a test is about: where the cloud is, the company. */
  const REQUIRED = [
    'cloud:',
    '  url: embedded',
    'ledger:',
    '  company: { name: Test Company, currency: EUR }',
    '',
  ].join('\n');

  function baseConfig(level = 'info'): string {
    return ['state_dir: ./state', 'log:', `  level: ${level}`, REQUIRED].join('\n');
  }

  function start(extraEnv: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): DaemonProcess {
    const d = new DaemonProcess(['start', '--config', configPath], {
      env: { ...process.env, ...extraEnv },
      nodeArgs,
    });
    running.push(d);
    return d;
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-it-'));
    configPath = path.join(dir, 'booksync.yaml');
    writeConfig(baseConfig());
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.kill()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('check-config prints ok and exits 0 for a valid file', async () => {
    const r = await runCli(['check-config', '--config', configPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok\n');
  });

  it('check-config prints every error with file:line:col and exits 78', async () => {
    writeConfig(
      ['state_dir: ./state', 'log:', '  levle: info', 'sync:', '  mode: sometimes', REQUIRED].join(
        '\n',
      ),
    );
    const r = await runCli(['check-config', '--config', configPath]);
    assert.equal(r.code, 78);
    assert.match(
      r.stdout,
      new RegExp(`${escape(configPath)}:3:3: log\\.levle: .*did you mean 'level'`),
    );
    assert.match(r.stdout, new RegExp(`${escape(configPath)}:5:9: sync\\.mode: `));
  });

  it('check-config on a missing file exits 78 and names the file', async () => {
    const r = await runCli(['check-config', '--config', path.join(dir, 'nope.yaml')]);
    assert.equal(r.code, 78);
    assert.match(r.stdout + r.stderr, /nope\.yaml/);
  });

  it('start → ready → status over the socket → SIGHUP good, then bad → SIGTERM exits 0', async () => {
    const daemon = start();
    const ready = await daemon.waitFor('daemon.ready');
    const socket = String(ready.socket);
    assert.equal(
      fs.statSync(socket).mode & 0o777,
      0o600,
      'control socket is private to the service user',
    );

    const status = await runCli(['status', '--json', '--config', configPath]);
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as StatusReport;
    assert.equal(report.running, true);
    assert.equal(report.pid, daemon.pid);
    assert.equal(typeof report.uptime_s, 'number');
    assert.equal(report.store.total, 0);

    const human = await runCli(['status', '--config', configPath]);
    assert.match(human.stdout, new RegExp(`running \\(pid ${daemon.pid}`));

    // A good reload: debug level takes effect (debug lines may now appear; the reload is logged).
    writeConfig(baseConfig('debug'));
    let mark = daemon.lines.length;
    daemon.signal('SIGHUP');
    await daemon.waitFor('config.reload', mark);

    // A bad reload: logged with its errors, the old config stays in force and the daemon serves on.
    writeConfig(['state_dir: ./state', 'log:', '  level: loud', REQUIRED].join('\n'));
    mark = daemon.lines.length;
    daemon.signal('SIGHUP');
    const invalid = await daemon.waitFor('config.invalid', mark);
    assert.ok(
      Array.isArray(invalid.errors) &&
        (invalid.errors as string[]).some((e) => /:3:10: log\.level: /.test(e)),
      JSON.stringify(invalid),
    );
    // The CLI cannot read the (now invalid) file to find the daemon, so it says what is wrong...
    const cli = await runCli(['status', '--json', '--config', configPath]);
    assert.equal(cli.code, 78);
    // ...while the daemon, asked over its socket, still runs on the last good config.
    const inForce = (await controlRequest(socket, 'status')) as { config: Record<string, unknown> };
    assert.equal(inForce.config.log_level, 'debug', 'the last good config stays in force');

    daemon.signal('SIGTERM');
    const { code } = await daemon.exited;
    assert.equal(code, 0);
    assert.ok(daemon.lines.some((l) => l.event === 'daemon.stop'));
    assert.ok(!fs.existsSync(socket), 'socket removed on exit');
    for (const line of daemon.lines)
      assert.notEqual(line.event, 'non-json', `every stdout line is JSON: ${line.msg}`);
  });

  it('a second instance on the same state directory is refused with a clear message', async () => {
    const first = start();
    await first.waitFor('daemon.ready');
    const second = await runCli(['start', '--config', configPath]);
    assert.equal(second.code, 75);
    assert.match(
      second.stderr,
      new RegExp(`another booksync \\(pid ${first.pid}\\) is already running with state directory`),
    );
    assert.doesNotMatch(
      second.stderr + second.stdout,
      /LOCK|IO error| {4}at /,
      'no LevelDB stack trace',
    );
    // The first one is unharmed.
    const status = await runCli(['status', '--json', '--config', configPath]);
    assert.equal((JSON.parse(status.stdout) as StatusReport).pid, first.pid);
  });

  it('status works when the daemon is not running (reads the books directly)', async () => {
    const r = await runCli(['status', '--json', '--config', configPath]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as StatusReport;
    assert.equal(report.running, false);
    assert.equal(report.store.total, 0);
  });

  it('an uncaught error is one JSON line with secrets masked, and the exit is non-zero', async () => {
    const envSecret = 'env-secret-Zq81x';
    const fileSecret = 'file-secret-Kp07w';
    const creds = path.join(dir, 'creds');
    fs.mkdirSync(creds);
    fs.writeFileSync(path.join(creds, 'cloud-token'), `${fileSecret}\n`);
    writeConfig(
      [
        'state_dir: ./state',
        'local_api:',
        '  enabled: false',
        '  username: books',
        '  password: { env: TEST_SECRET_ENV }',
        'cloud:',
        '  url: http://127.0.0.1:9/books',
        '  auth:',
        '    username: booksync',
        '    password: { file: cloud-token }',
        'sync:',
        '  mode: interval',
        '  interval: 1d',
        'ledger:',
        '  company: { name: Test Company, currency: EUR }',
        '',
      ].join('\n'),
    );
    const daemon = start(
      {
        TEST_SECRET_ENV: envSecret,
        TEST_SECRET_FILE: path.join(creds, 'cloud-token'),
        CREDENTIALS_DIRECTORY: creds,
      },
      ['--require', path.resolve(__dirname, '../helpers/crash-after-ready.js')],
    );
    const crash = await daemon.waitFor('daemon.crash');
    assert.equal(crash.level, 'error');
    const { code } = await daemon.exited;
    assert.notEqual(code, 0);
    assert.match(String(crash.msg), /cloud refused password \[redacted\] and token \[redacted\]/);
    const everything = daemon.rawStdout + daemon.rawStderr;
    assert.ok(!everything.includes(envSecret), 'env secret never printed');
    assert.ok(!everything.includes(fileSecret), 'file secret never printed');
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');
const FIXTURES = path.join(REPO, 'test', 'fixtures', 'systemd');
/** The Debian 12 root `.ci/run` makes once (debootstrap --variant=minbase ... bookworm). */
export const TEST_ROOTFS =
  process.env.BOOKSYNC_TEST_ROOTFS ?? path.join(REPO, '.cache', 'debian-bookworm');

const CONFIG = `state_dir: /var/lib/booksync
log:
  level: info
local_api:
  enabled: true
  host: 127.0.0.1
  port: 5985
  username: books
  password: { file: local-api-password }
cloud:
  url: embedded
ledger:
  company: { name: Test Company, currency: EUR }
`;

/**
 * The test's own settings on top of the shipped unit: the secret, a watchdog short enough to wait
 * for, and a record of how each run ended (systemd forgets a stopped unit's exit status).
 */
const DROP_IN = `[Service]
LoadCredential=local-api-password:/etc/booksync/credentials/local-api-password
WatchdogSec=6s
ExecStopPost=+/bin/sh -c 'echo "$SERVICE_RESULT $EXIT_CODE $EXIT_STATUS" >> /results/exits'
`;

function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('sh', ['-c', 'command -v systemd-nspawn']).status !== 0) return 'no systemd-nspawn';
  if (!fs.existsSync(path.join(TEST_ROOTFS, '.complete')))
    return `no test root at ${TEST_ROOTFS} (.ci/run makes it)`;
  return undefined;
}

/**
 * Installs with scripts/install.sh --destdir over a config left as the old installer wrote it
 * (0640 root:root, which the dynamic user cannot read), then adds the test's secret, drop-in and
 * check unit. Returns what install.sh printed.
 */
function prepareInstall(destdir: string, secret: string): string {
  fs.mkdirSync(path.join(destdir, 'etc/booksync'), { recursive: true });
  fs.writeFileSync(path.join(destdir, 'etc/booksync/booksync.yaml'), CONFIG, { mode: 0o640 });
  const printed = execFileSync(
    'bash',
    [path.join(REPO, 'scripts', 'install.sh'), '--destdir', destdir, '--no-systemctl'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  fs.writeFileSync(
    path.join(destdir, 'etc/booksync/credentials/local-api-password'),
    `${secret}\n`,
    { mode: 0o600 },
  );
  const units = path.join(destdir, 'etc/systemd/system');
  fs.mkdirSync(path.join(units, 'booksync.service.d'), { recursive: true });
  fs.writeFileSync(path.join(units, 'booksync.service.d', 'test.conf'), DROP_IN);
  fs.copyFileSync(
    path.join(FIXTURES, 'booksync-checks.service'),
    path.join(units, 'booksync-checks.service'),
  );
  fs.mkdirSync(path.join(units, 'multi-user.target.wants'), { recursive: true });
  fs.symlinkSync(
    '../booksync-checks.service',
    path.join(units, 'multi-user.target.wants', 'booksync-checks.service'),
  );
  const lib = path.join(destdir, 'usr/local/lib/booksync-checks');
  fs.mkdirSync(lib, { recursive: true });
  fs.copyFileSync(path.join(FIXTURES, 'run-checks.sh'), path.join(lib, 'run-checks.sh'));
  fs.chmodSync(path.join(lib, 'run-checks.sh'), 0o755);
  return printed;
}

/** Boots the root with the install laid over it (overlayfs, so the cached root stays clean) until the checks power it off. */
function boot(work: string, results: string): Promise<{ code: number | null; output: string }> {
  const merged = path.join(work, 'merged');
  for (const d of ['upper', 'ovl-work', 'merged']) fs.mkdirSync(path.join(work, d));
  execFileSync('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=${path.join(work, 'install')}:${TEST_ROOTFS},upperdir=${path.join(work, 'upper')},workdir=${path.join(work, 'ovl-work')}`,
    merged,
  ]);
  const args = [
    '-b',
    '--register=no',
    '--keep-unit',
    '--console=pipe',
    '-D',
    merged,
    '--bind-ro=/usr/bin/node',
    `--bind=${results}:/results`,
  ];
  return new Promise((resolve) => {
    const child = spawn('systemd-nspawn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 200_000);
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, output });
    });
  });
}

/**
 * scripts/install.sh into a Debian 12 root booted with systemd-nspawn (systemd 252 as PID 1); the
 * check unit inside (test/fixtures/systemd/run-checks.sh) drives systemctl and writes its findings.
 * Runs as root where systemd-nspawn and the root exist. BOOKSYNC_KEEP_TEST_ROOT=1 keeps the work
 * folder (findings, journal) for a look after a failure.
 */
describe('booksync under a real systemd (Debian 12 booted with systemd-nspawn)', function () {
  this.timeout(300_000);
  let work: string;
  let findings: Record<string, string> = {};
  /** How each run of booksync.service ended: "SERVICE_RESULT EXIT_CODE EXIT_STATUS". */
  let exits: string[] = [];
  let installOutput = '';
  let secret: string;

  before(async function () {
    const missing = missingPrerequisite();
    if (missing) {
      console.log(`      (skipped: ${missing})`);
      this.skip();
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-nspawn-'));
    secret = crypto.randomBytes(12).toString('hex');
    const results = path.join(work, 'results');
    fs.mkdirSync(results);
    installOutput = prepareInstall(path.join(work, 'install'), secret);
    const run = await boot(work, results);
    const file = path.join(results, 'findings');
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    findings = Object.fromEntries(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    if (findings.done !== 'yes') {
      throw new Error(
        `the checks did not finish (nspawn exit ${run.code}); findings:\n${text}\nconsole:\n${run.output.slice(-4000)}`,
      );
    }
    exits = fs.readFileSync(path.join(results, 'exits'), 'utf8').trim().split('\n');
    const journal = path.join(results, 'booksync.journal');
    assert.ok(
      !fs.readFileSync(journal, 'utf8').includes(secret),
      'the secret never reaches the journal',
    );
  });

  after(() => {
    if (!work) return;
    spawnSync('umount', [path.join(work, 'merged')]);
    if (!process.env.BOOKSYNC_KEEP_TEST_ROOT) fs.rmSync(work, { recursive: true, force: true });
  });

  it('makes a config the old installer left unreadable (0640) readable by the dynamic user, keeps its content, and runs the daemon as that user, not root', () => {
    assert.match(
      installOutput,
      /kept the existing \/etc\/booksync\/booksync.yaml\nmade \/etc\/booksync\/booksync.yaml readable by the service's dynamic user \(mode now 644\)/,
    );
    assert.equal(findings.config_mode, '644');
    assert.equal(findings.api_answers, '200 401', 'the daemon runs with the test config');
    assert.notEqual(findings.user, 'root');
  });

  it('completes the start job only once the daemon is ready (Type=notify), and shows a one-line StatusText', () => {
    assert.equal(findings.start_rc, '0');
    assert.equal(
      findings.ready_logged_at_start,
      '1',
      'daemon.ready was logged when systemctl start returned',
    );
    assert.equal(findings.active, 'active/running');
    assert.match(
      findings.status_text,
      /^sync (online|syncing|offline); 0 bank connections ok; 0 open conflicts$/,
    );
    assert.equal(findings.watchdog_usec, '6s');
  });

  it('uses a LoadCredential= secret given as { file: NAME }', () => {
    assert.equal(
      findings.api_answers,
      '200 401',
      'the local API takes the secret and refuses another password',
    );
    assert.equal(findings.cli_check_config, 'ok', 'booksync check-config as root finds the secret');
    assert.equal(findings.cli_status, 'true', 'booksync status as root reaches the running daemon');
  });

  it('reloads with systemctl reload on a system without /bin/kill in the unit, keeping the same process', () => {
    assert.equal(findings.reload_rc, '0');
    assert.equal(findings.reloads_logged, '1');
    assert.equal(findings.active_after_reload, 'active/running');
    assert.equal(findings.pid_after_reload_same, 'yes');
  });

  it('keeps a healthy daemon past two watchdog periods, and restarts a hung one (SIGSTOP) through the watchdog', () => {
    assert.equal(findings.healthy_restarts, '0');
    assert.equal(findings.healthy_same_pid, 'yes');
    assert.equal(exits.length, 4, `one line per run: ${exits.join(' | ')}`);
    assert.match(
      exits[0],
      /^watchdog (killed|dumped) ABRT$/,
      'the first run was ended by the watchdog',
    );
    assert.ok(
      Number(findings.restarts_after_hang) >= 1,
      `NRestarts ${findings.restarts_after_hang}`,
    );
    assert.ok(Number(findings.watchdog_timeout_logged) >= 1, 'systemd logged a watchdog timeout');
    assert.equal(findings.active_after_hang, 'active/running');
  });

  it('stops cleanly with exit 0', () => {
    assert.equal(findings.stop_rc, '0');
    assert.equal(exits[1], 'success exited 0');
    assert.equal(findings.stopping_logged, '1');
  });

  it('fails a start with a config error or an unreadable config with 78 and does not restart-loop', () => {
    assert.notEqual(findings.bad_start_rc, '0');
    assert.equal(findings.bad_state, 'failed/failed 78');
    assert.equal(exits[2], 'exit-code exited 78');
    assert.notEqual(findings.unreadable_start_rc, '0');
    assert.equal(findings.unreadable_state, 'failed/failed 78');
    assert.equal(exits[3], 'exit-code exited 78');
  });

  it('reaches an exposure of at most 2.5 in systemd-analyze security', () => {
    assert.ok(
      Number(findings.exposure) > 0 && Number(findings.exposure) <= 2.5,
      `exposure ${findings.exposure}`,
    );
  });
});

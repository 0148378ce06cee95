import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../../src/daemon/runtime-settings';

const REPO = path.resolve(__dirname, '../../..');
const UNIT = path.join(REPO, 'systemd', 'booksync.service');

describe('systemd unit', () => {
  const unit = fs.readFileSync(UNIT, 'utf8');
  const directive = (name: string) =>
    unit
      .split('\n')
      .filter((l) => l.startsWith(`${name}=`))
      .map((l) => l.slice(name.length + 1));

  it('runs the CLI that scripts/install.sh installs as Type=notify with a watchdog, reloads with SIGHUP without /bin/kill and restarts on failure but not on a config error', () => {
    const install = fs.readFileSync(path.join(REPO, 'scripts', 'install.sh'), 'utf8');
    assert.match(install, /prefix="\$destdir\/opt\/booksync"/);
    assert.deepEqual(directive('ExecStart'), [
      `/usr/bin/node ${DAEMON_NODE_FLAGS.join(' ')} /opt/booksync/dist/src/cli/main.js start --config /etc/booksync/booksync.yaml`,
    ]);
    assert.ok(
      fs.existsSync(path.join(REPO, 'dist', 'src', 'cli', 'main.js')),
      'the path under /opt/booksync exists in the build',
    );
    assert.deepEqual(directive('ExecReload'), [
      `/usr/bin/node -e "process.kill(Number(process.env.MAINPID), 'SIGHUP')"`,
    ]);
    assert.deepEqual(directive('Type'), ['notify']);
    assert.deepEqual(directive('NotifyAccess'), ['main']);
    assert.equal(directive('WatchdogSec').length, 1);
    // RestartPreventExitStatus= does not cover ExecStartPre=: a config check there would restart-loop.
    assert.deepEqual(directive('ExecStartPre'), []);
    assert.deepEqual(directive('Restart'), ['on-failure']);
    assert.deepEqual(directive('RestartPreventExitStatus'), ['78']);
    for (const d of [
      'StateDirectory',
      'ConfigurationDirectory',
      'DynamicUser',
      'ProtectSystem',
      'NoNewPrivileges',
      'PrivateTmp',
    ]) {
      assert.equal(directive(d).length, 1, `${d} is set`);
    }
    assert.deepEqual(directive('ProtectSystem'), ['strict']);
  });

  it("given the daemon's runtime settings, then the unit and npm start run node with exactly those flags and that environment", () => {
    const env = Object.entries(DAEMON_ENV).map(([k, v]) => `${k}=${v}`);
    for (const e of env) assert.ok(directive('Environment').includes(e), `the unit sets ${e}`);
    const start = (
      JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts.start;
    assert.equal(
      start,
      `${env.join(' ')} node ${DAEMON_NODE_FLAGS.join(' ')} dist/src/cli/main.js start --config config/booksync.yaml`,
    );
  });

  /** The unit as systemd-analyze reads it: with this machine's node when /usr/bin/node is absent (verify checks ExecStart's binary). */
  function analyzableUnit(ctx: Mocha.Context): string {
    const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
    if (which.status !== 0) ctx.skip();
    if (fs.existsSync('/usr/bin/node')) return UNIT;
    const unitPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'unit-')), 'booksync.service');
    fs.writeFileSync(
      unitPath,
      fs.readFileSync(UNIT, 'utf8').split('/usr/bin/node').join(process.execPath),
    );
    return unitPath;
  }

  it('passes systemd-analyze verify where that tool exists', function () {
    const out = execFileSync('systemd-analyze', ['verify', analyzableUnit(this)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.equal(out.trim(), '');
  });

  it('reaches an exposure of at most 2.5 in systemd-analyze security --offline=true, and says why each remaining item stays open', function () {
    const out = execFileSync(
      'systemd-analyze',
      ['security', '--offline=true', '--no-pager', analyzableUnit(this)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exposure = Number(/Overall exposure level for \S+: ([0-9.]+)/.exec(out)?.[1]);
    assert.ok(exposure > 0 && exposure <= 2.5, `exposure ${exposure}`);
    const open = out
      .split('\n')
      .filter((l) => l.startsWith('✗'))
      .map((l) => l.slice(2).split(/[= ]/)[0]);
    const explained = unit
      .split('\n')
      .filter((l) => l.startsWith('# - '))
      .join('\n');
    for (const setting of open)
      assert.ok(explained.includes(setting), `the unit says why ${setting} stays open`);
  });
});

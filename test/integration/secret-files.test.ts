import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/daemon-process';

/** A secret file other users can read, as an admin meets it: check-config and start refuse it with the fix. */
describe('secret files open to other users (built CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  let configPath: string;
  let secretFile: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-secret-file-'));
    configPath = path.join(dir, 'booksync.yaml');
    secretFile = path.join(dir, 'cloud-token');
    fs.writeFileSync(secretFile, 'file-secret-Kp07w\n');
    fs.chmodSync(secretFile, 0o644);
    fs.writeFileSync(
      configPath,
      [
        'state_dir: ./state',
        'cloud:',
        '  url: http://127.0.0.1:9/books',
        '  auth: { username: booksync, password: { file: cloud-token } }',
        'ledger:',
        '  company: { name: Test Company, currency: EUR }',
        '',
      ].join('\n'),
    );
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const expected = () =>
    new RegExp(
      `${configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:\\d+: cloud\\.auth\\.password: secret file ${secretFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has mode 0644: .*chmod 600 ${secretFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
    );

  it('check-config and start exit 78 naming the file, its mode and the chmod; after the chmod both accept it', async () => {
    const check = await runCli(['check-config', '--config', configPath]);
    assert.equal(check.code, 78);
    assert.match(check.stdout, expected());
    const start = await runCli(['start', '--config', configPath]);
    assert.equal(start.code, 78);
    assert.match(start.stderr, expected());
    assert.ok(!fs.existsSync(path.join(dir, 'state', 'books')), 'nothing was opened');
    for (const r of [check, start])
      assert.ok(
        !(r.stdout + r.stderr).includes('file-secret-Kp07w'),
        'the secret is never printed',
      );

    fs.chmodSync(secretFile, 0o600);
    const again = await runCli(['check-config', '--config', configPath]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  it('accepts the same file under $CREDENTIALS_DIRECTORY', async () => {
    const creds = path.join(dir, 'credentials');
    fs.mkdirSync(creds);
    fs.renameSync(secretFile, path.join(creds, 'cloud-token'));
    const r = await runCli(['check-config', '--config', configPath], {
      env: { ...process.env, CREDENTIALS_DIRECTORY: creds },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});

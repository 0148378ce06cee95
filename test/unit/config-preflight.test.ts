import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { firstInvalidUtf8 } from '../../src/config/utf8';

/** `LINE:COL: key.path: message` of every issue of loading `text` with preflight. */
function issues(dir: string, text: string, preflight = true): string[] {
  const file = path.join(dir, 'booksync.yaml');
  fs.writeFileSync(file, text);
  try {
    loadConfig(file, { env: {}, preflight });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`);
  }
  return [];
}

const REQUIRED = 'cloud: { url: embedded }\nledger: { company: { name: Demo, currency: EUR } }\n';

describe('check-config: what start needs', function () {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-preflight-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a state_dir under a regular file is refused, with the file named', () => {
    fs.writeFileSync(path.join(dir, 'plain-file'), 'x');
    assert.deepEqual(issues(dir, `state_dir: ./plain-file/state\n${REQUIRED}`), [
      `1:12: state_dir: cannot create ${dir}/plain-file/state: ${dir}/plain-file is a file, not a folder`,
    ]);
  });

  it('a state_dir that exists as a file is refused; one that can be created passes and is not created', () => {
    fs.writeFileSync(path.join(dir, 'state'), 'x');
    assert.deepEqual(issues(dir, `state_dir: ./state\n${REQUIRED}`), [
      `1:12: state_dir: ${dir}/state is not a folder`,
    ]);
    assert.deepEqual(issues(dir, `state_dir: ./new/deeper\n${REQUIRED}`), []);
    assert.equal(fs.existsSync(path.join(dir, 'new')), false, 'check-config changes nothing');
  });

  it('a missing log folder, chart file and drop folder are each reported at their key', () => {
    const text = [
      'state_dir: ./state',
      'log: { file: ./logs/booksync.jsonl }',
      'cloud: { url: embedded }',
      'ledger: { company: { name: Demo, currency: EUR }, chart: ./chart.yaml }',
      'bank:',
      '  connections:',
      '    - { name: inbox, provider: dropfolder, settings: { path: ./inbox }, journal: BNK1 }',
      '    - { name: off, provider: dropfolder, settings: { path: ./elsewhere }, journal: BNK2, enabled: false }',
      '',
    ].join('\n');
    assert.deepEqual(issues(dir, text), [
      `2:14: log.file: the log folder ${dir}/logs does not exist (create it first)`,
      `4:58: ledger.chart: the chart file ${dir}/chart.yaml does not exist`,
      `7:62: bank.connections[0].settings.path: the drop folder ${dir}/inbox does not exist (create it first)`,
    ]);
    fs.mkdirSync(path.join(dir, 'logs'));
    fs.mkdirSync(path.join(dir, 'inbox'));
    fs.writeFileSync(path.join(dir, 'chart.yaml'), 'accounts: []\n');
    assert.deepEqual(issues(dir, text), []);
    assert.deepEqual(
      issues(dir, text.replace('./logs/', './nowhere/'), false),
      [],
      'only start and check-config look at the disk',
    );
  });

  it('invalid UTF-8 is reported with its line and column instead of being replaced', () => {
    const file = path.join(dir, 'booksync.yaml');
    fs.writeFileSync(
      file,
      new Uint8Array([...Buffer.from(`${REQUIRED}state_dir: ./caf`), 0xe9, 0x0a]),
    );
    assert.throws(
      () => loadConfig(file, { env: {} }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues.map((i) => [i.line, i.col, i.message]),
          [[3, 17, 'invalid UTF-8 (byte 0xe9); save the file as UTF-8']],
        );
        return true;
      },
    );
    assert.equal(fs.readdirSync(dir).length, 1, 'no folder was made from the mangled name');
  });

  it('UTF-8 checks: overlong forms, surrogates and truncated sequences are invalid; real text is not', () => {
    assert.equal(firstInvalidUtf8(Buffer.from('Zürich — 東京 🏦', 'utf8')), -1);
    assert.equal(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0xaf])), 1, 'overlong /');
    assert.equal(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80])), 0, 'a UTF-16 surrogate');
    assert.equal(
      firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xe2, 0x82])),
      2,
      'cut short at the end',
    );
    assert.equal(firstInvalidUtf8(Buffer.from([0xf4, 0x90, 0x80, 0x80])), 0, 'above U+10FFFF');
  });

  it('a bank schedule faster than the 1m floor is refused with the floor named', () => {
    const text = (schedule: string) =>
      `${REQUIRED}bank: { connections: [ { name: a, provider: dropfolder, settings: { path: . }, journal: BNK1, schedule: ${schedule} } ] }\n`;
    assert.deepEqual(issues(dir, text('{ cron: "* * * * * *" }'), false), [
      "3:113: bank.connections[0].schedule.cron: '* * * * * *' fires more than once a minute, faster than the floor of 1m between bank runs (give the seconds field one value, e.g. '0 */5 * * * *')",
    ]);
    assert.match(
      issues(dir, text('{ cron: "*/30 * * * * *" }'), false)[0],
      /faster than the floor of 1m/,
    );
    assert.match(
      issues(dir, text('{ every: 30s }'), false)[0],
      /'30s' is faster than the floor of 1m between bank runs/,
    );
    assert.deepEqual(issues(dir, text('{ every: 1m }'), false), []);
    assert.deepEqual(
      issues(dir, text('{ cron: "0 * * * * *" }'), false),
      [],
      'once a minute, second 0',
    );
    assert.deepEqual(issues(dir, text('{ cron: "*/5 * * * *" }'), false), []);
  });
});

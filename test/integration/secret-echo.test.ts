import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StatusReport } from '../../src/daemon/status';
import { BooksStore } from '../../src/ledger';
import { DaemonProcess, runCli, type CliResult } from '../helpers/daemon-process';
import { captureLogger } from '../helpers/line-logger';
import { secretEncodings } from '../helpers/secret-encodings';
import {
  couchEcho,
  EchoServer,
  enablebankingEcho,
  gocardlessEcho,
  ofxEcho,
  simplefinEcho,
} from '../helpers/sim/echo-server';

/**
 * The daemon against a cloud and a bank of every provider that echo what they receive (headers,
 * body, decoded Basic login) in their error answers. Every log line, every CLI output and every
 * stored document is then searched for every encoding of every secret.
 */
describe('secrets never leave, in any encoding, against servers that echo them (built CLI)', function () {
  this.timeout(120_000);
  let dir: string;
  let configPath: string;
  const servers: EchoServer[] = [];
  let daemon: DaemonProcess | undefined;

  const SECRETS = {
    T_CLOUD: `cl&ud<pw>"x'%+ é/Z1q`,
    T_OFX_USER: 'ofx-user&Zq9',
    T_OFX_PASS: `ofx&pw<1>"q'% Z2k`,
    T_GC_ID: 'gc-id&Zx7<y>',
    T_GC_KEY: `gc-key"Kk3'%é`,
    T_SF_TOKEN: '',
    T_EB_KEY: generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString(),
  };
  /** Not configured: the access URL a SimpleFIN claim hands out. */
  const ACCESS_PASSWORD = 'sf-access&Pw9<x>';
  const USERS = ['booksync', SECRETS.T_OFX_USER, 'sfuser'];

  /** Every encoding of every secret, with a name for the failure message. */
  function forbidden(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const [name, secret] of [
      ...Object.entries(SECRETS),
      ['ACCESS_PASSWORD', ACCESS_PASSWORD],
    ]) {
      for (const user of USERS)
        for (const [form, text] of Object.entries(secretEncodings(secret, user)))
          out.push([`${name} ${form}${form === 'basicAuth' ? ` (${user})` : ''}`, text]);
    }
    return out;
  }

  /** The application JWTs the Enable Banking echo server received: signed with the key, as secret. */
  function signedTokens(): Array<[string, string]> {
    return servers.flatMap((s) =>
      s.requests
        .map((r) => /^Bearer (eyJ\S+)$/.exec(String(r.headers.authorization ?? ''))?.[1])
        .filter((t): t is string => t !== undefined)
        .map((t): [string, string] => ['a signed Enable Banking token', t]),
    );
  }

  /** Every place and form found, so a failure lists all leaks at once. */
  const leaks: string[] = [];
  function checkClean(where: string, text: string): void {
    for (const [what, form] of [...forbidden(), ...signedTokens()]) {
      const at = text.indexOf(form);
      if (at >= 0)
        leaks.push(
          `${where} holds ${what}: …${text.slice(Math.max(0, at - 60), at + form.length + 10)}…`,
        );
    }
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-echo-'));
    configPath = path.join(dir, 'booksync.yaml');
    fs.mkdirSync(path.join(dir, 'logs'));
    const cloud = new EchoServer(couchEcho);
    const ofx = new EchoServer(ofxEcho);
    const simplefin = new EchoServer(simplefinEcho(ACCESS_PASSWORD));
    const gocardless = new EchoServer(gocardlessEcho);
    const enablebanking = new EchoServer(enablebankingEcho);
    servers.push(cloud, ofx, simplefin, gocardless, enablebanking);
    const cloudUrl = await cloud.start('/books');
    const ofxUrl = await ofx.start('/ofx');
    const sfUrl = await simplefin.start('/');
    const gcUrl = await gocardless.start('/api/v2');
    const ebUrl = await enablebanking.start('/');
    SECRETS.T_SF_TOKEN = Buffer.from(new URL('/claim/3f8a9c2e71d4b6a0e5f1', sfUrl).href).toString(
      'base64',
    );
    fs.writeFileSync(
      configPath,
      [
        'state_dir: ./state',
        'log: { level: debug, file: ./logs/booksync.log }',
        'cloud:',
        `  url: ${cloudUrl}`,
        '  auth: { method: basic, username: booksync, password: { env: T_CLOUD } }',
        'sync: { mode: live, backoff: fixed, backoff_max: 1s, auth_retry: 1d }',
        'bank:',
        '  connections:',
        '    - name: ofx-echo',
        '      provider: ofx-direct',
        '      institution: { name: Echo Bank, account: "111111", currency: USD }',
        `      settings: { url: "${ofxUrl}", org: ACME, fid: "1001", bank_id: "123456789", account_id: "111111", account_type: CHECKING }`,
        '      credentials: { username: { env: T_OFX_USER }, password: { env: T_OFX_PASS } }',
        '      journal: BNK1',
        '    - name: simplefin-echo',
        '      provider: simplefin',
        '      institution: { name: Echo Bridge, account: "222222", currency: USD }',
        '      credentials: { setup_token: { env: T_SF_TOKEN } }',
        '      journal: BNK2',
        '    - name: gocardless-echo',
        '      provider: gocardless',
        '      institution: { name: Echo GC, account: "DE89370400440532013000", currency: EUR }',
        `      settings: { requisition_id: 8126e9fb-93c9-4228-937c-68f0383c2df7, base_url: "${gcUrl}" }`,
        '      credentials: { secret_id: { env: T_GC_ID }, secret_key: { env: T_GC_KEY } }',
        '      journal: BNK3',
        '    - name: enablebanking-echo',
        '      provider: enablebanking',
        '      institution: { name: Echo EB, account: "FI2112345600000785", currency: EUR }',
        `      settings: { application_id: a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d, session_id: 6f1b7c2e-4d3a-4b5c-9e8f-7a6b5c4d3e2f, base_url: "${ebUrl.replace(/\/$/, '')}" }`,
        '      credentials: { private_key: { env: T_EB_KEY } }',
        '      journal: BNK4',
        'ledger:',
        '  company: { name: Test Company, currency: EUR }',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await daemon?.kill();
    await Promise.all(servers.map((s) => s.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the configuration is valid', async () => {
    const r = await runCli(['check-config', '--config', configPath], {
      env: { ...process.env, ...SECRETS },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('masks every encoding of every secret in log lines, CLI output and stored documents', async () => {
    const env = { ...process.env, ...SECRETS };
    daemon = new DaemonProcess(['start', '--config', configPath], { env });
    await daemon.waitFor('daemon.ready');
    await daemon.waitFor((l) => l.event === 'sync.status' && l.state === 'auth_error');

    const outputs: Array<[string, CliResult]> = [];
    // Twice each, so the OFX server answers both ways (signon MESSAGE, then HTTP 500).
    for (const args of [['fetch', '--json'], ['fetch'], ['status', '--json'], ['status']]) {
      const r = await runCli([...args, '--config', configPath], { env });
      outputs.push([`booksync ${args.join(' ')}`, r]);
    }
    const fetched = JSON.parse(outputs[0][1].stdout) as Array<{
      connection: string;
      error?: { message: string };
    }>;
    assert.equal(fetched.length, 4);
    for (const run of fetched)
      assert.ok(run.error, `${run.connection} failed against its echo server`);
    const status = JSON.parse(outputs[2][1].stdout) as StatusReport;
    assert.equal(status.services.sync.state, 'auth_error');
    assert.ok(status.services.sync.last_error, 'the cloud failure is reported');

    // The servers did receive the secrets, so a clean output proves the masking, not their absence.
    const received = servers
      .flatMap((s) => s.requests.map((r) => `${JSON.stringify(r.headers)} ${r.body}`))
      .join('\n');
    const sgml = (t: string) =>
      t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    for (const form of [
      Buffer.from(`booksync:${SECRETS.T_CLOUD}`).toString('base64'),
      JSON.stringify(SECRETS.T_GC_KEY).slice(1, -1),
      sgml(SECRETS.T_OFX_PASS),
    ]) {
      assert.ok(received.includes(form), `an echo server received ${form}`);
    }
    assert.ok(signedTokens().length > 0, 'the Enable Banking echo server received a signed token');
    assert.ok(
      fetched.some((r) => /Invalid login|Server error/.test(r.error?.message ?? '')),
      'what the OFX server said is shown',
    );

    daemon.signal('SIGTERM');
    assert.equal((await daemon.exited).code, 0);
    // Offline, the CLI opens the books itself.
    for (const args of [
      ['fetch', '--json'],
      ['status', '--json'],
    ]) {
      const r = await runCli([...args, '--config', configPath], { env });
      outputs.push([`booksync ${args.join(' ')} (daemon stopped)`, r]);
    }

    checkClean('daemon stdout', daemon.rawStdout);
    checkClean('daemon stderr', daemon.rawStderr);
    checkClean('log file', fs.readFileSync(path.join(dir, 'logs', 'booksync.log'), 'utf8'));
    for (const [name, r] of outputs) {
      checkClean(`${name} stdout`, r.stdout);
      checkClean(`${name} stderr`, r.stderr);
    }
    const store = await BooksStore.open(path.join(dir, 'state', 'books'), {
      logger: captureLogger().logger,
    });
    try {
      const docs = await store.db.allDocs({ include_docs: true });
      const conns = docs.rows.filter((r) => r.id.startsWith('bankconn:'));
      assert.equal(conns.length, 4);
      for (const row of conns)
        assert.ok((row.doc as { last_error?: unknown }).last_error, `${row.id} has a last_error`);
      const ofxError = JSON.stringify(
        (conns.find((r) => r.id === 'bankconn:ofx-echo')!.doc as { last_error?: unknown })
          .last_error,
      );
      assert.match(
        ofxError,
        /the bank says: .*\[redacted\]/,
        'what the bank echoed is kept, masked',
      );
      for (const row of docs.rows) checkClean(`stored document ${row.id}`, JSON.stringify(row.doc));
    } finally {
      await store.close();
    }
    assert.deepEqual(leaks, []);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DaemonProcess, runCli } from '../helpers/daemon-process';
import { requirePrometheusBinary } from '../helpers/prometheus-binaries';
import { PrometheusServer } from '../helpers/prometheus-server';
import { GoCardlessServer } from '../helpers/sim/gocardless-server';

const RULES = path.resolve(__dirname, '../../../config/prometheus/booksync-alerts.yml');
const REQUISITION = '8126e9fb-93c9-4228-937c-68f0383c2df7';

/**
 * The daemon as an admin monitors it: a real Prometheus (Debian's package) scrapes its /metrics
 * and evaluates the shipped alert rules. A GoCardless connection with wrong credentials is
 * refused by the bank simulator, so BooksyncBankAuthRequired must fire, and nothing else.
 */
describe('Prometheus scrapes the daemon and evaluates the shipped rules', function () {
  this.timeout(90_000);
  let dir: string;
  let configPath: string;
  let sim: GoCardlessServer;
  let daemon: DaemonProcess | undefined;
  let prometheus: PrometheusServer | undefined;
  let opsUrl: string;
  let binary: string;

  before(async function () {
    binary = requirePrometheusBinary(this, 'prometheus');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-it-prom-'));
    sim = new GoCardlessServer({
      secretId: 'right-id',
      secretKey: 'right-key',
      requisitions: [],
      agreements: [],
      accounts: [],
      now: () => new Date(),
    });
    await sim.start();
    configPath = path.join(dir, 'booksync.yaml');
    fs.writeFileSync(
      configPath,
      [
        'state_dir: ./state',
        'cloud:',
        '  url: embedded',
        'ops:',
        '  listen: 127.0.0.1:0',
        'local_api:',
        '  enabled: true',
        '  port: 0',
        '  username: books',
        '  password: { env: LOCAL_PASSWORD }',
        'bank:',
        '  connections:',
        '    - name: gc-main',
        '      provider: gocardless',
        `      settings: { requisition_id: ${REQUISITION}, base_url: "${sim.baseUrl}" }`,
        '      credentials: { secret_id: { env: GC_ID }, secret_key: { env: GC_KEY } }',
        '      journal: BNK1',
        '      schedule: { every: 12h }',
        'ledger:',
        '  company: { name: Test Company, currency: EUR }',
        '',
      ].join('\n'),
    );
    const env = {
      ...process.env,
      GC_ID: 'wrong-id',
      GC_KEY: 'wrong-key-s3cr3t',
      LOCAL_PASSWORD: 'local-pass-7Hq',
    };
    daemon = new DaemonProcess(['start', '--config', configPath], { env });
    const listening = await daemon.waitFor('ops.listening');
    opsUrl = String(listening.url);
    const local = await daemon.waitFor('local_api.listening');
    await daemon.waitFor('daemon.ready');
    // One refused login and one good request on the local API.
    const localUrl = `http://127.0.0.1:${String(local.port)}/books`;
    const basic = (password: string) => ({
      authorization: `Basic ${Buffer.from(`books:${password}`).toString('base64')}`,
    });
    assert.equal((await fetch(localUrl, { headers: basic('guess') })).status, 401);
    assert.equal((await fetch(localUrl, { headers: basic('local-pass-7Hq') })).status, 200);
    // `booksync fetch` runs the connection now instead of after the start-up jitter.
    const fetched = await runCli(['fetch', 'gc-main', '--config', configPath], { env });
    assert.match(fetched.stdout, /auth_required/, fetched.stdout + fetched.stderr);
    prometheus = new PrometheusServer(binary, [new URL(opsUrl).host], [RULES]);
    await prometheus.start();
  });

  after(async () => {
    await prometheus?.stop();
    await daemon?.kill();
    await sim?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes the target and reads the daemon's metric families", async () => {
    const prom = prometheus!;
    await prom.until('a successful scrape', async () =>
      (await prom.query('up{job="booksync"} == 1')).length === 1 ? true : undefined,
    );
    const value = async (expr: string) => {
      const r = await prom.query(expr);
      assert.equal(r.length, 1, `${expr}: ${JSON.stringify(r)}`);
      return Number(r[0].value[1]);
    };
    assert.equal(await value('booksync_ready'), 1);
    assert.equal(
      await value('booksync_bank_status{connection="gc-main",state="auth_required"}'),
      1,
    );
    assert.equal(await value('booksync_bank_status{connection="gc-main",state="connected"}'), 0);
    // The start-up run (within 10 s of the start) may have been refused before `booksync fetch` too.
    assert.ok((await value('booksync_bank_runs_total{connection="gc-main",outcome="error"}')) >= 1);
    assert.ok((await value('sum(booksync_bank_errors_total{connection="gc-main"})')) >= 1);
    assert.equal(await value('booksync_bank_runs_total{connection="gc-main",outcome="ok"}'), 0);
    assert.equal(
      await value('booksync_bank_schedule_interval_seconds{connection="gc-main"}'),
      43_200,
    );
    assert.ok((await value('process_resident_memory_bytes')) > 0);
    assert.equal(await value('booksync_local_api_denied_logins_total'), 1);
    assert.equal(await value('booksync_local_api_requests_total{code="401"}'), 1);
    assert.equal(await value('booksync_local_api_requests_total{code="200"}'), 1);
    await prom.until('sync online', async () =>
      (await prom.query('booksync_sync_state{state="online"} == 1')).length === 1
        ? true
        : undefined,
    );
    assert.equal(await value('sum(booksync_sync_state)'), 1, 'exactly one sync state is current');
  });

  it('loads the six rules and fires BooksyncBankAuthRequired for the refused connection only', async () => {
    const prom = prometheus!;
    const groups = await prom.until('a rule evaluation', async () => {
      const data = await prom.api<{
        groups: Array<{ rules: Array<{ name: string; health: string; lastEvaluation: string }> }>;
      }>('/api/v1/rules');
      const rules = data.groups.flatMap((g) => g.rules);
      return rules.length === 6 && rules.every((r) => !r.lastEvaluation.startsWith('0001'))
        ? rules
        : undefined;
    });
    assert.deepEqual(
      groups.filter((r) => r.health !== 'ok'),
      [],
    );
    const firing = await prom.until('the alert firing', async () => {
      const alerts = (await prom.alerts()).filter((a) => a.state === 'firing');
      return alerts.length > 0 ? alerts : undefined;
    });
    assert.deepEqual(
      firing.map((a) => [a.labels.alertname, a.labels.connection, a.labels.severity]),
      [['BooksyncBankAuthRequired', 'gc-main', 'critical']],
    );
    assert.equal(
      firing[0].annotations.summary,
      'bank connection gc-main: the bank rejected the credentials',
    );
  });

  it('answers /healthz and /readyz while running, and keeps the secret out of every answer', async () => {
    const health = await fetch(`${opsUrl}/healthz`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as { status: string; checks: Record<string, string> };
    assert.equal(body.status, 'ok');
    assert.deepEqual(Object.keys(body.checks).sort(), [
      'bank',
      'books',
      'cloud',
      'local-api',
      'rates',
      'sync',
    ]);
    assert.ok(
      Object.values(body.checks).every((c) => c === 'ok'),
      JSON.stringify(body.checks),
    );
    const ready = await fetch(`${opsUrl}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
    for (const secret of ['wrong-key-s3cr3t', 'local-pass-7Hq'])
      assert.ok(!metrics.includes(secret) && !daemon!.rawStdout.includes(secret), secret);
  });
});

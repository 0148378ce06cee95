import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BehaviorSubject, Subject } from 'rxjs';
import { parseConfigText } from '../../src/config';
import { BooksStore } from '../../src/ledger';
import { OpsService } from '../../src/ops';
import type { SyncEngine, SyncStatus } from '../../src/sync';
import { captureLogger } from '../helpers/line-logger';
import { freePort } from '../helpers/prometheus-server';

/** An engine's observable surface, driven by the test. */
function fakeEngine() {
  const status = new BehaviorSubject<SyncStatus>({
    state: 'syncing',
    mode: 'live',
    last_push_at: null,
    last_pull_at: null,
    pending_push: null,
    pending_pull: null,
    open_conflicts: 0,
    last_error: null,
    rewalk: null,
    excluded_in_cloud: null,
  });
  const engine = {
    status$: status.asObservable(),
    cycle$: new Subject().asObservable(),
    error$: new Subject().asObservable(),
    resolution$: new Subject().asObservable(),
    listConflicts: () => Promise.resolve([]),
  } as unknown as SyncEngine;
  return {
    engine,
    set: (patch: Partial<SyncStatus>) => status.next({ ...status.getValue(), ...patch }),
    stop: () => status.complete(),
  };
}

describe('ops: /healthz, /readyz and /metrics over HTTP', function () {
  this.timeout(20_000);
  let dir: string;
  let store: BooksStore;
  let ops: OpsService;
  let now: Date;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-ops-'));
    store = await BooksStore.open(path.join(dir, 'books'), { logger: captureLogger().logger });
    const config = parseConfigText(
      `state_dir: ${dir}\nops: { listen: "127.0.0.1:0", ready_offline_max: 5m }\ncloud: { url: embedded }\nledger: { company: { name: T, currency: EUR } }\n`,
      path.join(dir, 'b.yaml'),
      { env: {} },
    );
    now = new Date('2026-03-10T12:00:00Z');
    ops = new OpsService({
      config,
      store,
      logger: captureLogger().logger,
      version: 'test',
      clock: () => now,
    });
    await ops.start();
  });

  afterEach(async () => {
    await ops.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function get(
    p: string,
    method = 'GET',
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${ops.url}${p}`, { method });
    const text = await res.text();
    return {
      status: res.status,
      body:
        text && res.headers.get('content-type')?.startsWith('application/json')
          ? (JSON.parse(text) as Record<string, unknown>)
          : { text },
    };
  }

  it('is not ready until the daemon is, nor while it stops', async () => {
    assert.deepEqual(await get('/readyz'), {
      status: 503,
      body: { status: 'not_ready', reason: 'starting' },
    });
    assert.equal((await get('/healthz')).status, 200, 'alive while starting');
    ops.daemonPhase('ready');
    assert.deepEqual(await get('/readyz'), {
      status: 200,
      body: { status: 'ready', sync: 'stopped' },
    });
    assert.match(String((await get('/metrics')).body.text), /^booksync_ready 1$/m);
    ops.daemonPhase('stopping');
    assert.deepEqual(await get('/readyz'), {
      status: 503,
      body: { status: 'not_ready', reason: 'stopping' },
    });
  });

  it('is not ready while the cloud refuses sync, or once sync has been offline longer than ready_offline_max', async () => {
    const sync = fakeEngine();
    ops.observeSyncEngine(sync.engine);
    ops.daemonPhase('ready');
    sync.set({ state: 'online' });
    assert.equal((await get('/readyz')).status, 200);
    sync.set({
      state: 'offline',
      last_error: { code: 'SYNC_UNAVAILABLE', message: 'connect ECONNREFUSED' },
    });
    now = new Date(now.getTime() + 5 * 60_000);
    assert.equal(
      (await get('/readyz')).status,
      200,
      'offline for exactly ready_offline_max: still ready',
    );
    now = new Date(now.getTime() + 1000);
    assert.deepEqual(await get('/readyz'), {
      status: 503,
      body: {
        status: 'not_ready',
        reason: 'sync_offline',
        since: '2026-03-10T12:00:00.000Z',
        error: { code: 'SYNC_UNAVAILABLE', message: 'connect ECONNREFUSED' },
      },
    });
    sync.set({ state: 'auth_error', last_error: { code: 'SYNC_AUTH', message: 'HTTP 401' } });
    const refused = await get('/readyz');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.reason, 'sync_auth_error');
    sync.set({ state: 'online', last_error: null });
    assert.equal((await get('/readyz')).status, 200);
  });

  it('answers /healthz 503 naming a part that does not answer', async () => {
    ops.addProbes([
      { name: 'stuck', check: () => new Promise(() => undefined) },
      { name: 'fine', check: () => Promise.resolve({}) },
    ]);
    const res = await get('/healthz');
    assert.equal(res.status, 503);
    assert.deepEqual(res.body.checks, { books: 'ok', stuck: 'timeout', fine: 'ok' });
  });

  it('moves to a new address on reload, and stops listening with listen: none', async () => {
    const before = ops.url!;
    const same = parseConfigText(
      `state_dir: ${dir}\nops: { listen: "127.0.0.1:0", ready_offline_max: 5m }\ncloud: { url: embedded }\nledger: { company: { name: T, currency: EUR } }\n`,
      path.join(dir, 'b.yaml'),
      { env: {} },
    );
    await ops.reload(same);
    assert.equal(ops.url, before, 'an unchanged ops.listen keeps its listener');
    const port = await freePort();
    await ops.reload({ ...same, ops: { ...same.ops, listen: { host: '127.0.0.1', port } } });
    assert.equal(ops.url, `http://127.0.0.1:${port}`);
    assert.equal((await fetch(`${ops.url}/healthz`)).status, 200);
    await assert.rejects(fetch(`${before}/healthz`));
    await ops.reload({ ...same, ops: { ...same.ops, listen: null } });
    assert.equal(ops.url, undefined);
  });

  it('serves the Prometheus text format and refuses other paths and methods', async () => {
    const res = await fetch(`${ops.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^# TYPE booksync_sync_documents_total counter$/m);
    assert.match(text, /^booksync_sync_state\{state="stopped"\} 1$/m);
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await get('/metrics', 'POST')).status, 405);
  });
});

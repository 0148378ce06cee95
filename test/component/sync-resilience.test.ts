import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { Site, until } from '../helpers/cloud-server';
import { cloudFetch, cloudKinds, startCloud, type TestCloud } from '../helpers/test-cloud';
import { TcpProxy } from '../helpers/tcp-proxy';
import type { SyncEngine, SyncState } from '../../src/sync';

type Doc = Record<string, unknown> & { _id: string };

const types = {
  partner: {
    direction: 'both' as const,
    conflict: 'merge',
    tie_breaker: 'remote-wins',
    exclude: { push: ['internal_notes'] },
  },
  account: { direction: 'pull' as const, conflict: 'remote-wins' },
};

function partners(prefix: string, n: number, extra: Record<string, unknown> = {}): Doc[] {
  return Array.from({ length: n }, (_, i) => ({
    _id: `partner:${prefix}${String(i).padStart(5, '0')}`,
    type: 'partner',
    name: `Partner ${prefix}${i} ${'x'.repeat(200)}`,
    email: `p${i}@${prefix}.example`,
    bank_accounts: [],
    internal_notes: `private ${prefix}${i}`,
    ...extra,
  }));
}

async function putAll(site: Site, docs: Doc[]): Promise<void> {
  for (let i = 0; i < docs.length; i += 500)
    await site.books.putMany(docs.slice(i, i + 500) as never);
}

async function partnerIds(site: Site): Promise<string[]> {
  return (await site.books.allOfType('partner')).map((d) => d._id);
}

/** Waits for a state on status$ (bounded: rejects after `ms` so a bug fails the test instead of hanging it). */
async function waitState(engine: SyncEngine, state: SyncState, ms = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () =>
          reject(
            new Error(`state ${state} not reached in ${ms} ms (now ${engine.status().state})`),
          ),
        ms,
      )),
  );
  try {
    await Promise.race([
      firstValueFrom(engine.status$.pipe(filter((s) => s.state === state))),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Retries syncOnce until it succeeds (the network faults are finite); bounded attempts. */
async function syncUntilClean(site: Site, attempts = 30): Promise<number> {
  let failures = 0;
  for (let i = 0; i < attempts; i++) {
    try {
      await site.engine.syncOnce();
      return failures;
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'SYNC_OFFLINE', String(err));
      failures++;
    }
  }
  throw new Error(`no clean sync in ${attempts} attempts`);
}

for (const kind of cloudKinds())
  describe(`sync resilience (component) [${kind}]`, function () {
    this.timeout(60_000);
    let cloud: TestCloud;
    const sites: Site[] = [];
    const proxies: TcpProxy[] = [];
    before(async () => {
      cloud = await startCloud(kind);
    });
    afterEach(async () => {
      while (proxies.length) await (proxies.pop() as TcpProxy).close();
      while (sites.length) await (sites.pop() as Site).destroy();
    });
    after(async () => {
      await cloud.destroy();
    });

    it('given two live sites writing at once, when they sync through one cloud, then both converge and a later write crosses through the live feeds', async () => {
      const url = cloud.dbUrl('twosites');
      const a = await Site.open(url, { mode: 'live', types, longpollMs: 5000 });
      const b = await Site.open(url, { mode: 'live', types, longpollMs: 5000 });
      sites.push(a, b);
      await a.engine.start();
      await b.engine.start();
      await Promise.all([putAll(a, partners('a', 300)), putAll(b, partners('b', 300))]);
      // Both feeds are live; wait on real events until every document is on both sides.
      const counts = async () =>
        `a=${(await partnerIds(a)).length} b=${(await partnerIds(b)).length}`;
      await until(
        async () => (await counts()) === 'a=600 b=600',
        [a.engine, b.engine],
        30_000,
        counts,
      );
      // Excluded values stay home: B's copy of A's partner has no internal notes from A...
      const fromA = (await b.books.get('partner:a00001')) as Doc;
      assert.equal(fromA.internal_notes, undefined);
      // ...and A's own private notes survived the round trip.
      assert.equal(((await a.books.get('partner:a00001')) as Doc).internal_notes, 'private a1');

      // One more write on A crosses to B through the live feeds alone (A's books feed wakes its
      // push, the cloud's long-poll wakes B's pull); how fast is measured by `npm run bench:sync`.
      const cur = (await a.books.get('partner:a00002')) as Doc;
      await a.books.put({ ...cur, name: 'live probe' } as never);
      await until(
        async () => ((await b.books.get('partner:a00002')) as Doc).name === 'live probe',
        [b.engine],
        30_000,
      );
      assert.equal(
        a.engine.status().state === 'online' || a.engine.status().state === 'syncing',
        true,
      );
      assert.equal(a.engine.status().open_conflicts, 0);
    });

    it('given the cloud goes away, when it comes back, then the engine reports offline once, then online, and converges', async () => {
      const own = await startCloud(kind);
      const site = await Site.open(own.dbUrl('restart'), {
        mode: 'live',
        types,
        longpollMs: 5000,
        backoff: 'fixed',
        backoffBaseMs: 30,
        backoffMaxMs: 30,
      });
      sites.push(site);
      try {
        await site.engine.start();
        await putAll(site, partners('r', 50));
        await waitState(site.engine, 'online');
        await own.stop();
        await putAll(site, partners('s', 50));
        await waitState(site.engine, 'offline');
        // several retries happen meanwhile; wait for a few real failures
        for (let i = 0; i < 3; i++) {
          let timer: NodeJS.Timeout | undefined;
          const stuck = new Promise<never>(
            (_, reject) =>
              (timer = setTimeout(
                () =>
                  reject(
                    new Error(
                      `no retry failure ${i + 1} within 10 s while the cloud is down (state ${site.engine.status().state})`,
                    ),
                  ),
                10_000,
              )),
          );
          try {
            await Promise.race([firstValueFrom(site.engine.error$), stuck]);
          } finally {
            clearTimeout(timer);
          }
        }
        await own.start();
        const cloudCount = async () =>
          (await own.allRaw('restart').catch(() => [])).filter((d) =>
            String(d._id).startsWith('partner:'),
          ).length;
        await until(
          async () => (await cloudCount()) === 100 && site.engine.status().state === 'online',
          [site.engine],
          20_000,
          async () => `${await cloudCount()} docs, ${site.engine.status().state}`,
        );
        const offline = site.memory.events('sync.status').filter((e) => e.state === 'offline');
        assert.equal(
          offline.length,
          1,
          'sync.status is logged once per state change, not per retry',
        );
        // Back online after the outage (through `syncing` when a cycle was still busy at recovery).
        const states = site.memory.events('sync.status').map((e) => String(e.state));
        assert.equal(states[states.length - 1], 'online', states.join(' → '));
        assert.ok(states.lastIndexOf('offline') < states.lastIndexOf('online'), states.join(' → '));
      } finally {
        await site.engine.stop();
        await own.destroy();
      }
    });

    it('given a backlog of 1,200 cloud documents behind a 50 ms link, when a new site pulls in batches of 100, then it reads _changes in a few large reads and gets everything once', async () => {
      const a = await Site.open(cloud.dbUrl('distant'), { types, batchSize: 100 });
      sites.push(a);
      await putAll(a, partners('far', 1200));
      await a.engine.syncOnce(['push']);
      const proxy = await TcpProxy.start(cloud.port, { delayMs: 50 });
      proxies.push(proxy);
      // What happens on the wire, in order: a `_changes` read asked for, or one answered.
      const wire: string[] = [];
      const recording: typeof fetch = async (input, init) => {
        const req = new Request(input, init);
        const url = new URL(req.url);
        const what = url.pathname.endsWith('/_changes')
          ? `_changes since=${url.searchParams.get('since')}`
          : null;
        if (what) wire.push(`ask ${what}`);
        const res = await fetch(req);
        if (what) wire.push(`answer ${what}`);
        return res;
      };
      const b = await Site.open(cloud.dbUrl('distant', proxy.origin), {
        types,
        batchSize: 100,
        cloud: {
          url: cloud.dbUrl('distant', proxy.origin),
          requestTimeoutMs: 5000,
          fetch: recording,
        },
      });
      sites.push(b);
      const before = b.runtime.remote.requests;
      const report = await b.engine.syncOnce(['pull']);
      const requests = b.runtime.remote.requests - before;
      if (kind === 'pouchdb') {
        // The database info said the seqs are integers and 1,200 changes wait: the second read is
        // asked for with the first, not a round trip later.
        assert.deepEqual(
          wire.slice(0, 2),
          ['ask _changes since=0', 'ask _changes since=100'],
          wire.join(', '),
        );
      } else {
        // CouchDB 2+ seqs are opaque: a read can only start from the seq the one before answered.
        assert.deepEqual(
          wire.slice(0, 2),
          ['ask _changes since=0', 'answer _changes since=0'],
          wire.join(', '),
        );
      }
      assert.equal(report.pull.docs, 1200);
      assert.equal(new Set(await partnerIds(b)).size, 1200);
      // Page by page this is 13 `_changes` round trips; read ahead in reads of 1, 2, then 3 pages it is
      // 6, +1 to check the database, +1 read asked for ahead past the end (integer seqs only),
      // +2 to read and write the cloud's identity marker.
      assert.ok(requests <= 10, `${requests} requests for 1,200 changes`);
      assert.equal(
        (await b.engine.syncOnce(['pull'])).pull.docs,
        0,
        'the checkpoint is past everything',
      );
    });

    it('given a cloud whose changes feed has gaps (documents edited after they were written), when a new site pulls in batches of 100, then it has every document once, at its latest revision', async () => {
      const a = await Site.open(cloud.dbUrl('gaps'), { types, batchSize: 100 });
      sites.push(a);
      await putAll(a, partners('gap', 900));
      await a.engine.syncOnce(['push']);
      // Every third document edited in the cloud by another writer: its change moves to the end of
      // the feed and leaves a gap in the seqs, so reads asked for at a computed `since` overlap.
      const edited = (await cloud.allRaw('gaps'))
        .filter((_, i) => i % 3 === 0)
        .map((d) => ({ ...d, email: `edited-${String(d._id)}@example` }));
      const res = await cloudFetch(`${cloud.dbUrl('gaps')}/_bulk_docs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ docs: edited }),
      });
      assert.equal(res.status, 201);
      const b = await Site.open(cloud.dbUrl('gaps'), { types, batchSize: 100 });
      sites.push(b);
      const report = await b.engine.syncOnce(['pull']);
      // A cluster's feed interleaves its shard copies and may list an edited document at its old
      // place too: written once or twice there, but every one ends at its latest revision (below).
      if (kind === 'couchdb-cluster')
        assert.ok(report.pull.docs >= 900, `${report.pull.docs} writes`);
      else assert.equal(report.pull.docs, 900, 'each document written once');
      const docs = await b.books.allOfType('partner');
      assert.equal(docs.length, 900);
      const emails = new Map(docs.map((d) => [d._id, (d as unknown as { email: string }).email]));
      for (const e of edited as Array<{ _id: string; email: string }>)
        assert.equal(emails.get(e._id), e.email, `${e._id} at its edited revision`);
      assert.equal(
        (await b.engine.syncOnce(['pull'])).pull.docs,
        0,
        'the checkpoint is past everything',
      );
    });

    it('given a proxy that cuts connections mid-request and mid-response, when pushing and pulling 1,500 docs, then nothing is lost or duplicated', async () => {
      const proxy = await TcpProxy.start(cloud.port, {
        faults: { dropResponseAfterBytes: 20_000, drops: 4 },
      });
      proxies.push(proxy);
      const a = await Site.open(cloud.dbUrl('dropped', proxy.origin), { types, batchSize: 200 });
      const b = await Site.open(cloud.dbUrl('dropped', proxy.origin), { types, batchSize: 200 });
      sites.push(a, b);
      await putAll(a, partners('d', 1500));
      const pushFailures = await syncUntilClean(a);
      assert.ok(pushFailures >= 1, 'the proxy did cut the push');
      proxy.faults = { dropRequestAfterBytes: 30_000, drops: 3 };
      // B pulls (responses are big) and also writes its own edits (requests are big).
      await putAll(b, partners('e', 300));
      proxy.faults = { dropResponseAfterBytes: 50_000, drops: 3 };
      await syncUntilClean(b);
      await syncUntilClean(a);
      assert.ok(proxy.dropped >= 3);
      const raw = (await cloud.allRaw('dropped')).filter((d) =>
        String(d._id).startsWith('partner:'),
      );
      assert.equal(raw.length, 1800);
      assert.equal(raw.filter((d) => d._conflicts).length, 0, 'no conflict branches in the cloud');
      assert.equal(
        raw.filter((d) => d.internal_notes !== undefined).length,
        0,
        'no excluded field leaked',
      );
      assert.ok(
        raw.every((d) => String(d._rev).startsWith('1-')),
        'each doc was written exactly once',
      );
      assert.equal((await partnerIds(a)).length, 1800);
      assert.equal((await partnerIds(b)).length, 1800);
      assert.equal(
        (await a.engine.listResolved()).length + (await b.engine.listResolved()).length,
        0,
        'replays were recognised as agreement, not conflicts',
      );
    });

    it('given the bookkeeping is lost after a sync (a crash between data and base), when syncing again, then only bases are patched', async () => {
      const site = await Site.open(cloud.dbUrl('replay'), { types, batchSize: 100 });
      sites.push(site);
      await putAll(site, partners('k', 300));
      await site.engine.syncOnce();
      const before = (await cloud.allRaw('replay'))
        .map((d) => `${String(d._id)}@${String(d._rev)}`)
        .sort();
      await site.runtime.close();
      rmSync(path.join(site.dir, 'sync'), { recursive: true, force: true });
      await site.restartEngine();
      const r = await site.engine.syncOnce();
      assert.equal(r.push.conflicts + r.pull.conflicts, 0);
      const after = (await cloud.allRaw('replay'))
        .map((d) => `${String(d._id)}@${String(d._rev)}`)
        .sort();
      assert.deepEqual(after, before, 'no cloud document was rewritten');
      assert.equal((await site.engine.listResolved()).length, 0);
      const again = await site.engine.syncOnce();
      assert.equal(again.push.docs + again.pull.docs, 0, 'now in sync: nothing to do');
    });

    it('given a cloud that answers 401, when live, then state is auth_error, logged once, and no credential appears in logs or errors', async () => {
      const srv = http.createServer((req, res) => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: 'unauthorized', reason: 'Name or password is incorrect.' }),
        );
      });
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      const port = (srv.address() as AddressInfo).port;
      const site = await Site.open(`http://booksync:hunter2-secret@127.0.0.1:${port}/books`, {
        mode: 'live',
        types,
        authRetryMs: 60_000,
      });
      sites.push(site);
      try {
        const err = firstValueFrom(site.engine.error$);
        await site.engine.start();
        const e = await err;
        assert.equal(e.code, 'SYNC_AUTH');
        await waitState(site.engine, 'auth_error');
        assert.ok(!JSON.stringify(site.memory.lines).includes('hunter2'), 'password in logs');
        assert.ok(!e.message.includes('hunter2'));
        assert.equal(
          site.memory.events('sync.status').filter((l) => l.state === 'auth_error').length,
          1,
        );
        assert.equal(site.engine.status().last_error?.code, 'SYNC_AUTH');
      } finally {
        await site.engine.stop();
        srv.closeAllConnections();
        await new Promise<void>((resolve) => srv.close(() => resolve()));
      }
    });

    it('given interval mode with injected timers, when a tick fires, then one cycle runs per direction', async () => {
      const ticks: Array<{ fn: () => void; ms: number }> = [];
      const site = await Site.open(cloud.dbUrl('interval'), {
        mode: 'interval',
        intervalMs: 60_000,
        types,
        timers: { set: (fn, ms) => (ticks.push({ fn, ms }), () => undefined) },
      });
      sites.push(site);
      await putAll(site, partners('i', 5));
      await site.engine.start();
      assert.equal(ticks.length, 1);
      const pulled = firstValueFrom(site.engine.cycle$.pipe(filter((c) => c.direction === 'pull')));
      ticks[0].fn();
      await pulled;
      assert.equal((await cloud.allRaw('interval')).length, 5);
      assert.equal(ticks[1].ms, 60_000, 'the next cycle is scheduled one interval later');
      await site.engine.stop();
      assert.equal(site.engine.status().state, 'stopped');
    });

    it('given type account is pull-only and audit is none, when a site edits them, then nothing leaves; a cloud account arrives', async () => {
      const site = await Site.open(cloud.dbUrl('directions'), { types });
      sites.push(site);
      await site.books.put({
        _id: 'account:1010',
        type: 'account',
        code: '1010',
        name: 'Bank',
        kind: 'asset',
      } as never);
      await site.engine.syncOnce();
      assert.equal(await cloud.raw('directions', 'account:1010'), null);
      await cloudFetch(`${cloud.dbUrl('directions')}/account:2000`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'account',
          code: '2000',
          name: 'Payables',
          kind: 'liability',
        }),
      });
      await cloudFetch(`${cloud.dbUrl('directions')}/journal:X`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'journal',
          code: 'X',
          name: 'none type',
          kind: 'general',
          currency: 'EUR',
          default_account: '1010',
        }),
      });
      await site.engine.syncOnce();
      assert.equal(((await site.books.get('account:2000')) as Doc).name, 'Payables');
      assert.equal(
        await site.books.get('journal:X'),
        undefined,
        'a type with direction none never enters',
      );
    });
  });

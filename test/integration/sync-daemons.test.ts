import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BooksStore, type PartnerDoc } from '../../src/ledger';
import { memoryLogger } from '../helpers/cloud-server';
import { cloudFetch, cloudKinds, startCloud, type TestCloud } from '../helpers/test-cloud';
import { DaemonProcess } from '../helpers/daemon-process';

/**
 * Replication as deployed: built daemons (child processes) syncing their books with one cloud
 * (a CouchDB-protocol server over real HTTP), written to through their local CouchDB endpoints.
 */
const PASSWORD = 'local-api-pass-9xQ';

function siteConfig(cloud: TestCloud, extra: string[] = []): string {
  return [
    'state_dir: ./state',
    'local_api:',
    '  enabled: true',
    '  port: 0',
    '  username: books',
    '  password: { env: BOOKSYNC_LOCAL_PASSWORD }',
    'cloud:',
    `  url: ${cloud.plainDbUrl('books')}`,
    ...(cloud.credentials
      ? [
          `  auth: { method: basic, username: ${cloud.credentials.username}, password: { env: BOOKSYNC_CLOUD_PASSWORD } }`,
        ]
      : []),
    'sync:',
    '  mode: live',
    '  default: { direction: none }',
    '  types:',
    '    partner: { direction: both, conflict: merge, tie_breaker: remote-wins, exclude: { push: [internal_notes], both: ["bank_accounts[].iban"] } }',
    ...extra,
    'ledger:',
    '  company: { name: Test Company, currency: EUR }',
    '',
  ].join('\n');
}

const auth = 'Basic ' + Buffer.from(`books:${PASSWORD}`).toString('base64');

/** A site's local CouchDB endpoint. */
class LocalEndpoint {
  constructor(readonly db: string) {}

  async put(doc: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${this.db}/${encodeURIComponent(String(doc._id))}`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(doc),
    });
    const body = (await res.json()) as { rev?: string; reason?: string };
    assert.equal(res.status, 201, JSON.stringify(body));
    return body.rev!;
  }

  async get(id: string): Promise<Record<string, unknown> | null> {
    const res = await fetch(`${this.db}/${encodeURIComponent(id)}`, {
      headers: { authorization: auth },
    });
    return res.status === 404 ? null : ((await res.json()) as Record<string, unknown>);
  }

  /** Waits, on the endpoint's longpoll changes feed (no timers), until `check` holds. */
  async until(check: () => Promise<boolean>): Promise<void> {
    let since: unknown = 0;
    for (;;) {
      if (await check()) return;
      const res = await fetch(
        `${this.db}/_changes?feed=longpoll&timeout=10000&since=${encodeURIComponent(String(since))}`,
        { headers: { authorization: auth } },
      );
      since = ((await res.json()) as { last_seq: unknown }).last_seq;
    }
  }
}

/** Waits on the cloud's longpoll changes feed until `check` holds. */
async function cloudUntil(cloud: TestCloud, check: () => Promise<boolean>): Promise<void> {
  let since: unknown = 0;
  for (;;) {
    if (await check()) return;
    const res = await cloudFetch(
      `${cloud.dbUrl('books')}/_changes?feed=longpoll&timeout=10000&since=${encodeURIComponent(String(since))}`,
    );
    since = ((await res.json()) as { last_seq: unknown }).last_seq;
  }
}

for (const kind of cloudKinds())
  describe(`replication between daemons and one cloud (built CLI as child processes) [${kind}]`, function () {
    this.timeout(240_000);
    let cloud: TestCloud;
    const dirs: string[] = [];
    const daemons: DaemonProcess[] = [];

    function site(extra?: string[]): { dir: string; config: string } {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-site-'));
      dirs.push(dir);
      const config = path.join(dir, 'booksync.yaml');
      fs.writeFileSync(config, siteConfig(cloud, extra));
      return { dir, config };
    }

    function start(config: string): DaemonProcess {
      const d = new DaemonProcess(['start', '--config', config], {
        env: {
          ...process.env,
          BOOKSYNC_LOCAL_PASSWORD: PASSWORD,
          BOOKSYNC_CLOUD_PASSWORD: cloud.credentials?.password ?? '',
        },
      });
      daemons.push(d);
      return d;
    }

    async function endpoint(d: DaemonProcess): Promise<LocalEndpoint> {
      const line = await d.waitFor('local_api.listening');
      await d.waitFor('daemon.ready');
      return new LocalEndpoint(`http://127.0.0.1:${String(line.port)}/books`);
    }

    beforeEach(async () => {
      cloud = await startCloud(kind);
    });

    afterEach(async () => {
      await Promise.all(daemons.splice(0).map((d) => d.kill()));
      await cloud.destroy();
      for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    });

    it('two sites converge through one cloud; excluded fields stay home on both sides', async () => {
      const a = start(site().config);
      const b = start(site().config);
      const [ea, eb] = await Promise.all([endpoint(a), endpoint(b)]);

      await ea.put({
        _id: 'partner:acme',
        type: 'partner',
        name: 'ACME SA',
        bank_accounts: [{ iban: 'BE71096123456769', bic: 'GKCCBEBB' }],
        internal_notes: 'A: pays late',
      });
      await eb.put({
        _id: 'partner:globex',
        type: 'partner',
        name: 'Globex GmbH',
        bank_accounts: [],
        internal_notes: 'B: key account',
      });

      await eb.until(async () => (await eb.get('partner:acme')) !== null);
      await ea.until(async () => (await ea.get('partner:globex')) !== null);

      // Nothing excluded crossed the wire: the cloud's raw documents have no internal_notes...
      for (const doc of await cloud.allRaw('books')) {
        assert.equal(doc.internal_notes, undefined, JSON.stringify(doc));
        assert.ok(
          !JSON.stringify(doc).includes('BE71096123456769'),
          `IBAN kept off the wire: ${JSON.stringify(doc)}`,
        );
      }
      assert.deepEqual(
        (await eb.get('partner:acme'))!.bank_accounts,
        [{ bic: 'GKCCBEBB' }],
        'the nested exclusion keeps the rest of the item',
      );
      // ...so each site has its partner's name but not the other's notes, and keeps its own.
      assert.equal((await eb.get('partner:acme'))!.internal_notes, undefined);
      assert.equal((await ea.get('partner:acme'))!.internal_notes, 'A: pays late');

      // B edits A's partner: the edit reaches A, and A's own notes survive it.
      const acmeAtB = (await eb.get('partner:acme'))!;
      await eb.put({ ...acmeAtB, name: 'ACME S.A.' });
      await ea.until(async () => (await ea.get('partner:acme'))!.name === 'ACME S.A.');
      assert.equal((await ea.get('partner:acme'))!.internal_notes, 'A: pays late');
      assert.deepEqual(
        (await ea.get('partner:acme'))!.bank_accounts,
        [{ iban: 'BE71096123456769', bic: 'GKCCBEBB' }],
        'A keeps the IBAN it never shared',
      );

      // An unbalanced move is refused at the local endpoint and so never reaches anyone.
      const res = await fetch(`${ea.db}/move:MISC:x1`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'move',
          journal: 'MISC',
          date: '2024-01-01',
          state: 'draft',
          lines: [
            { account: '1010', debit: 100, credit: 0, currency: 'EUR' },
            { account: '1099', debit: 0, credit: 99, currency: 'EUR' },
          ],
        }),
      });
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { code: string }).code, 'LEDGER_UNBALANCED');

      for (const d of [a, b]) {
        d.signal('SIGTERM');
        assert.equal((await d.exited).code, 0);
        assert.ok(!d.rawStdout.includes(PASSWORD), 'the local API password never reaches the logs');
        if (cloud.credentials)
          assert.ok(
            !d.rawStdout.includes(cloud.credentials.password),
            'the cloud password never reaches the logs',
          );
      }
    });

    it('SIGKILL at random points of a large initial sync, 20 times: every restart converges, nothing lost, duplicated or leaked', async () => {
      const N = 3000;
      const { dir, config } = site();
      // The books before the first start: N partners, each with notes that must never leave.
      const { logger } = memoryLogger();
      const store = await BooksStore.open(path.join(dir, 'state', 'books'), { logger });
      const docs = Array.from({ length: N }, (_, i) => ({
        _id: `partner:p${String(i).padStart(5, '0')}`,
        type: 'partner' as const,
        name: `Partner ${i}`,
        bank_accounts: [{ iban: 'DE89370400440532013000' }],
        email: `p${i}@example.com`,
        internal_notes: `private note ${i} ${'x'.repeat(600)}`,
      }));
      for (let i = 0; i < N; i += 1000) await store.putMany(docs.slice(i, i + 1000));
      await store.close();

      // Deterministic "random" kill points (a seeded LCG), spread over start-up and the sync.
      let seed = 20261126;
      const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let round = 0; round < 20; round++) {
        const d = start(config);
        await d.waitFor('daemon.start');
        if (round === 0) {
          // The first kill lands as the initial sync runs (an event, not a time)...
          await d.waitFor(
            (l) =>
              (l.event === 'sync.status' && l.state === 'syncing') || l.event === 'daemon.ready',
          );
          d.signal('SIGKILL');
          await d.exited;
          // A database not created yet holds nothing either.
          const info = await cloudFetch(cloud.dbUrl('books'));
          const inCloud = info.ok ? ((await info.json()) as { doc_count: number }).doc_count : 0;
          assert.ok(
            inCloud < N,
            `the first kill landed mid-sync (${inCloud} of ${N} in the cloud)`,
          );
          continue;
        }
        // ...the others wherever the daemon happens to be (fault injection, not a wait).
        await new Promise((r) => setTimeout(r, Math.floor(next() * 1500)));
        d.signal('SIGKILL');
        await d.exited;
      }

      const final = start(config);
      await final.waitFor('daemon.ready');
      await cloudUntil(cloud, async () => (await cloud.allRaw('books')).length >= N);
      const inCloud = await cloud.allRaw('books');
      assert.equal(inCloud.length, N, 'every document arrived exactly once');
      for (const doc of inCloud) {
        assert.equal(doc.internal_notes, undefined, `excluded field leaked in ${String(doc._id)}`);
        assert.equal(doc._conflicts, undefined, `no conflict branches in ${String(doc._id)}`);
        const i = Number(String(doc._id).slice('partner:p'.length));
        assert.equal(doc.name, `Partner ${i}`);
      }
      final.signal('SIGTERM');
      assert.equal((await final.exited).code, 0);
      // The books still hold every private note.
      const reopened = await BooksStore.open(path.join(dir, 'state', 'books'), { logger });
      const partners = await reopened.allOfType<PartnerDoc>('partner');
      await reopened.close();
      assert.equal(partners.length, N);
      assert.ok(partners.every((p) => p.internal_notes?.startsWith('private note')));
    });
  });

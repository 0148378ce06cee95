import assert from 'node:assert/strict';
import { Site } from '../helpers/cloud-server';
import {
  COUCH_ADMIN,
  couchAuthHeader,
  couchAvailable,
  killNode,
  privateCouch,
  restartNode,
  sharedCouch,
  type CouchNodes,
} from '../helpers/couchdb';

/**
 * A 3-node Apache CouchDB cluster (q=2, n=3) as the cloud: every node answers for the whole
 * database, orders `_changes` its own way, and a seq from one node is accepted by the others.
 */
const types = {
  partner: { direction: 'both' as const, conflict: 'merge', tie_breaker: 'remote-wins' },
};

type Doc = Record<string, unknown> & { _id: string };

function partners(prefix: string, n: number): Doc[] {
  return Array.from({ length: n }, (_, i) => ({
    _id: `partner:${prefix}${String(i).padStart(5, '0')}`,
    type: 'partner',
    name: `${prefix} ${i}`,
    bank_accounts: [],
  }));
}

function dbUrl(nodes: CouchNodes, node: number, db: string): string {
  return `http://${COUCH_ADMIN.username}:${COUCH_ADMIN.password}@127.0.0.1:${nodes.ports[node]}/${db}`;
}

/**
 * Another writer's `_bulk_docs` on one node. It waits for `live` copies (`w`), so that what a test
 * reads next through another node does not depend on a copy still being written: CouchDB answers
 * after a quorum of 2 by default (docs.couchdb.org, "Theory: Quorum").
 */
async function writeOn(
  nodes: CouchNodes,
  node: number,
  db: string,
  docs: Doc[],
  live = 3,
): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${nodes.ports[node]}/${db}/_bulk_docs`, {
    method: 'POST',
    headers: { authorization: couchAuthHeader(), 'content-type': 'application/json' },
    body: JSON.stringify({ docs, w: live }),
  });
  assert.equal(res.status, 201, await res.text());
}

async function idsOn(nodes: CouchNodes, node: number, db: string): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${nodes.ports[node]}/${db}/_all_docs`, {
    headers: { authorization: couchAuthHeader() },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { rows: Array<{ id: string }> }).rows
    .map((r) => r.id)
    .filter((id) => id.startsWith('partner:'));
}

async function partnerIds(site: Site): Promise<string[]> {
  return (await site.books.allOfType('partner')).map((d) => d._id).sort();
}

(couchAvailable() ? describe : describe.skip)(
  'sync against a 3-node Apache CouchDB cluster',
  function () {
    this.timeout(180_000);
    const sites: Site[] = [];
    let dbCount = 0;
    const nextDb = () => `cluster${process.pid}_${++dbCount}`;

    afterEach(async () => {
      for (const s of sites.splice(0)) await s.destroy();
    });

    it('given a site on node 1 while another writer writes on node 3, when both sides sync, then each document reaches the other side once', async () => {
      const nodes = await sharedCouch(3);
      const db = nextDb();
      const site = await Site.open(dbUrl(nodes, 0, db), { types, batchSize: 100 });
      sites.push(site);
      await site.books.putMany(partners('site', 250) as never);
      await site.engine.syncOnce();
      await writeOn(nodes, 2, db, partners('node3-', 300));
      await site.engine.syncOnce();
      // A third round: what node 1's changes feed orders differently from node 3's is not read twice.
      const again = await site.engine.syncOnce();
      assert.equal(again.pull.docs, 0);
      assert.equal(again.push.docs, 0);
      const expected = [...partners('site', 250), ...partners('node3-', 300)]
        .map((d) => d._id)
        .sort();
      assert.deepEqual(await partnerIds(site), expected);
      assert.deepEqual((await idsOn(nodes, 2, db)).sort(), expected);
    });

    it('given a site whose checkpoint was read from node 1, when it continues on node 2, then the seq is valid there and nothing is pulled again', async () => {
      const nodes = await sharedCouch(3);
      const db = nextDb();
      const writer = await Site.open(dbUrl(nodes, 0, db), { types, batchSize: 100 });
      sites.push(writer);
      await writer.books.putMany(partners('w', 400) as never);
      await writer.engine.syncOnce();
      const reader = await Site.open(dbUrl(nodes, 0, db), { types, batchSize: 100 });
      sites.push(reader);
      assert.equal((await reader.engine.syncOnce(['pull'])).pull.docs, 400);
      const dir = reader.dir;
      await reader.close();
      sites.splice(sites.indexOf(reader), 1);
      // The same books and bookkeeping, now pointed at node 2 of the same cluster.
      const moved = await Site.open(dbUrl(nodes, 1, db), { types, batchSize: 100 }, dir);
      sites.push(moved);
      await writer.books.putMany(partners('x', 50) as never);
      await writer.engine.syncOnce();
      const report = await moved.engine.syncOnce(['pull']);
      assert.equal(report.pull.docs, 50, 'only what is new since the checkpoint taken on node 1');
      assert.equal((await partnerIds(moved)).length, 450);
    });

    it('given one of three nodes killed in the middle of a sync, when the site goes on through node 1, then push and pull complete and a site on node 2 has everything', async () => {
      const nodes = await privateCouch(3);
      const db = nextDb();
      let killed = false;
      // Node 3 dies right after the first batch of the push has been written.
      const killing: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        const url =
          typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (!killed && url.includes('/_bulk_docs')) {
          killed = true;
          killNode(nodes, 2);
        }
        return res;
      };
      const site = await Site.open(dbUrl(nodes, 0, db), {
        types,
        batchSize: 100,
        cloud: { url: dbUrl(nodes, 0, db), requestTimeoutMs: 10_000, fetch: killing },
      });
      sites.push(site);
      await site.books.putMany(partners('k', 1000) as never);
      const report = await site.engine.syncOnce();
      assert.ok(killed, 'node 3 was killed during the push');
      assert.equal(report.push.docs, 1000);
      const other = await Site.open(dbUrl(nodes, 1, db), { types, batchSize: 100 });
      sites.push(other);
      assert.equal((await other.engine.syncOnce(['pull'])).pull.docs, 1000);
      assert.deepEqual(await partnerIds(other), await partnerIds(site));
    });

    it('given cloud.url listing node 1 and node 2, when node 1 is killed, then the engine fails over to node 2 and keeps its place; when node 1 is restarted and node 2 killed, then it carries on through node 1 from the same place', async () => {
      const nodes = await privateCouch(3);
      const db = nextDb();
      const sinces: Array<{ port: string; since: string | null }> = [];
      const recording: typeof fetch = async (input, init) => {
        const req = new Request(input, init);
        const url = new URL(req.url);
        if (url.pathname.endsWith('/_changes'))
          sinces.push({ port: url.port, since: url.searchParams.get('since') });
        return fetch(req);
      };
      const site = await Site.open(dbUrl(nodes, 0, db), {
        types,
        batchSize: 100,
        cloud: {
          url: [dbUrl(nodes, 0, db), dbUrl(nodes, 1, db)],
          requestTimeoutMs: 10_000,
          fetch: recording,
        },
      });
      sites.push(site);
      await site.books.putMany(partners('a', 300) as never);
      assert.equal((await site.engine.syncOnce()).push.docs, 300);

      // Node 1 lost; another writer goes on through node 3.
      killNode(nodes, 0);
      await writeOn(nodes, 2, db, partners('b', 100), 2);
      await site.books.putMany(partners('c', 50) as never);
      let mark = sinces.length;
      const first = await site.engine.syncOnce();
      assert.equal(first.push.docs, 50);
      assert.equal(
        first.pull.docs,
        100,
        'only what is new: the place held on node 1 is valid on node 2',
      );
      assert.deepEqual(
        site.memory.events('sync.failover').map((e) => new URL(String(e.to)).port),
        [String(nodes.ports[1])],
      );
      assert.ok(sinces.slice(mark).every((s) => s.since !== '0'));

      // Node 1 back, node 2 lost: the engine goes round to node 1 with node 2's place.
      await restartNode(nodes, 0);
      killNode(nodes, 1);
      await writeOn(nodes, 2, db, partners('d', 40), 2);
      await site.books.putMany(partners('e', 20) as never);
      mark = sinces.length;
      const second = await site.engine.syncOnce();
      assert.equal(second.push.docs, 20);
      assert.equal(second.pull.docs, 40, 'only what is new since the place held on node 2');
      assert.deepEqual(
        site.memory.events('sync.failover').map((e) => new URL(String(e.to)).port),
        [String(nodes.ports[1]), String(nodes.ports[0])],
      );
      assert.ok(
        sinces.slice(mark).every((s) => s.since !== '0' && s.port === String(nodes.ports[0])),
      );
      assert.equal(site.memory.events('sync.reset').length, 0, 'the same cloud: no re-walk');
      const expected = [
        ...partners('a', 300),
        ...partners('b', 100),
        ...partners('c', 50),
        ...partners('d', 40),
        ...partners('e', 20),
      ]
        .map((d) => d._id)
        .sort();
      assert.deepEqual(await partnerIds(site), expected);
      assert.deepEqual((await idsOn(nodes, 2, db)).sort(), expected);
    });
  },
);

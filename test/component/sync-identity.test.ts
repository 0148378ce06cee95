import assert from 'node:assert/strict';
import {
  cloudFactories,
  cloudPerTest,
  type CloudAdmin,
  type CloudFactory,
} from '../helpers/cloud-admin';
import { Site, until } from '../helpers/cloud-server';
import type { RewalkProgress } from '../../src/sync';

type Doc = Record<string, unknown> & { _id: string };

const types = {
  partner: { direction: 'both' as const, conflict: 'remote-wins' },
};

function partners(n: number, prefix = 'p'): Doc[] {
  return Array.from({ length: n }, (_, i) => ({
    _id: `partner:${prefix}${String(i).padStart(4, '0')}`,
    type: 'partner',
    name: `Partner ${prefix}${i}`,
    bank_accounts: [],
  }));
}

async function partnerNames(site: Site): Promise<Map<string, unknown>> {
  return new Map(
    (await site.books.allOfType('partner')).map((d) => [d._id, (d as unknown as Doc).name]),
  );
}

async function cloudNames(admin: CloudAdmin, db: string): Promise<Map<string, unknown>> {
  return new Map(
    (await admin.allDocs(db))
      .filter((d) => d.type === 'partner')
      .map((d) => [String(d._id), d.name]),
  );
}

/** The identity cases, against any cloud the factory gives (express-pouchdb by default). */
export function identitySuite(name: string, factory: CloudFactory): void {
  describe(`sync replication identity (component, ${name})`, function () {
    this.timeout(60_000);
    const cloud = cloudPerTest(factory, 'identity');
    const sites = cloud.sites;
    let admin: CloudAdmin;
    let db: string;
    beforeEach(() => ({ admin, db } = cloud));

    async function site(options: Parameters<typeof Site.open>[1] = {}): Promise<Site> {
      const s = await Site.open(admin.siteUrl(db), { types, ...options });
      sites.push(s);
      return s;
    }

    it('given a cloud database deleted under a running live daemon, when the cloud answers 404, then it is refilled with no restart and no local document is lost', async () => {
      const a = await site({
        mode: 'live',
        longpollMs: 500,
        cloud: { url: admin.siteUrl(db), requestTimeoutMs: 1500 },
      });
      await a.books.putMany(partners(40) as never);
      await a.engine.start();
      await until(
        async () => (await cloudNames(admin, db).catch(() => new Map())).size === 40,
        [a.engine],
        20_000,
        () => 'first push',
      );
      await admin.deleteDb(db);
      await until(
        async () => (await cloudNames(admin, db).catch(() => new Map())).size === 40,
        [a.engine],
        30_000,
        async () =>
          `refill (cloud has ${(await cloudNames(admin, db).catch(() => new Map())).size}) ${a.memory.lines.map((l) => String(l.message)).join(' / ')}`,
      );
      assert.equal((await partnerNames(a)).size, 40, 'no local document lost');
      const resets = a.memory.events('sync.reset');
      assert.ok(resets.length > 0, 'sync.reset logged');
      assert.equal(resets[0].level, 'warn');
      assert.match(String(resets[0].reason), /missing/);
    });

    it('given a locally edited document whose cloud copy is gone, when pushing, then it is created again in the cloud and the books keep the edit', async () => {
      const a = await site();
      await a.books.putMany(partners(3) as never);
      await a.engine.syncOnce();
      await admin.deleteDb(db);
      await admin.createDb(db);
      const doc = (await a.books.get('partner:p0000')) as unknown as Doc;
      await a.books.put({ ...doc, name: 'edited after the cloud was emptied' } as never);
      await a.engine.syncOnce();
      await a.engine.syncOnce();
      const local = (await a.books.get('partner:p0000')) as unknown as Doc;
      assert.ok(local, 'the books still hold the document');
      assert.equal(local.name, 'edited after the cloud was emptied');
      assert.equal(
        (await admin.doc(db, 'partner:p0000'))?.name,
        'edited after the cloud was emptied',
      );
      assert.equal((await cloudNames(admin, db)).size, 3, 'the unedited ones come back too');
    });

    it('given a cloud restored from an older copy, when syncing, then later pushes are pushed again and the books lose nothing', async () => {
      const a = await site();
      await a.books.putMany(partners(10) as never);
      await a.engine.syncOnce();
      const backup = await admin.dump(db, [await a.engine.cloudMarkerId()]);
      assert.equal(backup.locals.length, 1, 'the backup holds the marker');
      // After the backup: one edit, one new document, one deletion.
      const d1 = (await a.books.get('partner:p0001')) as unknown as Doc;
      await a.books.put({ ...d1, name: 'edited after the backup' } as never);
      await a.books.putMany(partners(1, 'new') as never);
      await a.books.remove('partner:p0002');
      await a.engine.syncOnce();
      await admin.restore(db, backup);
      await a.restartWith({});
      await a.engine.syncOnce();
      const books = await partnerNames(a);
      assert.equal(
        books.get('partner:p0001'),
        'edited after the backup',
        'the books keep the later edit',
      );
      assert.equal(books.has('partner:new0000'), true);
      assert.equal(books.has('partner:p0002'), false, 'the later deletion stands');
      const cloud = await cloudNames(admin, db);
      assert.equal(
        cloud.get('partner:p0001'),
        'edited after the backup',
        'the older cloud copy is overwritten',
      );
      assert.equal(cloud.has('partner:new0000'), true);
      assert.equal(cloud.has('partner:p0002'), false, 'the deletion is pushed again');
      assert.equal(cloud.size, 10);
      const reset = a.memory.events('sync.reset')[0];
      assert.match(String(reset.reason), /older/);
    });

    it('given a different cloud database, when the engine restarts on its URL, then everything the books hold is pushed to it', async () => {
      const a = await site();
      await a.books.putMany(partners(25) as never);
      await a.engine.syncOnce();
      const other = `${db}other`;
      await admin.deleteDb(other);
      const seen: RewalkProgress[] = [];
      await a.restartWith({
        cloud: { url: admin.siteUrl(other), requestTimeoutMs: 5000 },
        batchSize: 10,
      });
      a.engine.status$.subscribe((s) => {
        if (s.rewalk) seen.push(s.rewalk);
      });
      await a.engine.syncOnce();
      assert.equal((await cloudNames(admin, other)).size, 25);
      assert.equal((await partnerNames(a)).size, 25);
      assert.ok(seen.length >= 1, 'status shows the re-walk while it runs');
      assert.equal(seen[seen.length - 1].checked, 25);
      assert.equal(a.engine.status().rewalk, null, 'and clears it when done');
      await admin.deleteDb(other);
    });

    it('given a cloud database emptied and recreated, when a cloud tombstone exists for one document, then only that one is deleted from the books and the others are pushed again', async () => {
      const a = await site();
      await a.books.putMany(partners(3) as never);
      await a.engine.syncOnce();
      await admin.deleteDb(db);
      await admin.createDb(db);
      // The new cloud holds p0000 deleted (someone deleted it there), nothing else.
      const rev = await admin.put(db, partners(1)[0]);
      await admin.remove(db, 'partner:p0000', rev);
      await a.restartWith({});
      await a.engine.syncOnce();
      const books = await partnerNames(a);
      assert.equal(books.has('partner:p0000'), false, 'a cloud tombstone is a deletion');
      assert.equal(books.has('partner:p0001'), true);
      assert.equal(books.has('partner:p0002'), true);
      assert.equal((await cloudNames(admin, db)).size, 2);
    });
  });
}

for (const [name, factory] of cloudFactories()) identitySuite(name, factory);

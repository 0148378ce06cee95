import assert from 'node:assert/strict';
import {
  cloudFactories,
  cloudPerTest,
  type CloudAdmin,
  type CloudFactory,
} from '../helpers/cloud-admin';
import { Site } from '../helpers/cloud-server';
import type { SyncTypeOptions } from '../../src/sync';

type Doc = Record<string, unknown> & { _id: string };

function partners(n: number, prefix = 'p', extra: Record<string, unknown> = {}): Doc[] {
  return Array.from({ length: n }, (_, i) => ({
    _id: `partner:${prefix}${String(i).padStart(4, '0')}`,
    type: 'partner',
    name: `Partner ${prefix}${i}`,
    bank_accounts: [],
    ...extra,
  }));
}

function rules(partner: SyncTypeOptions): { types: Record<string, SyncTypeOptions> } {
  return { types: { partner } };
}

/** Rule changes are part of the replication identity, against any cloud the factory gives. */
export function rulesSuite(name: string, factory: CloudFactory): void {
  describe(`sync rule changes (component, ${name})`, function () {
    this.timeout(60_000);
    const cloud = cloudPerTest(factory, 'rules');
    const sites = cloud.sites;
    let admin: CloudAdmin;
    let db: string;
    beforeEach(() => ({ admin, db } = cloud));

    async function site(partner: SyncTypeOptions): Promise<Site> {
      const s = await Site.open(admin.siteUrl(db), rules(partner));
      sites.push(s);
      return s;
    }

    async function cloudPartners(): Promise<Map<string, Doc>> {
      return new Map(
        (await admin.allDocs(db))
          .filter((d) => d.type === 'partner')
          .map((d) => [String(d._id), d as Doc]),
      );
    }

    it('given a type with direction none and existing documents, when its rule becomes both, then every existing document reaches the cloud and the change is logged', async () => {
      const a = await site({ direction: 'none' });
      await a.books.putMany(partners(12) as never);
      await a.engine.syncOnce();
      assert.equal((await cloudPartners()).size, 0);
      await a.restartWith(rules({ direction: 'both' }));
      await a.engine.syncOnce();
      assert.equal((await cloudPartners()).size, 12);
      const changed = a.memory.events('sync.rules_changed');
      assert.equal(changed.length, 1);
      assert.match(
        String((changed[0].types as Record<string, string>).partner),
        /existing documents are pushed/,
      );
      assert.equal(a.memory.events('sync.reset')[0].level, 'warn');
    });

    it('given a push-only type, when its rule becomes both, then the cloud documents and cloud edits made meanwhile are pulled', async () => {
      const a = await site({ direction: 'push' });
      await a.books.putMany(partners(3) as never);
      await a.engine.syncOnce();
      const p0 = (await admin.doc(db, 'partner:p0000')) as Doc;
      await admin.put(db, { ...p0, name: 'edited in the cloud' });
      await admin.put(db, { ...partners(1, 'cloud')[0] });
      await a.engine.syncOnce();
      assert.equal(
        ((await a.books.get('partner:p0000')) as unknown as Doc).name,
        'Partner p0',
        'push-only: nothing comes down',
      );
      await a.restartWith(rules({ direction: 'both' }));
      await a.engine.syncOnce();
      assert.equal(
        ((await a.books.get('partner:p0000')) as unknown as Doc).name,
        'edited in the cloud',
      );
      assert.ok(await a.books.get('partner:cloud0000'), 'a cloud-only document is pulled');
      assert.match(
        String((a.memory.events('sync.rules_changed')[0].types as Record<string, string>).partner),
        /cloud documents are pulled/,
      );
    });

    it('given a field newly excluded from push, when the rules change, then the cloud copies keep it, it is reported, a later edit keeps it, and strip-excluded removes it on request', async () => {
      const a = await site({ direction: 'both' });
      await a.books.putMany(partners(4, 'p', { internal_notes: 'note' }) as never);
      await a.engine.syncOnce();
      await a.restartWith(rules({ direction: 'both', exclude: { push: ['internal_notes'] } }));
      await a.engine.syncOnce();
      assert.deepEqual(a.engine.status().excluded_in_cloud, {
        partner: { fields: ['internal_notes'], docs: 4 },
      });
      const reported = a.memory.events('sync.excluded_in_cloud');
      assert.equal(reported[0].docs, 4);
      const p0 = (await a.books.get('partner:p0000')) as unknown as Doc;
      await a.books.put({ ...p0, name: 'renamed', internal_notes: 'changed locally' } as never);
      await a.engine.syncOnce();
      const cloud = await cloudPartners();
      assert.equal(cloud.get('partner:p0000')?.name, 'renamed');
      assert.equal(
        cloud.get('partner:p0000')?.internal_notes,
        'note',
        'nothing erased, and the new value does not cross',
      );
      await a.restartWith({});
      await a.engine.syncOnce();
      assert.equal(
        a.engine.status().excluded_in_cloud?.partner.docs,
        4,
        'still reported after a restart',
      );
      const stripped = await a.engine.stripExcluded();
      assert.equal(stripped.docs, 4);
      for (const doc of (await cloudPartners()).values())
        assert.equal(doc.internal_notes, undefined);
      assert.equal(a.engine.status().excluded_in_cloud, null);
      assert.equal(
        ((await a.books.get('partner:p0000')) as unknown as Doc).internal_notes,
        'changed locally',
        'the books keep theirs',
      );
      await a.engine.syncOnce();
      assert.equal(((await a.books.get('partner:p0001')) as unknown as Doc).internal_notes, 'note');
    });

    it('given a field excluded from push, when the exclusion is removed, then the books values reach the cloud and no side loses a field', async () => {
      const a = await site({ direction: 'both', exclude: { push: ['internal_notes'] } });
      await a.books.putMany(partners(3, 'p', { internal_notes: 'private' }) as never);
      await a.engine.syncOnce();
      const p0 = (await admin.doc(db, 'partner:p0000')) as Doc;
      assert.equal(p0.internal_notes, undefined);
      await admin.put(db, { ...p0, cloud_only: 'kept' });
      await a.engine.syncOnce();
      await a.restartWith(rules({ direction: 'both' }));
      await a.engine.syncOnce();
      const cloud = await cloudPartners();
      for (const doc of cloud.values()) assert.equal(doc.internal_notes, 'private');
      assert.equal(cloud.get('partner:p0000')?.cloud_only, 'kept');
      const books = (await a.books.get('partner:p0000')) as unknown as Doc;
      assert.equal(books.internal_notes, 'private');
      assert.equal(books.cloud_only, 'kept');
    });

    it('given a type that syncs both ways, when a direction is removed, then nothing is deleted on either side', async () => {
      const a = await site({ direction: 'both' });
      await a.books.putMany(partners(3) as never);
      await a.engine.syncOnce();
      await a.restartWith(rules({ direction: 'none' }));
      await a.engine.syncOnce();
      await a.books.remove('partner:p0000');
      await a.engine.syncOnce();
      assert.equal((await cloudPartners()).size, 3);
      await a.restartWith(rules({ direction: 'pull' }));
      await a.engine.syncOnce();
      assert.equal((await cloudPartners()).size, 3, 'a pull-only type pushes no deletion');
      assert.equal((await a.books.allOfType('partner')).length, 2);
      assert.match(
        String((a.memory.events('sync.rules_changed')[0].types as Record<string, string>).partner),
        /nothing is deleted/,
      );
    });
  });
}

for (const [name, factory] of cloudFactories()) rulesSuite(name, factory);

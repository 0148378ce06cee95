import assert from 'node:assert/strict';
import { Site } from '../helpers/cloud-server';
import { cloudKinds, startCloud, type TestCloud } from '../helpers/test-cloud';

for (const kind of cloudKinds())
  describe(`sync smoke [${kind}]`, function () {
    let cloud: TestCloud;
    const sites: Site[] = [];
    before(async () => {
      cloud = await startCloud(kind);
    });
    after(async () => {
      for (const s of sites) await s.destroy();
      await cloud.destroy();
    });

    it('given a partner written on site A, when both sync, then site B has it', async () => {
      const types = {
        partner: {
          direction: 'both' as const,
          conflict: 'merge',
          exclude: { push: ['internal_notes'], both: ['bank_accounts[].iban'] },
        },
      };
      const a = await Site.open(cloud.dbUrl('smoke'), { types });
      const b = await Site.open(cloud.dbUrl('smoke'), { types });
      sites.push(a, b);
      await a.books.put({
        _id: 'partner:p1',
        type: 'partner',
        name: 'ACME',
        bank_accounts: [{ iban: 'DE89370400440532013000', bic: 'COBADEFFXXX' }],
        internal_notes: 'secret',
        email: 'a@b.c',
      });
      const r1 = await a.engine.syncOnce();
      assert.equal(r1.push.docs, 1);
      const raw = await cloud.raw('smoke', 'partner:p1');
      assert.ok(raw);
      assert.equal(raw.internal_notes, undefined);
      assert.deepEqual(raw.bank_accounts, [{ bic: 'COBADEFFXXX' }]);
      const r2 = await b.engine.syncOnce();
      // The iban is excluded both ways: site B stores the partner with the rest of its bank account.
      assert.equal(r2.pull.docs, 1);
      assert.deepEqual(await b.engine.listConflicts(), []);
      const p1 = (await b.books.get('partner:p1')) as {
        bank_accounts: unknown;
        internal_notes?: string;
      };
      assert.deepEqual(p1.bank_accounts, [{ bic: 'COBADEFFXXX' }]);
      assert.equal(p1.internal_notes, undefined);
      await a.books.put({ _id: 'partner:p2', type: 'partner', name: 'Beta', bank_accounts: [] });
      await a.engine.syncOnce();
      const r3 = await b.engine.syncOnce();
      assert.equal(r3.pull.docs, 1);
      const got = await b.books.get('partner:p2');
      assert.equal((got as { name: string }).name, 'Beta');
    });
  });

import assert from 'node:assert/strict';
import { Site } from '../helpers/cloud-server';
import { cloudFetch, cloudKinds, startCloud, type TestCloud } from '../helpers/test-cloud';

type Doc = Record<string, unknown> & { _id: string };

const types = {
  partner: {
    direction: 'both' as const,
    conflict: 'merge',
    tie_breaker: 'remote-wins',
    exclude: {
      push: ['internal_notes', 'meta.private'],
      pull: ['cloud_score'],
      both: ['bank_accounts[].iban'],
    },
  },
};

for (const kind of cloudKinds())
  describe(`sync field exclusion on the wire (component) [${kind}]`, function () {
    this.timeout(30_000);
    let cloud: TestCloud;
    let site: Site;
    const DB = 'exclusion';

    before(async () => {
      cloud = await startCloud(kind);
      site = await Site.open(cloud.dbUrl(DB), { types });
    });
    after(async () => {
      await site.destroy();
      await cloud.destroy();
    });

    async function wire(): Promise<string> {
      const docs = await cloudFetch(`${cloud.dbUrl(DB)}/_all_docs?include_docs=true`).then((r) =>
        r.text(),
      );
      const changes = await cloudFetch(
        `${cloud.dbUrl(DB)}/_changes?include_docs=true&style=all_docs`,
      ).then((r) => r.text());
      return docs + changes;
    }

    async function cloudPut(doc: Doc): Promise<void> {
      const res = await cloudFetch(`${cloud.dbUrl(DB)}/${encodeURIComponent(doc._id)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(doc),
      });
      assert.ok(res.ok, await res.text());
    }

    it('given private fields (top level, nested, inside arrays), when pushing, then none of them is on the cloud', async () => {
      await site.books.put({
        _id: 'partner:acme',
        type: 'partner',
        name: 'ACME',
        email: 'a@acme.example',
        bank_accounts: [
          { iban: 'DE89370400440532013000', bic: 'COBADEFFXXX' },
          { iban: 'FR7630006000011234567890189' },
        ],
        internal_notes: 'LOCAL-SECRET-NOTE',
        meta: { private: 'LOCAL-NESTED-SECRET', public: 'shown' },
      } as never);
      await site.engine.syncOnce();
      const raw = (await cloud.raw(DB, 'partner:acme')) as Doc;
      assert.deepEqual(raw.bank_accounts, [{ bic: 'COBADEFFXXX' }, {}]);
      assert.deepEqual(raw.meta, { public: 'shown' });
      assert.equal(raw.internal_notes, undefined);
      const everything = await wire();
      for (const secret of [
        'LOCAL-SECRET-NOTE',
        'LOCAL-NESTED-SECRET',
        'DE89370400440532013000',
        'FR7630006000011234567890189',
      ]) {
        assert.ok(!everything.includes(secret), `${secret} crossed the wire`);
      }
    });

    it('given the cloud edits the doc and has its own excluded values, when pulling, then the books keep their private values and skip pull-excluded fields', async () => {
      const raw = (await cloud.raw(DB, 'partner:acme')) as Doc;
      await cloudPut({
        ...raw,
        name: 'ACME GmbH',
        cloud_score: 97,
        bank_accounts: [{ iban: 'CLOUD-IBAN-1', bic: 'COBADEFFXXX' }, { iban: 'CLOUD-IBAN-2' }],
      });
      const r = await site.engine.syncOnce();
      assert.equal(r.pull.docs, 1);
      const local = (await site.books.get('partner:acme')) as Doc;
      assert.equal(local.name, 'ACME GmbH');
      assert.equal(local.internal_notes, 'LOCAL-SECRET-NOTE');
      assert.deepEqual(local.meta, { private: 'LOCAL-NESTED-SECRET', public: 'shown' });
      assert.deepEqual(local.bank_accounts, [
        { iban: 'DE89370400440532013000', bic: 'COBADEFFXXX' },
        { iban: 'FR7630006000011234567890189' },
      ]);
      assert.equal(local.cloud_score, undefined, 'pull-excluded field is not taken');
    });

    it('given a local edit, when pushing, then the cloud keeps its own excluded values', async () => {
      const local = (await site.books.get('partner:acme')) as Doc;
      await site.books.put({
        ...local,
        email: 'billing@acme.example',
        internal_notes: 'NEW-LOCAL-SECRET',
      } as never);
      const r = await site.engine.syncOnce();
      assert.equal(r.push.docs, 1);
      const raw = (await cloud.raw(DB, 'partner:acme')) as Doc;
      assert.equal(raw.email, 'billing@acme.example');
      assert.equal(raw.cloud_score, 97);
      assert.deepEqual(raw.bank_accounts, [
        { iban: 'CLOUD-IBAN-1', bic: 'COBADEFFXXX' },
        { iban: 'CLOUD-IBAN-2' },
      ]);
      assert.ok(!(await wire()).includes('NEW-LOCAL-SECRET'));
    });

    it('given only an excluded field changed locally, when syncing, then nothing is written (the projection equals the base)', async () => {
      const local = (await site.books.get('partner:acme')) as Doc;
      const before = ((await cloud.raw(DB, 'partner:acme')) as Doc)._rev;
      // keepTimestamps: a writer that changes only the private field (the store would otherwise stamp updated_at, a shared field)
      await site.books.put({ ...local, internal_notes: 'only private changed' } as never, {
        keepTimestamps: true,
      });
      const r = await site.engine.syncOnce();
      assert.equal(r.push.docs, 0);
      assert.equal(((await cloud.raw(DB, 'partner:acme')) as Doc)._rev, before);
    });

    it('given a cloud change to a pull-excluded field only, when pulling, then the books are not touched', async () => {
      const raw = (await cloud.raw(DB, 'partner:acme')) as Doc;
      const localBefore = ((await site.books.get('partner:acme')) as Doc)._rev;
      await cloudPut({ ...raw, cloud_score: 12 });
      const r = await site.engine.syncOnce();
      assert.equal(r.pull.docs, 0);
      assert.equal(((await site.books.get('partner:acme')) as Doc)._rev, localBefore);
      // and the next push still carries the cloud's newest value over
      const local = (await site.books.get('partner:acme')) as Doc;
      await site.books.put({ ...local, email: 'x@acme.example' } as never);
      await site.engine.syncOnce();
      assert.equal(((await cloud.raw(DB, 'partner:acme')) as Doc).cloud_score, 12);
    });
  });

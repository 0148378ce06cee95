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

const RECEIPT = Buffer.from('%PDF-1.4 scanned receipt\n'.repeat(40));

function partner(id: string): Doc {
  return { _id: id, type: 'partner', name: `Partner ${id}`, bank_accounts: [] };
}

/** Attachments both ways, against any cloud the factory gives. */
export function attachmentSuite(name: string, factory: CloudFactory): void {
  describe(`sync attachments (component, ${name})`, function () {
    this.timeout(30_000);
    const cloud = cloudPerTest(factory, 'attachments');
    const sites = cloud.sites;
    let admin: CloudAdmin;
    let db: string;
    beforeEach(() => ({ admin, db } = cloud));

    async function site(
      partnerRule: SyncTypeOptions = { direction: 'both' },
      extra: Parameters<typeof Site.open>[1] = {},
    ): Promise<Site> {
      const s = await Site.open(admin.siteUrl(db), { types: { partner: partnerRule }, ...extra });
      sites.push(s);
      return s;
    }

    async function attach(s: Site, id: string, file: string, data: Buffer): Promise<void> {
      const doc = (await s.books.get(id)) as unknown as Doc;
      await s.books.db.putAttachment(id, file, String(doc._rev), data, 'application/pdf');
    }

    async function localAttachment(s: Site, id: string, file: string): Promise<Buffer | null> {
      const data = await (s.books.db.getAttachment(id, file) as Promise<Buffer>).catch(() => null);
      return data ? Buffer.from(data) : null;
    }

    function cloudAttachment(id: string, file: string): Promise<Buffer | null> {
      return admin.attachment(db, id, file);
    }

    it('given a document with an attachment in the books, when pushing, then the cloud copy has the attachment with the same bytes', async () => {
      const a = await site();
      await a.books.put(partner('partner:acme') as never);
      await attach(a, 'partner:acme', 'receipt.pdf', RECEIPT);
      await a.engine.syncOnce();
      assert.deepEqual(await cloudAttachment('partner:acme', 'receipt.pdf'), RECEIPT);
    });

    it('given a pushed attachment, when the cloud edits the document, then the books keep the attachment', async () => {
      const a = await site();
      await a.books.put(partner('partner:acme') as never);
      await attach(a, 'partner:acme', 'receipt.pdf', RECEIPT);
      await a.engine.syncOnce();
      const cloud = (await admin.doc(db, 'partner:acme')) as Doc;
      await admin.put(db, { ...cloud, name: 'ACME renamed in the cloud' });
      await a.engine.syncOnce();
      assert.equal(
        ((await a.books.get('partner:acme')) as unknown as Doc).name,
        'ACME renamed in the cloud',
      );
      assert.deepEqual(await localAttachment(a, 'partner:acme', 'receipt.pdf'), RECEIPT);
    });

    it('given an attachment added in the cloud, when pulling, then the books get it with its bytes', async () => {
      const a = await site();
      await a.books.put(partner('partner:acme') as never);
      await a.engine.syncOnce();
      const cloud = (await admin.doc(db, 'partner:acme')) as Doc;
      await admin.put(db, {
        ...cloud,
        _attachments: {
          'invoice.pdf': { content_type: 'application/pdf', data: RECEIPT.toString('base64') },
        },
      });
      await a.engine.syncOnce();
      assert.deepEqual(await localAttachment(a, 'partner:acme', 'invoice.pdf'), RECEIPT);
    });

    it('given _attachments excluded from push, when syncing, then the cloud never gets them and a cloud edit does not erase them', async () => {
      const a = await site({ direction: 'both', exclude: { push: ['_attachments'] } });
      await a.books.put(partner('partner:acme') as never);
      await attach(a, 'partner:acme', 'receipt.pdf', RECEIPT);
      await a.engine.syncOnce();
      assert.equal(await cloudAttachment('partner:acme', 'receipt.pdf'), null);
      const cloud = (await admin.doc(db, 'partner:acme')) as Doc;
      await admin.put(db, { ...cloud, name: 'renamed' });
      await a.engine.syncOnce();
      assert.equal(((await a.books.get('partner:acme')) as unknown as Doc).name, 'renamed');
      assert.deepEqual(await localAttachment(a, 'partner:acme', 'receipt.pdf'), RECEIPT);
    });

    it('given an attachment over the size cap, when pushing, then that document is refused with an error naming it and the others go through', async () => {
      const a = await site({ direction: 'both' }, { maxAttachmentBytes: 100 });
      await a.books.put(partner('partner:big') as never);
      await a.books.put(partner('partner:plain') as never);
      await attach(a, 'partner:big', 'scan.pdf', RECEIPT);
      await a.engine.syncOnce();
      assert.ok(await admin.doc(db, 'partner:plain'));
      assert.equal(await admin.doc(db, 'partner:big'), null);
      const reject = a.memory.events('sync.reject').find((e) => e.doc_id === 'partner:big');
      assert.ok(reject, 'a sync.reject line');
      assert.match(String(reject.message), /scan\.pdf.*over sync\.max_attachment_bytes \(100\)/);
    });

    it('given design documents on both sides, when syncing with every type going both ways, then none crosses', async () => {
      const a = await site({ direction: 'both' }, { default: { direction: 'both' } });
      await a.books.db.put({ _id: '_design/local', views: {} } as never);
      await admin.createDb(db);
      await admin.put(db, { _id: '_design/cloud', views: {} });
      await a.books.put(partner('partner:acme') as never);
      await a.engine.syncOnce();
      assert.ok(await admin.doc(db, 'partner:acme'));
      assert.equal(await admin.doc(db, '_design/local'), null);
      assert.equal(await a.books.db.get('_design/cloud').catch(() => null), null);
    });
  });
}

for (const [name, factory] of cloudFactories()) attachmentSuite(name, factory);

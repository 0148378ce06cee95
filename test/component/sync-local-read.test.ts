import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BooksStore, type BooksChangesPage, type PartnerDoc } from '../../src/ledger';
import { openSync, type SyncRuntime } from '../../src/sync';
import { CloudServer, memoryLogger } from '../helpers/cloud-server';

function partner(i: number, name = `Partner ${i}`): PartnerDoc {
  return {
    _id: `partner:${String(i).padStart(4, '0')}`,
    type: 'partner',
    name,
    email: `p${i}@example.com`,
    bank_accounts: [],
  };
}

/**
 * The push reads the books through `BooksStore.changesReader` (LevelDB read directly, not
 * `db.changes`). These runs go through `openSync` with the books as the daemon passes them, in
 * small pages, over a history where many entries of `by-sequence` are superseded.
 */
describe('sync push reads the books through their LevelDB changes reader (component)', function () {
  this.timeout(60_000);
  let cloud: CloudServer;
  let dir: string;
  let books: BooksStore;
  let runtime: SyncRuntime | undefined;
  const pages: BooksChangesPage[] = [];

  before(async () => {
    cloud = await CloudServer.start();
  });
  after(async () => {
    await cloud.destroy();
  });
  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'booksync-local-read-'));
    books = await BooksStore.open(path.join(dir, 'books'), { logger: memoryLogger().logger });
    pages.length = 0;
    // Records every page the engine is given (the reader is the books' own; only observed).
    const reader = books.changesReader;
    const read = reader.readChanges.bind(reader);
    reader.readChanges = async (since, limit) => {
      const page = await read(since, limit);
      if (page) pages.push(page);
      return page;
    };
  });
  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
    await books.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(db: string): Promise<SyncRuntime> {
    runtime = await openSync({
      books,
      bookkeepingDir: path.join(dir, 'sync'),
      cloud: { url: cloud.dbUrl(db), requestTimeoutMs: 5000 },
      logger: memoryLogger().logger,
      mode: 'interval',
      intervalMs: 3_600_000,
      batchSize: 37,
      types: { partner: { direction: 'both', conflict: 'local-wins' } },
    });
    return runtime;
  }

  /** Ids the engine was handed since `from` (a page index); asserts none twice. */
  function idsRead(from = 0): string[] {
    const ids = pages.slice(from).flatMap((p) => p.changes.map((c) => c.id));
    const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
    assert.deepEqual(twice, [], 'a document was handed to the push twice');
    return ids;
  }

  async function cloudPartners(db: string): Promise<Map<string, string>> {
    const raw = (await cloud.allRaw(db)).filter((d) => String(d._id).startsWith('partner:'));
    return new Map(raw.map((d) => [String(d._id), String(d.name)]));
  }

  it('given 400 partners, 80 edited twice and 40 deleted, when pushing in pages of 37, then the cloud holds exactly the live books, each document read once', async () => {
    const all = Array.from({ length: 400 }, (_, i) => partner(i));
    for (let i = 0; i < all.length; i += 100) await books.putMany(all.slice(i, i + 100));
    for (const round of [1, 2])
      await books.putMany(
        all.slice(100, 180).map((d) => ({ ...d, name: `Edited ${round} ${d._id}` })),
      );
    for (const d of all.slice(300, 340)) await books.remove(d._id);
    const { engine } = await open('once');

    const report = await engine.syncOnce(['push']);

    const live = new Map(
      (await books.allOfType<PartnerDoc>('partner')).map((d) => [d._id, d.name]),
    );
    assert.equal(live.size, 360);
    assert.ok(
      pages.length >= Math.ceil(520 / 37),
      `the reader served the push (${pages.length} pages)`,
    );
    assert.deepEqual(
      new Set(idsRead()),
      new Set(all.map((d) => d._id)),
      'every document was read, deleted ones too',
    );
    assert.equal(report.push.docs, 360);
    assert.deepEqual(await cloudPartners('once'), live);
    assert.equal(
      pages[pages.length - 1].lastSeq,
      (await books.db.info()).update_seq,
      'the checkpoint reaches the end of the books',
    );
  });

  it('given a pushed state, when documents change and are pushed again, then only the changed ones are read and the cloud follows', async () => {
    const all = Array.from({ length: 120 }, (_, i) => partner(i));
    await books.putMany(all);
    const { engine } = await open('again');
    assert.equal((await engine.syncOnce(['push'])).push.docs, 120);
    const before = pages.length;

    await books.putMany(all.slice(0, 50).map((d) => ({ ...d, name: `Renamed ${d._id}` })));
    for (const d of all.slice(50, 60)) await books.remove(d._id);
    const report = await engine.syncOnce(['push']);

    assert.deepEqual(new Set(idsRead(before)), new Set(all.slice(0, 60).map((d) => d._id)));
    assert.equal(report.push.docs, 60);
    const live = new Map(
      (await books.allOfType<PartnerDoc>('partner')).map((d) => [d._id, d.name]),
    );
    assert.deepEqual(await cloudPartners('again'), live);
  });
});

import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import winston from 'winston';
import { BooksStore, type ExpectedWrite } from '../../src/ledger';
import { levelInternals } from '../../src/ledger/pouch-level';
import { leveldown, readRange } from '../../src/shared/leveldown';
import { account, move } from '../helpers/local-api-harness';

/**
 * `writeExpecting` stores documents new to the books straight into PouchDB's LevelDB
 * (src/ledger/level-creates.ts). What it stores must be what PouchDB's own `bulkDocs` stores, and
 * PouchDB must go on working over it: reads, updates, deletions, live feeds, its own writes in
 * between, a reopen.
 */

const silent = winston.createLogger({ silent: true });

function tmpDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `booksync-creates-${name}-`));
}

function docs(n: number, from = 0): Array<Record<string, unknown> & { _id: string }> {
  const out: Array<Record<string, unknown> & { _id: string }> = [];
  for (let i = from; i < from + n; i++)
    out.push(
      i % 3 === 0
        ? (move(`K${i}`, 'posted', 1000 + i) as unknown as Record<string, unknown> & {
            _id: string;
          })
        : (account(String(1000 + i), { name: `Account "${i}" é` }) as unknown as Record<
            string,
            unknown
          > & { _id: string }),
    );
  return out;
}

const creates = (list: Array<Record<string, unknown> & { _id: string }>): ExpectedWrite[] =>
  list.map((doc) => ({ doc, expectedRev: null }));

/** Every LevelDB record of the books in `dir` but the adapter's instance id, as strings. */
async function dump(dir: string): Promise<Array<[string, string]>> {
  const level = leveldown(dir);
  await new Promise<void>((resolve, reject) =>
    level.open({ createIfMissing: false }, (err) => (err ? reject(err) : resolve())),
  );
  try {
    const all = await readRange(level, {});
    return all.filter(([key]) => !key.endsWith('_local_uuid'));
  } finally {
    await new Promise<void>((resolve) => level.close(() => resolve()));
  }
}

describe('books: new documents stored straight into LevelDB', function () {
  this.timeout(30_000);
  const dirs: string[] = [];
  const open = async (name: string) => {
    const dir = tmpDir(name);
    dirs.push(dir);
    return { dir, store: await BooksStore.open(dir, { logger: silent }) };
  };
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('given the same new documents, then writeExpecting stores the records bulkDocs stores, but for the random revision hashes', async () => {
    const viaPouch = await open('pouch');
    const direct = await open('direct');
    assert.ok(levelInternals(direct.store.db), "the books' PouchDB exposes its adapter state");
    const list = docs(30);
    const pouchRes = await viaPouch.store.db.bulkDocs(list.map((d) => ({ ...d })));
    const directRes = await direct.store.writeExpecting(creates(list.map((d) => ({ ...d }))));
    const hashes = new Map<string, string>();
    directRes.forEach((r, i) => {
      assert.ok(r.ok, `${r.id} written`);
      const p = pouchRes[i] as PouchDB.Core.Response;
      assert.match(r.rev, /^1-[0-9a-f]{32}$/);
      hashes.set(r.rev.slice(2), p.rev.slice(2));
    });
    const [pouchInfo, directInfo] = [await viaPouch.store.db.info(), await direct.store.db.info()];
    assert.equal(directInfo.doc_count, 30);
    assert.equal(directInfo.update_seq, pouchInfo.update_seq);
    await viaPouch.store.close();
    await direct.store.close();
    const expected = await dump(viaPouch.dir);
    const got = (await dump(direct.dir)).map(
      ([key, value]) =>
        [key, value.replace(/[0-9a-f]{32}/g, (h) => hashes.get(h) ?? h)] as [string, string],
    );
    assert.equal(got.length, expected.length);
    assert.deepEqual(got, expected);
  });

  it('given directly stored documents, then PouchDB reads, updates, deletes and counts them, after a reopen too', async () => {
    const { dir, store } = await open('reuse');
    const list = docs(12);
    const res = await store.writeExpecting(creates(list));
    assert.ok(res.every((r) => r.ok));
    const acc = list[1];
    const stored = await store.db.get(acc._id);
    assert.equal((stored as unknown as { name: string }).name, acc.name);
    assert.equal(stored._rev, (res[1] as { rev: string }).rev);
    const updated = await store.db.put({ ...stored, name: 'renamed' });
    assert.match(updated.rev, /^2-/);
    await store.db.remove(list[2]._id, (res[2] as { rev: string }).rev);
    const all = await store.db.allDocs();
    assert.equal(all.rows.length, 11);
    await store.close();
    const again = await BooksStore.open(dir, { logger: silent });
    try {
      const info = await again.db.info();
      assert.equal(info.doc_count, 11);
      assert.equal(info.update_seq, 14);
      const feed = await again.db.changes({ include_docs: true });
      assert.equal(feed.results.length, 12);
      assert.equal(
        (feed.results.find((c) => c.id === acc._id)?.doc as unknown as { name: string }).name,
        'renamed',
      );
      const next = await again.writeExpecting(creates(docs(2, 100)));
      assert.ok(next.every((r) => r.ok));
      assert.equal((await again.db.info()).update_seq, 16);
    } finally {
      await again.close();
    }
  });

  it('given an id the books hold live, deleted, or twice in one call, then it is answered as bulkDocs answers it', async () => {
    const { store } = await open('held');
    try {
      const [live, gone, twice] = docs(3, 200);
      const first = await store.writeExpecting(creates([live, gone]));
      await store.db.remove(gone._id, (first[1] as { rev: string }).rev);
      const res = await store.writeExpecting(
        creates([{ ...live }, { ...gone }, twice, { ...twice }]),
      );
      assert.deepEqual(res[0], { id: live._id, ok: false, conflict: true });
      assert.ok(
        res[1].ok && res[1].rev.startsWith('3-'),
        'a deleted id is written over its tombstone',
      );
      assert.ok(res[2].ok && res[2].rev.startsWith('1-'));
      assert.deepEqual(res[3], { id: twice._id, ok: false, conflict: true });
      assert.equal((await store.db.info()).doc_count, 3);
    } finally {
      await store.close();
    }
  });

  it('given a live changes feed and PouchDB writes interleaved with direct ones, then every write gets its own seq and the feed sees each', async () => {
    const { store } = await open('interleave');
    const seen = new Map<string, number>();
    let wake: (() => void) | null = null;
    const feed = store.db.changes({ since: 'now', live: true });
    // The feed is also a promise of its end; `on` returns the feed, which is not awaited here.
    void feed.on('change', (c) => {
      seen.set(c.id, c.seq as number);
      wake?.();
    });
    try {
      const direct = docs(40, 300);
      const viaPouch = docs(40, 400).map((d) => ({ ...d, _id: `${d._id}-p` }));
      const [a, b] = await Promise.all([
        store.writeExpecting(creates(direct)),
        store.db.bulkDocs(viaPouch),
        store.writeExpecting(creates(docs(5, 500))),
      ]);
      assert.ok(a.every((r) => r.ok));
      assert.ok(b.every((r) => 'ok' in r && r.ok));
      assert.equal((await store.db.info()).update_seq, 85);
      while (seen.size < 85) await new Promise<void>((resolve) => (wake = resolve));
      assert.equal(new Set(seen.values()).size, 85, 'no seq written twice');
      const all = await store.db.allDocs({ include_docs: true });
      assert.equal(all.rows.length, 85);
    } finally {
      feed.cancel();
      await store.close();
    }
  });

  it('given a process killed (SIGKILL) while it stores new documents, then after each of five kills the books reopen whole: every acknowledged write is there, counts and seqs agree, and writes go on', async () => {
    const { dir, store } = await open('killed');
    await store.close();
    const helper = path.join(__dirname, '..', 'helpers', 'creates-until-killed.js');
    const acknowledged: number[] = [];
    for (let run = 0; run < 5; run++) {
      const child = fork(helper, [dir, String(run)], { stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_code, signal) => resolve(signal)),
      );
      // Killed right after its 2nd to 6th acknowledged write: the next one is usually in flight.
      const written = await new Promise<number>((resolve, reject) => {
        child.on('message', (msg: { written: number }) => {
          if (msg.written < 250 * (run + 2)) return;
          child.kill('SIGKILL');
          resolve(msg.written);
        });
        void exited.then((signal) => reject(new Error(`the writer ended (${signal}) unkilled`)));
      });
      assert.equal(await exited, 'SIGKILL');
      acknowledged.push(written);
      const books = await BooksStore.open(dir, { logger: silent });
      try {
        const info = await books.db.info();
        const all = await books.db.allDocs();
        const feed = await books.db.changes();
        assert.equal(info.doc_count, all.rows.length, `run ${run}: doc_count counts the documents`);
        assert.equal(feed.results.length, all.rows.length, `run ${run}: one change per document`);
        assert.equal(
          info.update_seq,
          feed.last_seq,
          `run ${run}: update_seq is the last stored seq`,
        );
        const ids = new Set(all.rows.map((r) => r.id));
        acknowledged.forEach((n, r) => {
          for (let k = 0; k < n; k++)
            assert.ok(ids.has(`account:R${r}-${k}`), `run ${r}: acknowledged write ${k} kept`);
        });
      } finally {
        await books.close();
      }
    }
    const books = await BooksStore.open(dir, { logger: silent });
    try {
      const before = (await books.db.info()).update_seq as number;
      const res = await books.writeExpecting(creates(docs(10, 900)));
      assert.ok(res.every((r) => r.ok));
      await books.db.put({ ...account('9999'), _id: 'account:9999' });
      const info = await books.db.info();
      assert.equal(info.update_seq, before + 11);
      assert.equal(info.doc_count, (await books.db.allDocs()).rows.length);
    } finally {
      await books.close();
    }
  });
});

import assert from 'node:assert/strict';
import {
  ContinuousChangesFeed,
  dbInfoOfClusteredCouch,
  streamsContinuousFeed,
} from '../../src/sync/couchdb/changes-stream';

const encoder = new TextEncoder();

function line(i: number): string {
  return JSON.stringify({
    seq: `${i}-opaque`,
    id: `d${i}`,
    changes: [{ rev: `1-${i}` }],
    doc: { _id: `d${i}`, _rev: `1-${i}`, v: i },
  });
}

/** A body sent in the given chunks; `pulled` counts the chunks the reader asked for. */
function body(chunks: string[]): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let next = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (next >= chunks.length) controller.close();
        else controller.enqueue(encoder.encode(chunks[next++]));
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => next };
}

function feed(stream: ReadableStream<Uint8Array>, bufferChanges = 100): ContinuousChangesFeed {
  return new ContinuousChangesFeed(stream, 'start', {
    bufferChanges,
    bufferBytes: 1 << 20,
    idleTimeoutMs: 5000,
    source: 'http://127.0.0.1:5984/books',
  });
}

describe('continuous _changes feed reader (unit)', () => {
  it('given lines split across chunks and heartbeats, when taking pages, then each change comes once, in order, and the last page carries last_seq and pending', async () => {
    const text = `${line(1)}\n${line(2)}\n\n${line(3)}\n{"last_seq":"3-end","pending":0}\n`;
    const chunks = [text.slice(0, 10), text.slice(10, 150), text.slice(150)];
    const f = feed(body(chunks).stream);
    const first = await f.take(2);
    assert.deepEqual(
      first.changes.map((c) => c.id),
      ['d1', 'd2'],
    );
    assert.equal(first.lastSeq, '2-opaque');
    assert.equal(first.ended, false);
    const second = await f.take(2);
    assert.deepEqual(
      second.changes.map((c) => c.id),
      ['d3'],
    );
    assert.equal(second.ended, true);
    assert.equal(second.lastSeq, '3-end');
    assert.equal(second.pending, 0);
    assert.equal((second.changes[0].doc as unknown as { v: number }).v, 3);
  });

  it('given a reader slower than the server, when the buffer is full, then the body is left unread until pages are taken, and reading goes on after', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => `${line(i + 1)}\n`);
    const source = body([...lines, '{"last_seq":"30-end","pending":0}\n']);
    const f = feed(source.stream, 5);
    const first = await f.take(1);
    assert.equal(first.changes[0].id, 'd1');
    await new Promise((r) => setImmediate(r));
    assert.ok(source.pulled() <= 7, `read ahead bounded (${source.pulled()} chunks read)`);
    const ids: string[] = first.changes.map((c) => c.id);
    for (;;) {
      const page = await f.take(4);
      ids.push(...page.changes.map((c) => c.id));
      if (page.ended) break;
    }
    assert.deepEqual(
      ids,
      Array.from({ length: 30 }, (_, i) => `d${i + 1}`),
    );
  });

  it('given a body that ends without last_seq, when taking past its last change, then the feed fails (a cut connection is not the end of the feed)', async () => {
    const f = feed(body([`${line(1)}\n${line(2)}\n`]).stream);
    const page = await f.take(10);
    assert.equal(page.changes.length, 2);
    assert.equal(page.ended, false);
    await assert.rejects(f.take(10), /ended without its last_seq/);
  });

  it('given root answers, when asked which servers stream the feed, then Apache CouchDB and Cloudant do and express-pouchdb does not', () => {
    assert.equal(
      streamsContinuousFeed({
        couchdb: 'Welcome',
        version: '3.5.0',
        vendor: { name: 'The Apache Software Foundation' },
      }),
      true,
    );
    assert.equal(
      streamsContinuousFeed({
        couchdb: 'Welcome',
        version: '2.1.1',
        vendor: { name: 'IBM Cloudant' },
      }),
      true,
    );
    assert.equal(
      streamsContinuousFeed({
        'express-pouchdb': 'Welcome!',
        version: '4.2.0',
        vendor: { name: 'PouchDB authors' },
      }),
      false,
    );
    assert.equal(streamsContinuousFeed('Welcome'), false);
    assert.equal(streamsContinuousFeed(null), false);
  });

  it('given database info answers, when asked which come from a clustered CouchDB, then CouchDB 3 is and express-pouchdb is not', () => {
    assert.equal(
      dbInfoOfClusteredCouch({
        db_name: 'books',
        update_seq: '10-g1AAAA',
        cluster: { q: 2, n: 1, w: 1, r: 1 },
        props: {},
      }),
      true,
    );
    assert.equal(
      dbInfoOfClusteredCouch({
        db_name: 'books',
        update_seq: 10,
        backend_adapter: 'LevelDOWN',
        adapter: 'leveldb',
      }),
      false,
    );
    assert.equal(dbInfoOfClusteredCouch(null), false);
  });
});

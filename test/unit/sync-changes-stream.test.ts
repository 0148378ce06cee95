import { strict as assert } from 'node:assert';
import { ChangesStream } from '../../src/sync/couchdb/changes-stream';
import { SyncProtocolError, SyncUnavailableError } from '../../src/sync/errors';
import type {
  ChangesOptions,
  RemoteChange,
  RemoteChangesPage,
  RemoteStore,
  StreamedChanges,
  StreamOptions,
} from '../../src/sync/remote-store';
import { StreamedReadAhead } from '../../src/sync/stream-read-ahead';

const seq = (n: number) => `${n}-g1AAAA`; // opaque, like a CouchDB 3 seq
const position = (since: unknown) => (since === 0 ? 0 : Number(String(since).split('-')[0]));

/** The rows after change `from` up to `to`, with a seq on every `interval`-th one (CouchDB's `seq_interval` spaces them so, though not always from the same row). */
function rows(from: number, to: number, interval: number) {
  return Array.from({ length: to - from }, (_, i) => ({
    seq: (i + 1) % interval === 0 ? seq(from + i + 1) : null,
    id: `doc:${from + i + 1}`,
    changes: [{ rev: '1-a' }],
    doc: { _id: `doc:${from + i + 1}`, _rev: '1-a', text: 'é'.repeat(20) },
  }));
}

/** Apache CouchDB's normal `_changes` answer, one row per line, as chttpd sends it. */
function couchAnswer(from: number, to: number, interval: number, pending = 0): string {
  const lines = rows(from, to, interval).map((r) => JSON.stringify(r));
  return `{"results":[\n${lines.join(',\n')}\n],\n"last_seq":"${seq(to)}","pending":${pending}}\n`;
}

/**
 * A response body sending `text` in chunks of `chunk` bytes (cutting lines and UTF-8 sequences),
 * on demand; `pulled` counts the chunks the reader asked for. With `cutBefore` the connection
 * breaks just before the first place that text appears.
 */
function body(text: string, chunk: number, cutBefore?: string) {
  const bytes = Buffer.from(text);
  const cutAfter =
    cutBefore === undefined ? Infinity : Buffer.byteLength(text.slice(0, text.indexOf(cutBefore)));
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const at = state.pulled * chunk;
        state.pulled++;
        if (at >= cutAfter) return controller.error(new TypeError('terminated'));
        if (at >= bytes.length) return controller.close();
        controller.enqueue(new Uint8Array(bytes.subarray(at, Math.min(at + chunk, cutAfter))));
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

const options = (pageSize: number, bufferChanges = pageSize * 3, bufferBytes = 1 << 30) => ({
  pageSize,
  bufferChanges,
  bufferBytes,
  idleTimeoutMs: 5000,
  source: 'http://cloud.test/books',
});

/** Lets `n` turns of the event loop pass (every read the stream would start has started). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

async function takeAll(stream: ChangesStream, max: number) {
  const pages: Array<{ ids: string[]; lastSeq: unknown; ended: boolean; pending?: number }> = [];
  for (;;) {
    const page = await stream.take(max);
    pages.push({ ...page, ids: page.changes.map((c) => c.id) });
    if (page.ended) return pages;
  }
}

describe('ChangesStream (a streamed _changes answer)', () => {
  it('given CouchDB sends 1,050 changes in chunks that cut lines and characters, then pages of 100 come out in order, each ending at a change with a seq, the last with the answer’s last_seq', async () => {
    const { stream } = body(couchAnswer(0, 1050, 100, 3), 333);
    const pages = await takeAll(new ChangesStream(stream, 0, options(100)), 100);
    const ids = pages.flatMap((p) => p.ids);
    assert.deepEqual(
      ids,
      Array.from({ length: 1050 }, (_, i) => `doc:${i + 1}`),
    );
    for (const p of pages.slice(0, -1)) {
      assert.equal(p.ids.length, 100);
      assert.equal(p.lastSeq, seq(Number(p.ids[p.ids.length - 1].split(':')[1])));
    }
    const last = pages[pages.length - 1];
    assert.deepEqual([last.ended, last.lastSeq, last.pending], [true, seq(1050), 3]);
  });

  it('given the pipeline takes nothing, then the stream stops reading at its read-ahead bound and reads on when pages are taken', async () => {
    const { stream, state } = body(couchAnswer(0, 5000, 100), 4096);
    const changes = new ChangesStream(stream, 0, options(100, 300));
    const first = await changes.take(100);
    await turns(50);
    const heldAfterOne = state.pulled;
    await turns(50);
    assert.equal(state.pulled, heldAfterOne, 'nothing more is read while the read-ahead is full');
    // 300 changes of about 240 bytes each: the body read stops far short of its 1.2 MB.
    assert.ok(heldAfterOne * 4096 < 200_000, `read ${heldAfterOne} chunks ahead`);
    const second = await changes.take(100);
    assert.deepEqual(
      [first.changes[0].id, second.changes[0].id, second.lastSeq],
      ['doc:1', 'doc:101', seq(200)],
    );
    await takeAll(changes, 100);
    assert.ok(state.pulled > heldAfterOne);
  });

  it('given the connection is cut midway, then the pages up to the last change with a seq come out and the next take fails as unavailable', async () => {
    const { stream } = body(couchAnswer(0, 1000, 100), 1000, '"doc:351"');
    const changes = new ChangesStream(stream, 0, options(100, 1000));
    const taken: RemoteChange[] = [];
    let failure: unknown;
    for (;;) {
      try {
        const page = await changes.take(100);
        taken.push(...page.changes);
        assert.equal(page.lastSeq, seq(taken.length), 'every page ends at a valid checkpoint');
      } catch (err) {
        failure = err;
        break;
      }
    }
    assert.equal(taken.length, 300, 'the changes after the last seq before the cut are read again');
    assert.ok(failure instanceof SyncUnavailableError, String(failure));
  });

  it('given an answer that ends before its last_seq, then the stream fails as unavailable, not as done', async () => {
    const text = couchAnswer(0, 150, 100);
    const { stream } = body(text.slice(0, text.indexOf('],\n"last_seq"')), 500);
    const changes = new ChangesStream(stream, 0, options(100));
    const page = await changes.take(100);
    assert.equal(page.changes.length, 100);
    await assert.rejects(changes.take(100), SyncUnavailableError);
  });

  it('given an answer laid out on one line (a proxy re-encoded it), then it is read whole and handed out the same', async () => {
    const text = JSON.stringify(JSON.parse(couchAnswer(0, 250, 100)));
    const pages = await takeAll(new ChangesStream(body(text, 700).stream, 0, options(100)), 100);
    assert.deepEqual(
      pages.map((p) => p.ids.length),
      [100, 100, 50],
    );
    assert.equal(pages[2].lastSeq, seq(250));
  });

  it('given a row that is not JSON, then the stream fails with a protocol error naming the cloud', async () => {
    const text = couchAnswer(0, 10, 5).replace(
      '{"seq":null,"id":"doc:8"',
      '{"seq":null,"id":doc:8',
    );
    const changes = new ChangesStream(body(text, 64).stream, 0, options(5));
    await changes.take(5);
    await assert.rejects(changes.take(5), (err: unknown) => {
      assert.ok(err instanceof SyncProtocolError);
      assert.match(err.message, /cloud\.test\/books/);
      return true;
    });
  });

  it('given the server goes quiet mid-answer, then the stream fails as a timeout once the idle time passed', async () => {
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) controller.enqueue(new TextEncoder().encode('{"results":[\n'));
        sent = true;
        return new Promise(() => undefined); // never more
      },
    });
    const changes = new ChangesStream(stream, 0, { ...options(100), idleTimeoutMs: 30 });
    await assert.rejects(changes.take(100), (err: unknown) => {
      assert.ok(err instanceof SyncUnavailableError);
      assert.equal(err.details.timedOut, true);
      return true;
    });
  });
});

/**
 * A cloud of `total` changes that streams: `changesSince` answers pages, `changesStream` one
 * ChangesStream over CouchDB's layout; `cutStreamAt` cuts the first stream at that change.
 */
function streamingCloud(total: number, cutStreamAt?: number) {
  const calls: string[] = [];
  let cut = cutStreamAt;
  const remote = {
    changesSince(since: unknown, o: ChangesOptions): Promise<RemoteChangesPage> {
      calls.push(`page ${position(since)}`);
      const from = position(since);
      const to = Math.min(total, from + o.limit);
      const changes = rows(from, to, o.seqInterval ?? 1).map((r) => ({
        id: r.id,
        seq: r.seq,
        doc: r.doc,
      }));
      return Promise.resolve({ changes, lastSeq: seq(to), pending: total - to });
    },
  } as unknown as RemoteStore;
  const openStream = (since: unknown, o: StreamOptions): Promise<StreamedChanges> => {
    calls.push(`stream ${position(since)}`);
    const text = couchAnswer(position(since), total, o.pageSize);
    const cutBefore = cut === undefined ? undefined : `"doc:${cut}"`;
    cut = undefined;
    return Promise.resolve(
      new ChangesStream(body(text, 2048, cutBefore).stream, since, {
        ...o,
        idleTimeoutMs: 5000,
        source: 'x',
      }),
    );
  };
  return { remote, openStream, calls };
}

describe('StreamedReadAhead (pull reads from a streaming cloud)', () => {
  const streamOptions = { pageSize: 100, bufferChanges: 300, bufferBytes: 1 << 30 };

  async function pull(reader: StreamedReadAhead) {
    const ids: string[] = [];
    let since: unknown = 0;
    for (;;) {
      const page = await reader.next(since);
      ids.push(...page.changes.map((c) => c.id));
      since = page.lastSeq;
      if (!page.more) return { ids, since };
    }
  }

  it('given a backlog of 1,000 changes, then one page is read and one stream carries the rest, every change once', async () => {
    const { remote, openStream, calls } = streamingCloud(1000);
    const reader = new StreamedReadAhead(remote, openStream, streamOptions);
    const { ids, since } = await pull(reader);
    reader.close();
    assert.deepEqual(calls, ['page 0', 'stream 100']);
    assert.equal(new Set(ids).size, 1000);
    assert.equal(ids.length, 1000);
    assert.equal(since, seq(1000));
  });

  it('given the stream is cut midway, then the pull goes on page by page from the last page handed out, streams again, and loses or repeats nothing', async () => {
    const { remote, openStream, calls } = streamingCloud(1000, 551);
    const reader = new StreamedReadAhead(remote, openStream, streamOptions);
    const { ids } = await pull(reader);
    reader.close();
    assert.deepEqual(calls, ['page 0', 'stream 100', 'page 500', 'stream 600']);
    assert.deepEqual(
      ids,
      Array.from({ length: 1000 }, (_, i) => `doc:${i + 1}`),
    );
  });

  it('given nothing is pending after the first page, then no stream is opened', async () => {
    const { remote, openStream, calls } = streamingCloud(60);
    const reader = new StreamedReadAhead(remote, openStream, streamOptions);
    const { ids } = await pull(reader);
    assert.deepEqual([calls, ids.length], [['page 0'], 60]);
  });
});

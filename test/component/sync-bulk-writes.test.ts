import assert from 'node:assert/strict';
import { CouchDbRemote } from '../../src/sync';
import { SyncUnavailableError } from '../../src/sync/errors';
import { CloudServer, memoryLogger } from '../helpers/cloud-server';
import { TcpProxy } from '../helpers/tcp-proxy';

type Doc = { _id: string; type: string; name: string };

function partners(n: number, prefix = 'p'): Doc[] {
  return Array.from({ length: n }, (_, i) => ({
    _id: `partner:${prefix}${String(i).padStart(5, '0')}`,
    type: 'partner',
    name: `Partner ${String(i).padStart(5, '0')}`,
  }));
}

/** The `_bulk_docs` requests a remote sends: their sizes, and how many were in flight at most. */
class BulkRecorder {
  sizes: number[] = [];
  sent = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Answers the n-th request (from 0) with this status instead of passing it on. */
  failAt: { n: number; status: number } | null = null;

  readonly fetch: typeof fetch = async (input, init) => {
    const req = new Request(input, init);
    if (!new URL(req.url).pathname.endsWith('/_bulk_docs')) return fetch(req);
    // Counted before any await: every request a write starts at once is counted at once.
    const n = this.sent++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const body = (await req.clone().json()) as { docs: unknown[] };
      this.sizes[n] = body.docs.length;
      if (this.failAt?.n === n)
        return new Response(JSON.stringify({ error: 'unknown_error', reason: 'boom' }), {
          status: this.failAt.status,
          headers: { 'content-type': 'application/json' },
        });
      return await fetch(req);
    } finally {
      this.inFlight--;
    }
  };
}

describe('writing a page to the cloud as several _bulk_docs requests (component, express-pouchdb)', function () {
  this.timeout(30_000);
  let cloud: CloudServer;
  let db = 0;
  const nextDb = () => cloud.dbUrl(`bulk${++db}`);

  before(async () => {
    cloud = await CloudServer.start();
  });
  after(async () => {
    await cloud.destroy();
  });

  async function remoteFor(
    url: string | string[],
    recorder: BulkRecorder,
    logger = memoryLogger().logger,
  ) {
    const remote = new CouchDbRemote({
      url,
      requestTimeoutMs: 5000,
      fetch: recorder.fetch,
      logger,
    });
    await remote.ensureDb();
    return remote;
  }

  it('given 1000 new documents, when written, then they go as four requests of 250 all in flight at once, and every result is in the order of the documents', async () => {
    const recorder = new BulkRecorder();
    const remote = await remoteFor(nextDb(), recorder);
    const docs = partners(1000);
    const results = await remote.write(docs);
    assert.deepEqual(recorder.sizes, [250, 250, 250, 250]);
    assert.equal(recorder.maxInFlight, 4);
    assert.deepEqual(
      results.map((r) => r.id),
      docs.map((d) => d._id),
    );
    assert.ok(results.every((r) => r.ok));
    assert.equal((await remote.current(docs.map((d) => d._id))).size, 1000);
  });

  it('given a byte cap smaller than 250 documents, when written, then requests are cut at the cap too', async () => {
    const recorder = new BulkRecorder();
    const remote = await remoteFor(nextDb(), recorder);
    const docs = partners(300);
    const perDoc = JSON.stringify(docs[0]).length + 1;
    await remote.write(docs, { maxBytes: perDoc * 100 });
    assert.deepEqual(recorder.sizes, [100, 100, 100]);
  });

  it('given two writes of one document in one call, when written, then the requests go one at a time, so the second sees the first', async () => {
    const recorder = new BulkRecorder();
    const remote = await remoteFor(nextDb(), recorder);
    const [first] = await remote.write(partners(1, 'x'));
    assert.ok(first.ok);
    const others = partners(600, 'y');
    // The same document twice, far enough apart to land in different requests.
    const results = await remote.write([
      { ...partners(1, 'x')[0], _rev: first.rev, name: 'renamed' },
      ...others,
      { ...partners(1, 'x')[0], _rev: first.rev, name: 'renamed again' },
    ]);
    assert.equal(recorder.maxInFlight, 1);
    assert.ok(results[0].ok);
    assert.deepEqual(
      results[results.length - 1],
      { id: 'partner:x00000', ok: false, conflict: true },
      'the stale second write is refused, not raced',
    );
  });

  it('given one request of a write failing, when written, then the write fails and no request starts after it', async () => {
    const recorder = new BulkRecorder();
    recorder.failAt = { n: 1, status: 500 };
    const remote = await remoteFor(nextDb(), recorder);
    await assert.rejects(remote.write(partners(2000)));
    // Requests 0-3 started together; 1 failed; no request beyond those already running started.
    assert.equal(recorder.sent, 4, 'the four running when it failed, and none after');
  });

  it('given two node URLs and the first gone, when four requests in flight fail on it at once, then the remote fails over once and every document lands on the second', async () => {
    const proxy = await TcpProxy.start(cloud.port);
    const url = nextDb();
    const name = new URL(url).pathname;
    const recorder = new BulkRecorder();
    const { logger, memory } = memoryLogger();
    const remote = await remoteFor([`${proxy.origin}${name}`, url], recorder, logger);
    await proxy.close();
    const results = await remote.write(partners(1000));
    assert.ok(results.every((r) => r.ok));
    assert.equal(memory.events('sync.failover').length, 1);
    assert.equal(remote.activeUrl, url);
  });

  it('given every node gone, when written, then the write fails as unavailable', async () => {
    const proxy = await TcpProxy.start(cloud.port);
    const recorder = new BulkRecorder();
    const remote = await remoteFor(`${proxy.origin}/bulkgone`, recorder);
    await proxy.close();
    await assert.rejects(remote.write(partners(600)), SyncUnavailableError);
  });
});

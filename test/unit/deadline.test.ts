import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Deadline } from '../../src/shared/deadline';

describe('Deadline (bounds one HTTP exchange)', () => {
  it('given work that never settles (an abort that never reaches the fetch), when the timeout passes, then race rejects and says it timed out', async () => {
    const deadline = new Deadline(30);
    const never = new Promise<string>(() => undefined);
    await assert.rejects(deadline.race(never), (err: Error) => err.name === 'TimeoutError');
    assert.equal(deadline.timedOut, true);
    assert.equal(deadline.cancelled, false);
    assert.equal(deadline.signal.aborted, true);
    deadline.clear();
  });

  it("given the caller's timeout reason, when the timeout passes, then race rejects with that error", async () => {
    class RunTimeout extends Error {}
    const deadline = new Deadline(30, undefined, () => new RunTimeout('the run took too long'));
    const never = new Promise<string>(() => undefined);
    await assert.rejects(deadline.race(never), RunTimeout);
    assert.ok(deadline.signal.reason instanceof RunTimeout);
    assert.equal(deadline.timedOut, true);
    deadline.clear();
  });

  it("given the caller's signal aborts, when racing, then the exchange is cancelled (not timed out) at once", async () => {
    const stop = new AbortController();
    const deadline = new Deadline(60_000, stop.signal);
    const pending = deadline.race(new Promise<string>(() => undefined));
    stop.abort();
    await assert.rejects(pending);
    assert.equal(deadline.cancelled, true);
    assert.equal(deadline.timedOut, false);
    deadline.clear();
  });

  it('given an already aborted caller signal, then the deadline starts aborted', async () => {
    const deadline = new Deadline(60_000, AbortSignal.abort());
    assert.equal(deadline.signal.aborted, true);
    assert.equal(deadline.cancelled, true);
    await assert.rejects(deadline.race(new Promise<string>(() => undefined)));
    deadline.clear();
  });

  it('given work that finishes first, then its value is returned and clear() releases the caller listener and timer', async () => {
    const stop = new AbortController();
    const deadline = new Deadline(60_000, stop.signal);
    assert.equal(await deadline.race(Promise.resolve(42)), 42);
    deadline.clear();
    stop.abort();
    assert.equal(
      deadline.signal.aborted,
      false,
      'after clear the caller no longer reaches this exchange',
    );
  });

  describe('with a server that holds the request open (a long-poll that ignores its timeout)', () => {
    let server: Server;
    let url: string;
    before(async () => {
      server = createServer(() => undefined); // never answers
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('when many such fetches run under garbage-collection pressure, then every one of them ends by its deadline', async () => {
      const runs = Array.from({ length: 20 }, async () => {
        const deadline = new Deadline(200);
        try {
          const req = deadline.hold(new Request(url, { signal: deadline.signal }));
          await deadline.race(fetch(req));
          return 'answered';
        } catch {
          return deadline.timedOut ? 'timed out' : 'failed';
        } finally {
          deadline.clear();
        }
      });
      // Allocation churn while the requests wait, so collections happen during the exchange.
      let junk: unknown[] = [];
      for (let i = 0; i < 200; i++)
        junk = Array.from({ length: 5000 }, (_, j) => ({ i, j, s: String(j) }));
      assert.ok(junk.length > 0);
      assert.deepEqual(new Set(await Promise.all(runs)), new Set(['timed out']));
    });
  });
});

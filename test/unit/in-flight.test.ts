import assert from 'node:assert/strict';
import { mapInFlight } from '../../src/shared/in-flight';
import { bulkRequests, WRITE_REQUEST_DOCS } from '../../src/sync/couchdb/bulk-requests';

/** A call that stays open until released, to observe how many run at once. */
function gate() {
  let open = 0;
  let max = 0;
  const waiting: Array<() => void> = [];
  return {
    get max() {
      return max;
    },
    work: async (x: number) => {
      open++;
      max = Math.max(max, open);
      await new Promise<void>((resolve) => waiting.push(resolve));
      open--;
      if (x < 0) throw new Error(`bad ${x}`);
      return x * 10;
    },
    releaseAll() {
      while (waiting.length > 0) waiting.shift()?.();
    },
    get waiting() {
      return waiting.length;
    },
  };
}

async function drain(g: ReturnType<typeof gate>, done: Promise<unknown>): Promise<void> {
  let settled = false;
  void done.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    g.releaseAll();
  }
}

describe('mapInFlight', () => {
  it('runs at most `limit` calls at once and returns the results in the order of the items', async () => {
    const g = gate();
    const done = mapInFlight([1, 2, 3, 4, 5, 6, 7], 3, g.work);
    assert.equal(g.waiting, 3);
    await drain(g, done);
    assert.deepEqual(await done, [10, 20, 30, 40, 50, 60, 70]);
    assert.equal(g.max, 3);
  });

  it('after a failure starts nothing new, waits for the running calls, and throws the first error', async () => {
    const g = gate();
    const started: number[] = [];
    const done = mapInFlight([1, -2, 3, 4, 5], 2, (x) => {
      started.push(x);
      return g.work(x);
    });
    await drain(g, done);
    await assert.rejects(done, /bad -2/);
    assert.ok(!started.includes(5), `started: ${started.join(',')}`);
    assert.equal(g.waiting, 0, 'no call left running');
  });

  it('with no items returns no results', async () => {
    assert.deepEqual(await mapInFlight([], 4, () => Promise.resolve(1)), []);
  });
});

describe('bulkRequests', () => {
  const parts = (n: number, len = 9) => Array.from({ length: n }, () => 'x'.repeat(len));

  it('cuts at WRITE_REQUEST_DOCS documents', () => {
    assert.deepEqual(bulkRequests(parts(WRITE_REQUEST_DOCS * 2 + 1), Infinity), [
      { from: 0, to: WRITE_REQUEST_DOCS },
      { from: WRITE_REQUEST_DOCS, to: WRITE_REQUEST_DOCS * 2 },
      { from: WRITE_REQUEST_DOCS * 2, to: WRITE_REQUEST_DOCS * 2 + 1 },
    ]);
  });

  it('cuts at the byte cap (each document counted with its comma), and sends a larger document alone', () => {
    assert.deepEqual(bulkRequests(parts(5), 20), [
      { from: 0, to: 2 },
      { from: 2, to: 4 },
      { from: 4, to: 5 },
    ]);
    assert.deepEqual(bulkRequests(['x'.repeat(50), 'y'], 20), [
      { from: 0, to: 1 },
      { from: 1, to: 2 },
    ]);
  });
});

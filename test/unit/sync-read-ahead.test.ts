import { strict as assert } from 'node:assert';
import { ChangesReadAhead } from '../../src/sync/read-ahead';
import type { ChangesOptions, RemoteChangesPage, RemoteStore } from '../../src/sync/remote-store';

/**
 * A cloud of `total` changes with opaque string seqs; records every `_changes` read. Like CouchDB 3,
 * it refuses an integer `since` other than 0 (400 Malformed sequence), and with
 * `honorsSeqInterval` it gives a seq on every `seqInterval`-th change only.
 */
function fakeCloud(total: number, bytesPerChange = 1000, honorsSeqInterval = false) {
  const reads: Array<{
    since: unknown;
    limit: number;
    seqInterval?: number;
    signal?: AbortSignal;
    answer: (fail?: Error) => void;
  }> = [];
  const seq = (n: number) => `${n}-g1AAAA`; // opaque, like a CouchDB 3 cluster seq
  const position = (since: unknown) => (since === 0 ? 0 : Number(String(since).split('-')[0]));
  const remote = {
    changesSince(since: unknown, options: ChangesOptions): Promise<RemoteChangesPage> {
      return new Promise((resolve, reject) => {
        const from = position(since);
        const to = Math.min(total, from + options.limit);
        reads.push({
          since,
          limit: options.limit,
          seqInterval: options.seqInterval,
          signal: options.signal,
          answer: (fail) => {
            if (fail) return reject(fail);
            if (typeof since === 'number' && since !== 0)
              return reject(
                new Error(`HTTP 400 (Malformed sequence supplied in 'since' parameter)`),
              );
            const changes = Array.from({ length: to - from }, (_, i) => ({
              id: `doc:${from + i + 1}`,
              // Like CouchDB's seq_interval: a seq on the first change and every interval-th after.
              seq:
                !honorsSeqInterval || i % (options.seqInterval ?? 1) === 0
                  ? seq(from + i + 1)
                  : null,
              doc: { _id: `doc:${from + i + 1}`, _rev: '1-a' },
            }));
            resolve({
              changes,
              lastSeq: seq(to),
              pending: total - to,
              bytes: changes.length * bytesPerChange,
            });
          },
        });
      });
    },
  } as unknown as RemoteStore;
  return { remote, reads, seq };
}

/** Answers reads as they come, until `next()` settles. */
async function drive<T>(
  reads: Array<{ answer: (fail?: Error) => void }>,
  next: Promise<T>,
): Promise<T> {
  let answered = 0;
  let done = false;
  const result = next.finally(() => (done = true));
  while (!done) {
    await new Promise((r) => setImmediate(r));
    while (answered < reads.length) reads[answered++].answer();
  }
  return result;
}

describe('ChangesReadAhead (pull reads)', () => {
  it('given a backlog of 2,350 changes and pages of 100, then it reads in reads growing to the largest, asked for ahead, hands out pages of 100 and every page ends at a valid checkpoint', async () => {
    const { remote, reads, seq } = fakeCloud(2350);
    const reader = new ChangesReadAhead(remote, {
      pageSize: 100,
      maxRead: 500,
      maxReadBytes: 8 * 1024 * 1024,
    });
    const ids: string[] = [];
    let since: unknown = 0;
    for (;;) {
      const page = await drive(reads, reader.next(since));
      ids.push(...page.changes.map((c) => c.id));
      assert.ok(page.changes.length <= 100);
      assert.equal(
        page.lastSeq,
        page.changes.length > 0 ? page.changes[page.changes.length - 1].seq : since,
        'a page ends at its last change',
      );
      since = page.lastSeq;
      if (!page.more) break;
    }
    reader.close();
    assert.equal(ids.length, 2350);
    assert.equal(new Set(ids).size, 2350, 'no change twice');
    assert.equal(since, seq(2350));
    assert.deepEqual(
      reads.map((r) => r.limit),
      [100, 200, 400, 500, 500, 500, 500],
      'first read is one page, then each read twice the one before, up to 5 pages',
    );
  });

  it('given a CouchDB 2+ cloud (opaque update_seq), then each read asks for a seq on every page-th change only, and every page ends at a change that has one', async () => {
    const { remote, reads, seq } = fakeCloud(2350, 1000, true);
    const reader = new ChangesReadAhead(remote, {
      pageSize: 100,
      maxRead: 500,
      maxReadBytes: 8 * 1024 * 1024,
      cloudUpdateSeq: '2350-g1AAAA',
    });
    const ids: string[] = [];
    const sizes: number[] = [];
    let since: unknown = 0;
    for (;;) {
      const page = await drive(reads, reader.next(since));
      ids.push(...page.changes.map((c) => c.id));
      sizes.push(page.changes.length);
      assert.ok(page.lastSeq !== null && page.lastSeq !== undefined, 'a place to resume from');
      assert.equal(page.lastSeq, seq(Number(ids[ids.length - 1].split(':')[1])));
      since = page.lastSeq;
      if (!page.more) break;
    }
    reader.close();
    assert.ok(reads.every((r) => r.seqInterval === 100));
    assert.deepEqual(
      ids,
      Array.from({ length: 2350 }, (_, i) => `doc:${i + 1}`),
    );
    assert.ok(
      sizes.every((n) => n <= 101),
      `a page runs at most one change past its size: ${sizes.join(',')}`,
    );
  });

  it('given a read arrives with more pending, then the next read is already asked for before the pipeline wants it', async () => {
    const { remote, reads } = fakeCloud(1000);
    const reader = new ChangesReadAhead(remote, {
      pageSize: 100,
      maxRead: 500,
      maxReadBytes: 8 * 1024 * 1024,
    });
    const first = reader.next(0);
    await new Promise((r) => setImmediate(r));
    reads[0].answer();
    await first;
    assert.equal(reads.length, 2, 'the second read is in flight while the first page is processed');
    assert.equal(reads[1].since, '100-g1AAAA');
    reader.close();
    assert.equal(reads[1].signal?.aborted, true, 'close() cancels the read in flight');
  });

  it('given the cloud answers faster than the pipeline takes pages, then two reads wait at most and the next is asked for when one is taken', async () => {
    const { remote, reads, seq } = fakeCloud(10_000);
    const reader = new ChangesReadAhead(remote, {
      pageSize: 100,
      maxRead: 500,
      maxReadBytes: 8 * 1024 * 1024,
    });
    const tick = () => new Promise((r) => setImmediate(r));
    const first = reader.next(0);
    await tick();
    reads[0].answer();
    let page = await first; // read 1 (one page) taken; read 2 asked for
    for (let i = 1; i < 6; i++) {
      reads[i]?.answer();
      await tick();
    }
    assert.equal(reads.length, 3, 'read 2 and read 3 wait; read 4 is not asked for while they do');
    page = await reader.next(page.lastSeq); // takes read 2: a place is free again
    await tick();
    assert.equal(reads.length, 4);
    assert.equal(reads[3].since, seq(700), 'read 4 starts where read 3 ended (100 + 200 + 400)');
    assert.equal(page.lastSeq, seq(200));
    reader.close();
    assert.equal(reads[3].signal?.aborted, true);
  });

  it('given large documents, then a read is sized by bytes, never below one page', async () => {
    const { remote, reads } = fakeCloud(500, 100_000); // 100 KB per change
    const { ids } = await pullAll(
      new ChangesReadAhead(remote, { pageSize: 10, maxRead: 1000, maxReadBytes: 4 * 1024 * 1024 }),
      reads,
    );
    assert.equal(ids.length, 500);
    assert.deepEqual(
      reads.slice(0, 5).map((r) => r.limit),
      [10, 20, 40, 41, 41],
      'doubling up to 4 MiB / 100 KB',
    );
    const tiny = fakeCloud(5000, 1_000_000);
    const r2 = new ChangesReadAhead(tiny.remote, {
      pageSize: 10,
      maxRead: 1000,
      maxReadBytes: 4 * 1024 * 1024,
    });
    await drive(tiny.reads, r2.next(0));
    assert.equal(tiny.reads[1].limit, 10);
    r2.close();
  });

  it('given the read ahead fails, then the pages already read are handed out first and the failure comes with the page that needs it', async () => {
    const { remote, reads } = fakeCloud(1000);
    const reader = new ChangesReadAhead(remote, {
      pageSize: 100,
      maxRead: 500,
      maxReadBytes: 8 * 1024 * 1024,
    });
    reads.length = 0;
    const first = reader.next(0);
    await new Promise((r) => setImmediate(r));
    reads[0].answer();
    const page = await first;
    assert.equal(page.changes.length, 100);
    reads[1].answer(new Error('connection reset'));
    await assert.rejects(reader.next(page.lastSeq), /connection reset/);
    reader.close();
  });
});

/**
 * A single-node cloud with integer seqs (CouchDB 1.x, PouchDB Server): `seqs` are the live changes'
 * seqs in order (a gap is a change superseded by a later one); `cap` is the most changes it answers
 * per read, whatever the limit asked. Records every read.
 */
function integerCloud(seqs: number[], cap = Infinity) {
  const reads: Array<{ since: unknown; limit: number; signal?: AbortSignal; answer: () => void }> =
    [];
  const updateSeq = seqs[seqs.length - 1] ?? 0;
  const remote = {
    changesSince(since: unknown, options: ChangesOptions): Promise<RemoteChangesPage> {
      assert.equal(typeof since, 'number', 'an integer-seq cloud is always read from an integer');
      assert.equal(options.seqInterval, undefined, 'integer seqs: one on every change');
      return new Promise((resolve) => {
        reads.push({
          since,
          limit: options.limit,
          signal: options.signal,
          answer: () => {
            const after = seqs.filter((s) => s > (since as number));
            const rows = after.slice(0, Math.min(options.limit, cap));
            const changes = rows.map((s) => ({
              id: `doc:${s}`,
              seq: s,
              doc: { _id: `doc:${s}`, _rev: '1-a' },
            }));
            const full = rows.length === Math.min(options.limit, cap);
            resolve({
              changes,
              lastSeq: full && rows.length > 0 ? rows[rows.length - 1] : updateSeq,
              pending: after.length - rows.length,
              bytes: rows.length * 1000,
            });
          },
        });
      });
    },
  } as unknown as RemoteStore;
  return { remote, reads };
}

/** Pulls everything through `reader` as the pipeline does, answering reads as they come; returns the ids and checkpoints handed out. */
async function pullAll(
  reader: ChangesReadAhead,
  reads: Array<{ answer: () => void }>,
  since: unknown = 0,
): Promise<{ ids: string[]; checkpoints: number[] }> {
  const ids: string[] = [];
  const checkpoints: number[] = [];
  for (;;) {
    const page = await drive(reads, reader.next(since));
    ids.push(...page.changes.map((c) => c.id));
    checkpoints.push(page.lastSeq as number);
    since = page.lastSeq;
    if (!page.more) break;
  }
  reader.close();
  return { ids, checkpoints };
}

describe('ChangesReadAhead with integer seqs (CouchDB 1.x, PouchDB Server)', () => {
  const options = { pageSize: 100, maxRead: 500, maxReadBytes: 8 * 1024 * 1024 };
  const ascending = (xs: number[]) => xs.every((x, i) => i === 0 || x >= xs[i - 1]);

  it('given a backlog, then the read after one in flight is asked for at its start plus its size, before it arrives, and every change is handed out once, in order', async () => {
    const seqs = Array.from({ length: 5000 }, (_, i) => i + 1);
    const { remote, reads } = integerCloud(seqs);
    const reader = new ChangesReadAhead(remote, options);
    const first = reader.next(0);
    await new Promise((r) => setImmediate(r));
    reads[0].answer();
    const page = await first;
    assert.deepEqual(
      reads.map((r) => [r.since, r.limit]),
      [
        [0, 100],
        [100, 200],
        [300, 400],
      ],
      'two reads in flight, the second at 100 + 200',
    );
    const rest = await pullAll(reader, reads, page.lastSeq);
    assert.deepEqual(
      page.changes.map((c) => c.id).concat(rest.ids),
      seqs.map((s) => `doc:${s}`),
      'every change once, in seq order',
    );
    assert.ok(ascending(rest.checkpoints), 'checkpoints never go back');
    assert.equal(rest.checkpoints[rest.checkpoints.length - 1], 5000);
  });

  it('given superseded changes (gaps in the seqs), then reads asked for ahead overlap and what an earlier read handed out is left out', async () => {
    // Every other seq was superseded: a read of n changes spans 2n seqs, so the read asked at its
    // start plus n covers half of it again.
    const seqs = Array.from({ length: 3000 }, (_, i) => 2 * (i + 1));
    const { remote, reads } = integerCloud(seqs);
    const { ids, checkpoints } = await pullAll(new ChangesReadAhead(remote, options), reads);
    assert.deepEqual(
      ids,
      seqs.map((s) => `doc:${s}`),
      'every change once, in seq order',
    );
    assert.ok(ascending(checkpoints), 'checkpoints never go back');
    assert.equal(checkpoints[checkpoints.length - 1], 6000);
    assert.ok(
      reads.some((r, i) => i > 0 && (r.since as number) < (reads[i - 1].since as number) + 1000),
      'some reads were asked for ahead and overlapped',
    );
  });

  it('given a server that answers fewer changes than asked, then a read asked for ahead that the reads before it do not reach is dropped and read again from where they end', async () => {
    const seqs = Array.from({ length: 2000 }, (_, i) => i + 1);
    const { remote, reads } = integerCloud(seqs, 300); // answers at most 300 changes per read
    const { ids, checkpoints } = await pullAll(new ChangesReadAhead(remote, options), reads);
    assert.deepEqual(
      ids,
      seqs.map((s) => `doc:${s}`),
      'no change lost or twice',
    );
    assert.ok(ascending(checkpoints));
    assert.ok(
      reads.some((r) => r.since === 600),
      'after reads ending at 300 and 600 (300 of the 400 asked), the one asked at 300 + 400 was dropped and 600 read again',
    );
  });

  it('given the cloud reported an integer update_seq beyond the first read, then the read after the first is asked for with it, before the first arrives, and every change is handed out once', async () => {
    const seqs = Array.from({ length: 2000 }, (_, i) => i + 1);
    const { remote, reads } = integerCloud(seqs);
    const reader = new ChangesReadAhead(remote, { ...options, cloudUpdateSeq: 2000 });
    const first = reader.next(0);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      reads.map((r) => [r.since, r.limit]),
      [
        [0, 100],
        [100, 200],
      ],
      'two reads in flight from the start',
    );
    const rest = await pullAll(reader, reads, (await drive(reads, first)).lastSeq);
    assert.equal(rest.ids.length, 1900, 'every change after the first page once');
    assert.deepEqual(
      rest.ids,
      seqs.slice(100).map((s) => `doc:${s}`),
    );
  });

  it('given the cloud reported an integer update_seq within the first read, or a long-poll, then a cycle starts with one read only', async () => {
    const seqs = Array.from({ length: 150 }, (_, i) => i + 1);
    const { remote, reads } = integerCloud(seqs);
    const small = new ChangesReadAhead(remote, { ...options, cloudUpdateSeq: 150 });
    const page = small.next(60);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      reads.map((r) => r.since),
      [60],
      'no empty read asked for after the last change',
    );
    reads[0].answer();
    assert.equal((await page).changes.length, 90);
    small.close();
    const longpoll = new ChangesReadAhead(remote, { ...options, cloudUpdateSeq: 150 });
    const waiting = longpoll.next(0, 30_000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      reads.map((r) => r.since),
      [60, 0],
      'nothing is read ahead of a read that may wait for changes',
    );
    reads[1].answer();
    assert.equal((await waiting).changes.length, 100);
    longpoll.close();
  });

  it('given the cloud reported an integer update_seq but answers opaque seqs, then the read asked for ahead is refused, read again from the seq the server gave, and nothing is lost', async () => {
    const { remote, reads } = fakeCloud(3000);
    const { ids } = await pullAll(
      new ChangesReadAhead(remote, { ...options, cloudUpdateSeq: 3000 }),
      reads,
    );
    assert.deepEqual(
      ids,
      Array.from({ length: 3000 }, (_, i) => `doc:${i + 1}`),
      'every change once, in order',
    );
    assert.equal(reads[1].since, 100, 'the second read was asked for ahead, at 0 + 100');
    for (let i = 2; i < reads.length; i++)
      assert.equal(typeof reads[i].since, 'string', `read ${i} starts at a seq the server gave`);
  });

  it('given opaque seqs after an integer checkpoint, then no read is ever asked for ahead of its predecessor', async () => {
    const { remote, reads } = fakeCloud(3000);
    const { ids } = await pullAll(new ChangesReadAhead(remote, options), reads);
    assert.equal(ids.length, 3000);
    for (let i = 1; i < reads.length; i++)
      assert.equal(typeof reads[i].since, 'string', `read ${i} starts at a seq the server gave`);
  });
});

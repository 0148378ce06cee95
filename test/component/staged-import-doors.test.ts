import { strict as assert } from 'node:assert';
import { FetchLoop, type ConnectionSpec } from '../../src/bank/fetch-loop';
import type { BankTransaction, StatementSink, StatementStream } from '../../src/bank/provider';
import { ProviderRegistry } from '../../src/bank/registry';
import { readStatus } from '../../src/bank/status';
import { stagedAmong, type StatementLineDoc } from '../../src/ledger';
import { linesOfConnection } from '../../src/ledger/automation/books';
import { unreconciledLines } from '../../src/ledger/automation/report';
import { undoReconciliation } from '../../src/ledger/automation';
import { PouchLocalStore } from '../../src/sync';
import {
  FakeProvider,
  captureLogger,
  fakeSpec,
  result,
  tempDir,
  tx,
} from '../helpers/fake-provider';
import {
  call,
  harness,
  teardown,
  type CallResult,
  type Harness,
} from '../helpers/local-api-harness';

const IBAN = 'DE89370400440532013000';
const LINES = 1_200;
const STOP_AT = 600;

/**
 * One statement read as a stream; its storing pass (the second read) stops after `STOP_AT` lines,
 * once they are stored, until `resume()`: an import stopped mid-way, with part of it in the books.
 */
function stoppableStream(lines: BankTransaction[]) {
  let reads = 0;
  let resume!: () => void;
  const resumed = new Promise<void>((r) => (resume = r));
  let stopped!: () => void;
  const stoppedAt = new Promise<void>((r) => (stopped = r));
  const stream: StatementStream = {
    name: 'big.xml',
    async read(sink: StatementSink) {
      reads += 1;
      for (let i = 0; i < lines.length; i++) {
        sink.transaction(lines[i], 0);
        if (i % 100 === 99) await sink.drain();
        if (reads === 2 && i + 1 === STOP_AT) {
          await sink.drain();
          stopped();
          await resumed;
        }
      }
      sink.statement(
        { accountId: IBAN, currency: 'EUR', balances: [], transactionCount: lines.length },
        0,
      );
      await sink.drain();
      return { warnings: [] };
    },
  };
  return { stream, stoppedAt, resume };
}

const isLine = (id: string) => id.startsWith('stl:');

type Row = { id: string; key: string; error?: string };
/** Ids of statement lines among an `_all_docs` answer's rows. */
const lineRows = (r: CallResult) => (r.body as { rows: Row[] }).rows.filter((x) => isLine(x.id));
/** Ids of statement lines among a `_changes` answer's results. */
const lineChanges = (r: CallResult) =>
  (r.body as { results: Array<{ id: string }> }).results.filter((x) => isLine(x.id));

describe('lines of an import that has not committed are invisible at every door', function () {
  this.timeout(60_000);
  let h: Harness;
  let tmp: ReturnType<typeof tempDir>;
  let spec: ConnectionSpec;

  beforeEach(async () => {
    h = await harness();
    tmp = tempDir();
    spec = fakeSpec(tmp.dir, { runTimeoutMs: 60_000 });
  });

  afterEach(async () => {
    await teardown(h);
    tmp.cleanup();
  });

  it('given an import stopped half-way, then the local API (_all_docs, GET, _bulk_get, attachments, _revs_diff, _changes), the push and the ledger see none of its lines; once it commits, all of them, and a _changes follower gets them from where it stopped', async () => {
    const lines = Array.from({ length: LINES }, (_, i) =>
      tx({ providerId: `S${i}`, amount: -(i + 1), payee: `Shop ${i}` }),
    );
    const { stream, stoppedAt, resume } = stoppableStream(lines);
    const fake = new FakeProvider('fake').then(result([], { streams: [stream] }));
    const loop = new FetchLoop({
      store: h.store,
      registry: new ProviderRegistry([fake]),
      logger: captureLogger().logger,
      writeBatchSize: 200,
    });
    const run = loop.run(spec);
    await stoppedAt;

    // What is in the books now: part of the file, every line staged.
    const raw = await h.store.db.allDocs({
      startkey: 'stl:',
      endkey: 'stl:\uffff',
      include_docs: true,
    });
    const staged = raw.rows.map((r) => r.doc as unknown as StatementLineDoc);
    assert.ok(staged.length >= STOP_AT - 200 && staged.length < LINES, `${staged.length} stored`);
    assert.ok((await readStatus(h.store, 'acme'))?.staged_import, 'the import is staged');
    const one = staged[0];

    // The local API.
    const all = await call(`${h.db}/_all_docs?include_docs=true`);
    assert.equal(all.status, 200);
    assert.deepEqual(lineRows(all), []);
    const limited = await call(
      `${h.db}/_all_docs?startkey=${encodeURIComponent('"stl:"')}&limit=5`,
    );
    assert.deepEqual(
      (limited.body as { rows: Row[] }).rows,
      [],
      'a page over the staged lines is empty, not short of its staged rows',
    );
    const keyed = await call(`${h.db}/_all_docs`, { method: 'POST', body: { keys: [one._id] } });
    assert.deepEqual((keyed.body as { rows: Row[] }).rows, [{ key: one._id, error: 'not_found' }]);
    const doc = await call(`${h.db}/${encodeURIComponent(one._id)}`);
    assert.equal(doc.status, 404);
    assert.deepEqual(doc.body, { error: 'not_found', reason: 'missing' });
    // Asked for by revision, it answers as a document that is not there does.
    for (const query of [
      'open_revs=all',
      `open_revs=${encodeURIComponent(JSON.stringify([one._rev]))}`,
    ]) {
      const byRev = await call(`${h.db}/${encodeURIComponent(one._id)}?${query}`);
      const absent = await call(`${h.db}/stl:acme:absent?${query}`);
      assert.deepEqual([byRev.status, byRev.body], [absent.status, absent.body], query);
    }
    const bulk = await call(`${h.db}/_bulk_get`, {
      method: 'POST',
      body: { docs: [{ id: one._id }, { id: one._id, rev: one._rev }] },
    });
    assert.deepEqual(
      (
        bulk.body as { results: Array<{ docs: Array<{ error?: { error: string } }> }> }
      ).results.flatMap((r) => r.docs.map((d) => d.error?.error)),
      ['not_found', 'not_found'],
    );
    const attachment = await call(`${h.db}/${encodeURIComponent(one._id)}/receipt.pdf`);
    assert.equal(attachment.status, 404);
    const diff = await call(`${h.db}/_revs_diff`, {
      method: 'POST',
      body: { [one._id]: [one._rev] },
    });
    assert.deepEqual(diff.body, { [one._id]: { missing: [one._rev] } });
    const changes = await call(`${h.db}/_changes?include_docs=true`);
    assert.deepEqual(lineChanges(changes), []);
    const stoppedSeq = (changes.body as { last_seq: number }).last_seq;
    const longpoll = call(`${h.db}/_changes?feed=longpoll&timeout=50000&since=${stoppedSeq}`);

    // The push to the cloud, and the ledger.
    const push = new PouchLocalStore(h.store, h.store.changesReader, (docs) =>
      stagedAmong(h.store, docs),
    );
    const page = await push.changesSince(0, LINES * 2);
    assert.deepEqual(
      page.changes.filter((c) => isLine(c.id)),
      [],
    );
    assert.deepEqual(await linesOfConnection(h.store, 'acme'), []);
    assert.deepEqual(await unreconciledLines(h.store), []);
    await assert.rejects(undoReconciliation(h.store, one._id), { code: 'LEDGER_NOT_FOUND' });

    // The import goes on and commits: every door shows every line once.
    resume();
    const outcome = await run;
    assert.equal(outcome.status, 'connected', JSON.stringify(outcome.error));
    assert.equal(outcome.counts.new, LINES);
    const followed = await longpoll;
    assert.equal(
      lineChanges(followed).length,
      LINES,
      'the follower reads every line from where its feed stopped',
    );
    const after = await call(`${h.db}/_all_docs`);
    assert.equal(lineRows(after).length, LINES);
    assert.equal((await call(`${h.db}/${encodeURIComponent(one._id)}`)).status, 200);
    assert.equal((await linesOfConnection(h.store, 'acme')).length, LINES);
    const pushed = await push.changesSince(0, LINES * 2);
    assert.equal(pushed.changes.filter((c) => isLine(c.id)).length, LINES);
  });
});

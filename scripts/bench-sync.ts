/**
 * `npm run bench:sync`: booksync's push/pull against PouchDB's native replication, the same ~1 KB
 * accounting documents and the same server, at 0 ms and with 50 ms added to every request, the
 * server's raw ceiling; first on express-pouchdb (in a child process), then on Apache CouchDB 3.5,
 * one node, when its release is found (test/helpers/couchdb.ts; the `couch_*` fields of the last
 * line, or `couch: "skipped: …"`). Then, on express-pouchdb: peak RSS of a 200,000-document
 * initial sync and live latency at 50 writes a second. The last line printed is one JSON object.
 * Sizes: BENCH_DOCS (default 20000), BENCH_RSS_DOCS (default 200000), BENCH_DELAY_MS (default
 * 50), BENCH_RUNS (default 3). BENCH_ONLY=couchdb runs the CouchDB comparison alone (no
 * express-pouchdb rounds, live latency or RSS; the last line then holds the `couch_*` fields only),
 * for iterating on the engine's speed against CouchDB.
 *
 * Every throughput is measured BENCH_RUNS times, the rounds at 0 ms and at 50 ms taking turns, and
 * the median of each is reported: single runs on a 2-core machine vary widely (BENCHMARKS.md,
 * Sync), and "best native" taken over three single samples
 * would favour whichever batch size got the luckiest one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import express from 'express';
import PouchDB from 'pouchdb-node';
import * as winston from 'winston';
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../src/daemon/runtime-settings';
import { BooksStore } from '../src/ledger';
import {
  acceptEncodingFor,
  openSync,
  type ResponseCompression,
  type SyncRuntime,
  type SyncSetup,
  type SyncTypeOptions,
} from '../src/sync';
import { TcpProxy } from '../test/helpers/tcp-proxy';
import { COUCH_ADMIN, couchAvailable, sharedCouch } from '../test/helpers/couchdb';
import { rawPut, rawRead, rawReadTwoInFlight, rawWrite } from './bench-sync-raw';

const DOCS = Number(process.env.BENCH_DOCS ?? 20_000);
/** Documents each measurement's process first syncs, untimed, so that it is timed with its code warm (a daemon syncs all day). */
const WARMUP_DOCS = 2_000;
const RSS_DOCS = Number(process.env.BENCH_RSS_DOCS ?? 200_000);
const DELAY = Number(process.env.BENCH_DELAY_MS ?? 50);
const BATCHES = [100, 500, 1000];
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const COUCH_ONLY = process.env.BENCH_ONLY === 'couchdb';

const TYPES: Record<string, SyncTypeOptions> = {
  move: { direction: 'both', conflict: 'manual' },
  partner: {
    direction: 'both',
    conflict: 'merge',
    exclude: { push: ['internal_notes'], both: ['bank_accounts[].bic'] },
  },
  statement_line: {
    direction: 'both',
    conflict: 'local-wins',
    exclude: { both: ['counterparty_iban'] },
  },
};

// ---- documents -------------------------------------------------------------------------------

function pad(n: number, w = 6): string {
  return String(n).padStart(w, '0');
}

/** Realistic, ledger-valid documents of about 1 KB: 60% posted moves, 20% partners, 20% statement lines. */
export function makeDocs(n: number, offset = 0): Array<Record<string, unknown>> {
  const docs: Array<Record<string, unknown>> = [];
  const at = '2024-05-01T10:00:00.000Z';
  for (let k = 0; k < n; k++) {
    const i = k + offset;
    const r = i % 10;
    if (r < 6) {
      const amount = 1000 + (i % 97) * 137;
      docs.push({
        _id: `move:BNK1:2024:${pad(i, 7)}`,
        type: 'move',
        journal: 'BNK1',
        date: `2024-${pad((i % 12) + 1, 2)}-${pad((i % 28) + 1, 2)}`,
        ref: `INV/2024/${pad(i)} payment received by bank transfer`,
        state: 'posted',
        statement_line: `stl:main-checking:${pad(i)}`,
        lines: [
          {
            account: '1010',
            partner: `partner:${pad(i % 500)}`,
            label: `Customer payment ${pad(i)} - bank statement reconciliation`,
            debit: amount,
            credit: 0,
            currency: 'EUR',
          },
          {
            account: '1200',
            partner: `partner:${pad(i % 500)}`,
            label: `Receivable cleared for invoice INV/2024/${pad(i)}`,
            debit: 0,
            credit: amount - 100,
            currency: 'EUR',
          },
          {
            account: '7000',
            label: `Bank fees ${pad(i)} charged on incoming transfer`,
            debit: 0,
            credit: 100,
            currency: 'EUR',
          },
        ],
        narration: `Incoming SEPA credit transfer from partner ${pad(i % 500)} for invoice INV/2024/${pad(i)}, matched by reference and amount; fee booked to bank charges.`,
        created_at: at,
        updated_at: at,
        posted_at: at,
      });
    } else if (r < 8) {
      docs.push({
        _id: `partner:${pad(i)}`,
        type: 'partner',
        name: `Partner ${pad(i)} Handelsgesellschaft mbH & Co. KG`,
        email: `accounts.payable+${i}@partner-${i}.example.com`,
        vat: `DE${pad(i, 9)}`,
        bank_accounts: [
          { iban: `DE89370400440${pad(i, 9)}`, bic: 'COBADEFFXXX' },
          { iban: `FR76300060000112${pad(i, 9)}`, bic: 'AGRIFRPPXXX' },
        ],
        internal_notes:
          `Private note ${i}: payment terms negotiated by phone, do not share. `.repeat(4),
        created_at: at,
        updated_at: at,
      });
    } else {
      docs.push({
        _id: `stl:main-checking:${pad(i)}`,
        type: 'statement_line',
        connection: 'main-checking',
        account_id: 'DE89370400440532013000',
        date: `2024-${pad((i % 12) + 1, 2)}-${pad((i % 28) + 1, 2)}`,
        amount: (i % 2 === 0 ? 1 : -1) * (1000 + i),
        currency: 'EUR',
        payee: `Payee ${pad(i)} GmbH`,
        memo: `SEPA credit transfer reference INV/2024/${pad(i)} end-to-end id E2E-${pad(i, 10)} `.repeat(
          3,
        ),
        reference: `E2E-${pad(i, 10)}`,
        counterparty_iban: `DE02120300000000${pad(i, 6)}`,
        counterparty_name: `Counterparty ${pad(i)}`,
        provider_id: `tx-${pad(i, 10)}`,
        dedup_key: `pid:${pad(i, 10)}`,
        pending: false,
        state: 'posted',
        imported_at: at,
        created_at: at,
        updated_at: at,
      });
    }
  }
  return docs;
}

// ---- the server child --------------------------------------------------------------------------

function serverMain(dir: string): void {
  mkdirSync(dir, { recursive: true });
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- express-pouchdb has no types and no ES module entry
  const expressPouchdb = require('express-pouchdb') as (
    p: unknown,
    o: Record<string, unknown>,
  ) => express.Express;
  const Pouch = PouchDB.defaults({
    prefix: dir + '/',
  });
  const app = express().use(
    '/',
    expressPouchdb(Pouch, {
      mode: 'minimumForPouchDB',
      inMemoryConfig: true,
      logPath: path.join(dir, 'log.txt'),
    }),
  );
  const srv = app.listen(0, '127.0.0.1', () => {
    const port = (srv.address() as { port: number }).port;
    process.send?.({ port });
  });
}

/**
 * The delay proxy runs in its own process: a real 50 ms link costs the client no CPU, but a proxy
 * inside the benchmark process would forward every response byte on the client's event loop
 * (most of all for the one that keeps its CPU busy, not for the one that waits).
 */
async function proxyMain(targetPort: number, delayMs: number): Promise<void> {
  const proxy = await TcpProxy.start(targetPort, { delayMs });
  process.send?.({ port: proxy.port });
}

async function startProxy(
  targetPort: number,
  delayMs: number,
): Promise<{ origin: string; child: ChildProcess }> {
  const child = fork(__filename, ['--proxy', String(targetPort), String(delayMs)], {
    stdio: 'inherit',
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`proxy exited ${code}`)));
  });
  return { origin: `http://127.0.0.1:${port}`, child };
}

async function startServer(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const child = fork(__filename, ['--server', dir], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { port, child };
}

// ---- helpers -----------------------------------------------------------------------------------

let tmpRoot = '';
let seq = 0;
function tmp(name: string): string {
  return path.join(tmpRoot, `${name}-${++seq}`);
}

const silent = winston.createLogger({ silent: true });

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

/** A measurement that takes longer than this has stalled (one native push once sat on an idle connection for 5 minutes). */
const STALL_MS = 10 * 60_000;

/**
 * Times `fn`, failing the run if it stalls: PouchDB's HTTP adapter sets no request timeout
 * (pouchdb/pouchdb#8030), so a request the server never answers would hang the benchmark for good.
 */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`a measurement stalled: no result after ${STALL_MS / 1000} s`)),
      STALL_MS,
    );
  });
  try {
    const value = await Promise.race([fn(), stalled]);
    return { ms: performance.now() - t0, value };
  } finally {
    clearTimeout(timer);
  }
}

async function bulkLoad(db: PouchDB.Database, docs: Array<Record<string, unknown>>): Promise<void> {
  for (let i = 0; i < docs.length; i += 1000)
    await db.bulkDocs(
      docs.slice(i, i + 1000).map((d) => ({ ...d })) as PouchDB.Core.PutDocument<object>[],
    );
}

/** A plain PouchDB for PouchDB's native replication. */
async function seedLocal(docs: Array<Record<string, unknown>>): Promise<PouchDB.Database> {
  const db = new PouchDB(tmp('local'), {
    adapter: 'leveldb',
  });
  await bulkLoad(db, docs);
  return db;
}

/**
 * booksync's side opens its books as the daemon does (`BooksStore.open`: the push then reads
 * through the books' LevelDB changes reader) and builds its engine with `openSync`.
 */
function openBooks(dir: string): Promise<BooksStore> {
  return BooksStore.open(dir, { logger: silent });
}

async function seedBooks(docs: Array<Record<string, unknown>>): Promise<BooksStore> {
  const books = await openBooks(tmp('books'));
  await bulkLoad(books.db, docs);
  return books;
}

async function nativePush(localDir: string, dbUrl: string, batch: number): Promise<number> {
  const local = new PouchDB(localDir, {
    adapter: 'leveldb',
  });
  const { ms } = await timed(
    () => PouchDB.replicate(local, dbUrl, { batch_size: batch }) as unknown as Promise<unknown>,
  );
  await local.close();
  return ms;
}

/** `plain`: PouchDB asks for uncompressed answers (its default asks for gzip), as it gets them from Apache CouchDB. */
async function nativePull(dbUrl: string, batch: number, plain = false): Promise<number> {
  const target = new PouchDB(tmp('native-pull'), {
    adapter: 'leveldb',
  });
  const source = plain
    ? new PouchDB(dbUrl, {
        headers: { 'Accept-Encoding': 'identity' },
      } as PouchDB.Configuration.RemoteDatabaseConfiguration)
    : dbUrl;
  const { ms } = await timed(
    () => PouchDB.replicate(source, target, { batch_size: batch }) as unknown as Promise<unknown>,
  );
  await target.close();
  if (typeof source !== 'string') await source.close();
  return ms;
}

/** booksync as the daemon runs it: `cloud.compression` left at its default unless `compression` says otherwise. */
function syncFor(
  books: BooksStore,
  dbUrl: string,
  bookkeepingDir: string,
  options: Partial<SyncSetup> & {
    requestTimeoutMs?: number;
    compression?: ResponseCompression;
  } = {},
): Promise<SyncRuntime> {
  const { requestTimeoutMs = 120_000, compression, ...rest } = options;
  return openSync({
    mode: 'interval',
    types: TYPES,
    ...rest,
    books,
    bookkeepingDir,
    cloud: { url: dbUrl, requestTimeoutMs, ...(compression ? { compression } : {}) },
    logger: silent,
  });
}

/** booksync's batch size in every throughput and RSS run: native's best batch size, for a like-for-like request count. */
const OURS_BATCH = 1000;

async function oursPush(booksDir: string, dbUrl: string, expected = DOCS): Promise<number> {
  const books = await openBooks(booksDir);
  const runtime = await syncFor(books, dbUrl, tmp('bk'), { batchSize: OURS_BATCH });
  const { ms, value } = await timed(() => runtime.engine.syncOnce(['push']));
  if (value.push.docs !== expected)
    throw new Error(`booksync push wrote ${value.push.docs} of ${expected}`);
  await runtime.close();
  await books.close();
  return ms;
}

/** One throughput measurement, run in a child process of its own (see `measure`). */
type Measurement =
  | { kind: 'native-push'; localDir: string; url: string; batch: number }
  | { kind: 'native-pull'; url: string; batch: number; plain: boolean }
  | { kind: 'ours-push'; booksDir: string; url: string }
  | { kind: 'ours-pull'; url: string; compression?: ResponseCompression };

/** The WARMUP_DOCS inputs: a local PouchDB, books, and a cloud database holding them. */
interface Warmup {
  localDir: string;
  booksDir: string;
  url: string;
}

function runMeasurement(m: Measurement, expected = DOCS): Promise<number> {
  switch (m.kind) {
    case 'native-push':
      return nativePush(m.localDir, m.url, m.batch);
    case 'native-pull':
      return nativePull(m.url, m.batch, m.plain);
    case 'ours-push':
      return oursPush(m.booksDir, m.url, expected);
    case 'ours-pull':
      return oursPull(m.url, m.compression, expected);
  }
}

/** The same measurement over the warm-up inputs (pushes go to a database of their own). */
function warmupOf(m: Measurement, w: Warmup, dir: string): Measurement {
  const scratch = `${w.url}-${path.basename(dir)}`;
  switch (m.kind) {
    case 'native-push':
      return { ...m, localDir: w.localDir, url: scratch };
    case 'ours-push':
      return { ...m, booksDir: w.booksDir, url: scratch };
    default:
      return { ...m, url: w.url };
  }
}

/**
 * Runs one measurement in a fresh Node process, same flags for every contender, after the same
 * sync of WARMUP_DOCS documents (untimed, so every contender is timed with its code compiled). In
 * one long-lived process each measurement inherited the heap the ones before it left (a dozen
 * PouchDB replications' worth), and booksync's pull, the most GC-bound of them, slowed run after
 * run within one benchmark (BENCHMARKS.md, Sync);
 * in a fresh process with no warm-up, each contender's JIT warm-up was timed instead.
 */
async function measure(m: Measurement, warmup: Warmup): Promise<number> {
  const dir = tmp('measure');
  mkdirSync(dir, { recursive: true });
  const child = fork(__filename, ['--measure', dir, JSON.stringify({ m, warmup })], {
    stdio: 'inherit',
  });
  return new Promise((resolve, reject) => {
    child.once('message', (msg: { ms: number }) => resolve(msg.ms));
    // After a result this rejects nothing (a promise settles once); before one, any exit is a failure.
    child.once('exit', (code) =>
      reject(new Error(`${m.kind} measurement exited ${code} without a result`)),
    );
  });
}

async function measureMain(dir: string, m: Measurement, warmup: Warmup): Promise<void> {
  tmpRoot = dir;
  await runMeasurement(warmupOf(m, warmup, dir), WARMUP_DOCS);
  const ms = await runMeasurement(m);
  // Sent before the caller exits the process: `process.send` is asynchronous.
  await new Promise<void>((resolve, reject) =>
    process.send?.({ ms }, undefined, undefined, (err) => (err ? reject(err) : resolve())),
  );
}

async function oursPull(
  dbUrl: string,
  compression?: ResponseCompression,
  expected = DOCS,
): Promise<number> {
  const target = await openBooks(tmp('ours-pull'));
  const runtime = await syncFor(target, dbUrl, tmp('bk'), { batchSize: OURS_BATCH, compression });
  const { ms, value } = await timed(() => runtime.engine.syncOnce(['pull']));
  if (value.pull.docs !== expected)
    throw new Error(`booksync pull wrote ${value.pull.docs} of ${expected}`);
  await runtime.close();
  await target.close();
  return ms;
}

interface Round {
  native_push: Record<number, number>;
  native_pull: Record<number, number>;
  ours_push: number;
  ours_pull: number;
  /** booksync's pull with `cloud.compression: gzip`, whatever the address (for a cloud on a loopback address `auto` asks for plain answers). */
  ours_pull_gzip: number;
  /** Native pull at batch 1000 (its best in every run so far) asking for plain answers, as booksync's `auto` does here. */
  native_pull_plain: number;
  ceiling_write: number;
  ceiling_read: number;
  /** Raw reads two at a time (integer seqs), as booksync's pull reads this server. */
  ceiling_read_two: number;
}

async function round(
  origin: string,
  localDir: string,
  booksDir: string,
  warm: Omit<Warmup, 'url'>,
  docs: Array<Record<string, unknown>>,
  label: string,
  run: number,
  integerSeqs = true,
): Promise<Round> {
  const warmup: Warmup = { ...warm, url: `${origin}/warmup` };
  const out: Round = {
    native_push: {},
    native_pull: {},
    ours_push: 0,
    ours_pull: 0,
    ours_pull_gzip: 0,
    native_pull_plain: 0,
    ceiling_write: 0,
    ceiling_read: 0,
    ceiling_read_two: 0,
  };
  const tag = `${label}-${run}`;
  label = `${label} run ${run + 1}/${RUNS}:`;
  let populated = '';
  for (const batch of BATCHES) {
    const db = `${origin}/native-push-${tag}-${batch}`;
    out.native_push[batch] = rate(
      DOCS,
      await measure({ kind: 'native-push', localDir, url: db, batch }, warmup),
    );
    populated = db;
    log(`${label} native push batch ${batch}: ${out.native_push[batch]} docs/s`);
  }
  for (const batch of BATCHES) {
    out.native_pull[batch] = rate(
      DOCS,
      await measure({ kind: 'native-pull', url: populated, batch, plain: false }, warmup),
    );
    log(`${label} native pull batch ${batch}: ${out.native_pull[batch]} docs/s`);
  }
  out.native_pull_plain = rate(
    DOCS,
    await measure({ kind: 'native-pull', url: populated, batch: 1000, plain: true }, warmup),
  );
  log(
    `${label} native pull batch 1000, Accept-Encoding: identity: ${out.native_pull_plain} docs/s`,
  );
  out.ours_push = rate(
    DOCS,
    await measure({ kind: 'ours-push', booksDir, url: `${origin}/ours-push-${tag}` }, warmup),
  );
  log(`${label} booksync push: ${out.ours_push} docs/s`);
  out.ours_pull = rate(DOCS, await measure({ kind: 'ours-pull', url: populated }, warmup));
  log(
    `${label} booksync pull: ${out.ours_pull} docs/s (Accept-Encoding: ${acceptEncodingFor(populated)})`,
  );
  out.ours_pull_gzip = rate(
    DOCS,
    await measure({ kind: 'ours-pull', url: populated, compression: 'gzip' }, warmup),
  );
  log(`${label} booksync pull, compression: gzip: ${out.ours_pull_gzip} docs/s`);
  out.ceiling_write = rate(DOCS, await rawWrite(`${origin}/ceiling-${tag}`, docs));
  const read = await rawRead(`${origin}/ceiling-${tag}`);
  out.ceiling_read = rate(read.docs, read.ms);
  // Opaque seqs (CouchDB 2+) cannot be read ahead at a computed `since`.
  const readTwo = integerSeqs
    ? await rawReadTwoInFlight(`${origin}/ceiling-${tag}`)
    : { docs: 0, ms: 1 };
  out.ceiling_read_two = rate(readTwo.docs, readTwo.ms);
  log(
    `${label} raw ceiling: write ${out.ceiling_write} docs/s, read ${out.ceiling_read} docs/s, read two at a time ${out.ceiling_read_two} docs/s`,
  );
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : Math.round((s[mid - 1] + s[mid]) / 2);
}

/** Each number of the rounds' medians. */
function medianRound(rounds: Round[]): Round {
  const of = (pick: (r: Round) => number) => median(rounds.map(pick));
  const byBatch = (pick: (r: Round) => Record<number, number>) =>
    Object.fromEntries(BATCHES.map((b) => [b, of((r) => pick(r)[b])]));
  return {
    native_push: byBatch((r) => r.native_push),
    native_pull: byBatch((r) => r.native_pull),
    ours_push: of((r) => r.ours_push),
    ours_pull: of((r) => r.ours_pull),
    ours_pull_gzip: of((r) => r.ours_pull_gzip),
    native_pull_plain: of((r) => r.native_pull_plain),
    ceiling_write: of((r) => r.ceiling_write),
    ceiling_read: of((r) => r.ceiling_read),
    ceiling_read_two: of((r) => r.ceiling_read_two),
  };
}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

// ---- RSS of a large initial sync (child process, so the number is the engine's alone) ---------

async function rssMain(dbUrl: string, dir: string, expected: number): Promise<void> {
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  mkdirSync(dir, { recursive: true });
  const target = await openBooks(path.join(dir, 'rss-local'));
  const runtime = await syncFor(target, dbUrl, path.join(dir, 'rss-bk'), { batchSize: OURS_BATCH });
  const t0 = performance.now();
  const r = await runtime.engine.syncOnce(['pull']);
  const ms = performance.now() - t0;
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
  process.send?.({
    peak_mb: Math.round(peak / 1048576),
    docs: r.pull.docs,
    expected,
    rate: rate(r.pull.docs, ms),
  });
  await runtime.close();
  await target.close();
}

async function seedRss(origin: string): Promise<string> {
  const dbUrl = `${origin}/rss-200k`;
  await rawPut(dbUrl);
  for (let i = 0; i < RSS_DOCS; i += 20_000)
    await rawWrite(dbUrl, makeDocs(Math.min(20_000, RSS_DOCS - i), 1_000_000 + i));
  log(`seeded ${RSS_DOCS} docs for the RSS run`);
  return dbUrl;
}

/**
 * One initial pull of the seeded database in a fresh child process started as the daemon is (its
 * Node flags and environment, src/daemon/runtime-settings.ts), plus `execArgv` (e.g. a heap cap).
 */
async function measureRss(
  dbUrl: string,
  execArgv: string[] = [],
): Promise<{ peak_mb: number; docs: number; rate: number }> {
  const dir = tmp('rss');
  const child = fork(__filename, ['--rss', dbUrl, dir, String(RSS_DOCS)], {
    stdio: 'inherit',
    execArgv: [...DAEMON_NODE_FLAGS, ...execArgv],
    env: { ...process.env, ...DAEMON_ENV },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { peak_mb: number; docs: number; rate: number }) => resolve(m));
    child.once('exit', (code) => code !== 0 && reject(new Error(`rss child exited ${code}`)));
  });
}

// ---- live latency ----------------------------------------------------------------------------

async function liveLatency(
  origin: string,
  writesPerSecond = 50,
  seconds = 10,
): Promise<{ p50: number; p99: number; n: number }> {
  const dbUrl = `${origin}/live`;
  await rawPut(dbUrl);
  const books = await openBooks(tmp('live-local'));
  const runtime = await syncFor(books, dbUrl, tmp('live-bk'), {
    mode: 'live',
    longpollMs: 10_000,
    requestTimeoutMs: 30_000,
  });
  const engine = runtime.engine;
  await engine.start();
  const written = new Map<string, number>();
  const arrived = new Map<string, number>();
  const abort = new AbortController();
  const watcher = (async () => {
    let since: string | number = 'now';
    while (!abort.signal.aborted) {
      try {
        const res = await fetch(`${dbUrl}/_changes?feed=longpoll&timeout=1000&since=${since}`, {
          signal: abort.signal,
        });
        const body = (await res.json()) as {
          results: Array<{ id: string }>;
          last_seq: string | number;
        };
        const now = performance.now();
        for (const r of body.results) if (!arrived.has(r.id)) arrived.set(r.id, now);
        since = body.last_seq;
      } catch {
        break;
      }
    }
  })();
  const docs = makeDocs(writesPerSecond * seconds, 2_000_000);
  const t0 = performance.now();
  for (let i = 0; i < docs.length; i++) {
    const due = t0 + (i * 1000) / writesPerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    written.set(docs[i]._id as string, performance.now());
    // Straight into the books' PouchDB, as before the books were a BooksStore here: the number
    // stays the engine's latency, not the ledger's validation of the write.
    await books.db.put(docs[i] as PouchDB.Core.PutDocument<object>);
  }
  const deadline = performance.now() + 15_000;
  while (arrived.size < docs.length && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  abort.abort();
  await watcher;
  await runtime.close();
  await books.close();
  const lat = [...written]
    .map(([id, t]) => (arrived.has(id) ? (arrived.get(id) as number) - t : Infinity))
    .sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]);
  return { p50: pct(50), p99: pct(99), n: arrived.size };
}

// ---- main --------------------------------------------------------------------------------------

function best(r: Record<number, number>): number {
  return Math.max(...Object.values(r));
}

interface Seeded {
  localDir: string;
  booksDir: string;
  docs: Array<Record<string, unknown>>;
  warm: { localDir: string; booksDir: string };
}

/** BENCH_RUNS rounds against one server at 0 ms and through the delay proxy, taking turns; their medians. */
async function compare(
  seeded: Seeded,
  server: { origin: string; port: number; label: string; opaqueSeqs?: boolean },
): Promise<{ r0: Round; r50: Round }> {
  const { localDir, booksDir, docs, warm } = seeded;
  const warmLocal = new PouchDB(warm.localDir, {
    adapter: 'leveldb',
  });
  await PouchDB.replicate(warmLocal, `${server.origin}/warmup`);
  await warmLocal.close();
  const proxy = await startProxy(server.port, DELAY);
  // The proxy's origin with the server's credentials, if any.
  const proxied = new URL(server.origin);
  proxied.port = new URL(proxy.origin).port;
  const proxiedOrigin = proxied.toString().replace(/\/$/, '');
  const warmup = { localDir: warm.localDir, booksDir: warm.booksDir };
  try {
    const runs0: Round[] = [];
    const runs50: Round[] = [];
    for (let run = 0; run < RUNS; run++) {
      runs0.push(
        await round(
          server.origin,
          localDir,
          booksDir,
          warmup,
          docs,
          `${server.label}0ms`,
          run,
          !server.opaqueSeqs,
        ),
      );
      runs50.push(
        await round(
          proxiedOrigin,
          localDir,
          booksDir,
          warmup,
          docs,
          `${server.label}${DELAY}ms`,
          run,
          !server.opaqueSeqs,
        ),
      );
    }
    return { r0: medianRound(runs0), r50: medianRound(runs50) };
  } finally {
    proxy.child.kill();
  }
}

/** Apache CouchDB 3.5, one node (test/helpers/couchdb.ts finds the release): the same contenders. */
async function compareOnCouch(seeded: Seeded): Promise<{ r0: Round; r50: Round }> {
  const couch = await sharedCouch(1);
  return compare(seeded, {
    origin: `http://${COUCH_ADMIN.username}:${COUCH_ADMIN.password}@127.0.0.1:${couch.ports[0]}`,
    port: couch.ports[0],
    label: 'couchdb-',
    opaqueSeqs: true,
  });
}

/** The table's rows for one server, at 0 ms and at DELAY. */
function tableRows(r0: Round, r50: Round, readTwo: boolean): string[] {
  return [r0, r50].map(
    (r, i) =>
      `| ${i === 0 ? '0 ms' : `${DELAY} ms`} | ${BATCHES.map((b) => r.native_push[b]).join(' / ')} | ${BATCHES.map((b) => r.native_pull[b]).join(' / ')} (${r.native_pull_plain}) | ${r.ours_push} | ${r.ours_pull} (${r.ours_pull_gzip}) | ${r.ceiling_write} / ${r.ceiling_read} / ${readTwo ? r.ceiling_read_two : '-'} |`,
  );
}

/** The CouchDB comparison's part of the last JSON line. */
function couchResult(r0: Round, r50: Round): Record<string, number> {
  return {
    couch_push_ratio_0ms: +(r0.ours_push / best(r0.native_push)).toFixed(2),
    couch_pull_ratio_0ms: +(r0.ours_pull / best(r0.native_pull)).toFixed(2),
    couch_push_ratio_50ms: +(r50.ours_push / best(r50.native_push)).toFixed(2),
    couch_pull_ratio_50ms: +(r50.ours_pull / best(r50.native_pull)).toFixed(2),
    couch_ours_push_0ms: r0.ours_push,
    couch_ours_pull_0ms: r0.ours_pull,
    couch_ours_pull_gzip_0ms: r0.ours_pull_gzip,
    couch_best_native_push_0ms: best(r0.native_push),
    couch_best_native_pull_0ms: best(r0.native_pull),
    couch_ours_push_50ms: r50.ours_push,
    couch_ours_pull_50ms: r50.ours_pull,
    couch_ours_pull_gzip_50ms: r50.ours_pull_gzip,
    couch_best_native_push_50ms: best(r50.native_push),
    couch_best_native_pull_50ms: best(r50.native_pull),
    couch_ceiling_write: r0.ceiling_write,
    couch_ceiling_read: r0.ceiling_read,
  };
}

async function main(): Promise<void> {
  tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'booksync-bench-'));
  const server = await startServer(path.join(tmpRoot, 'server'));
  const origin = `http://127.0.0.1:${server.port}`;
  try {
    const docs = makeDocs(DOCS);
    const bytes = docs.reduce((n, d) => n + Buffer.byteLength(JSON.stringify(d)), 0);
    log(
      `${DOCS} docs, ${Math.round(bytes / DOCS)} bytes each on average; node ${process.version}, ${os.cpus().length} CPUs`,
    );
    // Seeded here, closed, and opened by each measurement's own process.
    const local = await seedLocal(docs);
    const books = await seedBooks(docs);
    const localDir = local.name;
    const booksDir = books.dir;
    await local.close();
    await books.close();
    const warmDocs = makeDocs(WARMUP_DOCS, DOCS);
    const warmLocal = await seedLocal(warmDocs);
    const warmBooks = await seedBooks(warmDocs);
    const warm = { localDir: warmLocal.name, booksDir: warmBooks.dir };
    await warmLocal.close();
    await warmBooks.close();
    const seeded = { localDir, booksDir, docs, warm };
    if (COUCH_ONLY) {
      if (!couchAvailable()) throw new Error('BENCH_ONLY=couchdb: no Apache CouchDB release found');
      const rounds = await compareOnCouch(seeded);
      log(['Apache CouchDB 3.5, one node:', ...tableRows(rounds.r0, rounds.r50, false)].join('\n'));
      process.stdout.write(
        JSON.stringify({ docs: DOCS, runs: RUNS, ...couchResult(rounds.r0, rounds.r50) }) + '\n',
      );
      return;
    }
    const { r0, r50 } = await compare(seeded, { origin, port: server.port, label: '' });
    // Apache CouchDB 3.5, one node (test/helpers/couchdb.ts finds the release): the same contenders.
    const couchRounds = couchAvailable() ? await compareOnCouch(seeded) : null;
    const live = await liveLatency(origin);
    log(`live: p50 ${live.p50} ms, p99 ${live.p99} ms (${live.n} writes)`);
    const rssUrl = await seedRss(origin);
    // The daemon runs with V8's default heap limit (and its runtime settings), so that is the number
    // reported. V8 grows its heap lazily; the run with a 128 MB heap cap shows the working set.
    const rssDefault = await measureRss(rssUrl);
    log(
      `RSS of a ${rssDefault.docs}-doc initial pull, as the daemon runs (${[...DAEMON_NODE_FLAGS, ...Object.entries(DAEMON_ENV).map(([k, v]) => `${k}=${v}`)].join(' ')}): ${rssDefault.peak_mb} MB peak (${rssDefault.rate} docs/s)`,
    );
    const rss = await measureRss(rssUrl, ['--max-old-space-size=128']);
    log(
      `RSS of a ${rss.docs}-doc initial pull, --max-old-space-size=128: ${rss.peak_mb} MB peak (${rss.rate} docs/s)`,
    );

    const table = [
      `Medians of ${RUNS} run(s); docs/s.`,
      `| delay | native push 100/500/1000 | native pull 100/500/1000 (1000 plain) | booksync push | booksync pull (gzip) | raw write / read / read two at a time |`,
      `|---|---|---|---|---|---|`,
      ...tableRows(r0, r50, true),
    ];
    if (couchRounds)
      table.push(
        `Apache CouchDB 3.5, one node:`,
        ...tableRows(couchRounds.r0, couchRounds.r50, false),
      );
    log(table.join('\n'));
    const result = {
      docs: DOCS,
      runs: RUNS,
      push_ratio_0ms: +(r0.ours_push / best(r0.native_push)).toFixed(2),
      pull_ratio_0ms: +(r0.ours_pull / best(r0.native_pull)).toFixed(2),
      push_ratio_50ms: +(r50.ours_push / best(r50.native_push)).toFixed(2),
      pull_ratio_50ms: +(r50.ours_pull / best(r50.native_pull)).toFixed(2),
      // The same encoding on both sides: both gzip (what express-pouchdb does unless asked not to),
      // both plain (what Apache CouchDB always does).
      pull_ratio_50ms_gzip: +(r50.ours_pull_gzip / best(r50.native_pull)).toFixed(2),
      pull_ratio_50ms_plain: +(r50.ours_pull / r50.native_pull_plain).toFixed(2),
      push_of_ceiling: +(r0.ours_push / (r0.ceiling_write ?? 1)).toFixed(2),
      // Of the faster of the raw reads: one at a time, or two at a time as booksync reads this server.
      pull_of_ceiling: +(r0.ours_pull / Math.max(r0.ceiling_read, r0.ceiling_read_two)).toFixed(2),
      rss_mb_200k: rssDefault.peak_mb,
      rss_mb_200k_heap_cap_128: rss.peak_mb,
      rss_docs: rssDefault.docs,
      rss_pull_docs_per_s: rssDefault.rate,
      live_p50_ms: live.p50,
      live_p99_ms: live.p99,
      ours_push_0ms: r0.ours_push,
      ours_pull_0ms: r0.ours_pull,
      best_native_push_0ms: best(r0.native_push),
      best_native_pull_0ms: best(r0.native_pull),
      ours_push_50ms: r50.ours_push,
      ours_pull_50ms: r50.ours_pull,
      ours_pull_50ms_gzip: r50.ours_pull_gzip,
      best_native_push_50ms: best(r50.native_push),
      best_native_pull_50ms: best(r50.native_pull),
      native_pull_50ms_plain: r50.native_pull_plain,
      ceiling_write: r0.ceiling_write,
      ceiling_read: r0.ceiling_read,
      ceiling_read_two: r0.ceiling_read_two,
      ...(couchRounds
        ? couchResult(couchRounds.r0, couchRounds.r50)
        : { couch: 'skipped: no Apache CouchDB release found (test/helpers/couchdb.ts)' }),
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    server.child.kill();
    rmSync(tmpRoot, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--server') {
  serverMain(process.argv[3]);
} else if (process.argv[2] === '--proxy') {
  void proxyMain(Number(process.argv[3]), Number(process.argv[4]));
} else if (process.argv[2] === '--measure') {
  const { m, warmup } = JSON.parse(process.argv[4]) as { m: Measurement; warmup: Warmup };
  measureMain(process.argv[3], m, warmup).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(
        `measurement failed: ${err instanceof Error ? err.stack : String(err)}\n`,
      );
      process.exit(1);
    },
  );
} else if (process.argv[2] === '--rss') {
  rssMain(process.argv[3], process.argv[4], Number(process.argv[5])).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(String(err) + '\n');
      process.exit(1);
    },
  );
} else if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1); // a stalled request would otherwise keep the process alive
  });
}

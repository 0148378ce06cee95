/** The benchmark's contenders (PouchDB's native replication and booksync), their servers and the measured rounds. */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import express from 'express';
import PouchDB from 'pouchdb-node';
import { BooksStore } from '../src/ledger';
import {
  acceptEncodingFor,
  openSync,
  type ResponseCompression,
  type SyncRuntime,
  type SyncSetup,
} from '../src/sync';
import { TcpProxy } from '../test/helpers/tcp-proxy';
import {
  BATCHES,
  BENCH_ENTRY,
  DOCS,
  forkAsDaemon,
  log,
  rate,
  RUNS,
  setTmpRoot,
  silent,
  timed,
  tmp,
  TYPES,
  WARMUP_DOCS,
} from './bench-sync-common';
import { rawRead, rawReadTwoInFlight, rawWrite } from './bench-sync-raw';

// ---- the server child --------------------------------------------------------------------------

export function serverMain(dir: string): void {
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
export async function proxyMain(targetPort: number, delayMs: number): Promise<void> {
  const proxy = await TcpProxy.start(targetPort, { delayMs });
  process.send?.({ port: proxy.port });
}

export async function startProxy(
  targetPort: number,
  delayMs: number,
): Promise<{ origin: string; child: ChildProcess }> {
  const child = fork(BENCH_ENTRY, ['--proxy', String(targetPort), String(delayMs)], {
    stdio: 'inherit',
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`proxy exited ${code}`)));
  });
  return { origin: `http://127.0.0.1:${port}`, child };
}

export async function startServer(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const child = fork(BENCH_ENTRY, ['--server', dir], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { port, child };
}

export async function bulkLoad(
  db: PouchDB.Database,
  docs: Array<Record<string, unknown>>,
): Promise<void> {
  for (let i = 0; i < docs.length; i += 1000)
    await db.bulkDocs(
      docs.slice(i, i + 1000).map((d) => ({ ...d })) as PouchDB.Core.PutDocument<object>[],
    );
}

/** A plain PouchDB for PouchDB's native replication. */
export async function seedLocal(docs: Array<Record<string, unknown>>): Promise<PouchDB.Database> {
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
export function openBooks(dir: string): Promise<BooksStore> {
  return BooksStore.open(dir, { logger: silent });
}

export async function seedBooks(docs: Array<Record<string, unknown>>): Promise<BooksStore> {
  const books = await openBooks(tmp('books'));
  await bulkLoad(books.db, docs);
  return books;
}

export async function nativePush(localDir: string, dbUrl: string, batch: number): Promise<number> {
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
export async function nativePull(dbUrl: string, batch: number, plain = false): Promise<number> {
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
export function syncFor(
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
export const OURS_BATCH = 1000;

export async function oursPush(booksDir: string, dbUrl: string, expected = DOCS): Promise<number> {
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
export type Measurement =
  | { kind: 'native-push'; localDir: string; url: string; batch: number }
  | { kind: 'native-pull'; url: string; batch: number; plain: boolean }
  | { kind: 'ours-push'; booksDir: string; url: string }
  | { kind: 'ours-pull'; url: string; compression?: ResponseCompression };

/** The WARMUP_DOCS inputs: a local PouchDB, books, and a cloud database holding them. */
export interface Warmup {
  localDir: string;
  booksDir: string;
  url: string;
}

export function runMeasurement(m: Measurement, expected = DOCS): Promise<number> {
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
export function warmupOf(m: Measurement, w: Warmup, dir: string): Measurement {
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
 * Runs one measurement in a fresh Node process started as the daemon is (its Node flags and
 * environment, src/daemon/runtime-settings.ts), the same for every contender, after the same
 * sync of WARMUP_DOCS documents (untimed, so every contender is timed with its code compiled). In
 * one long-lived process each measurement inherited the heap the ones before it left (a dozen
 * PouchDB replications' worth), and booksync's pull, the most GC-bound of them, slowed run after
 * run within one benchmark (BENCHMARKS.md, Sync);
 * in a fresh process with no warm-up, each contender's JIT warm-up was timed instead.
 */
export async function measure(m: Measurement, warmup: Warmup): Promise<number> {
  const dir = tmp('measure');
  mkdirSync(dir, { recursive: true });
  const child = forkAsDaemon(['--measure', dir, JSON.stringify({ m, warmup })]);
  return new Promise((resolve, reject) => {
    child.once('message', (msg: { ms: number }) => resolve(msg.ms));
    // After a result this rejects nothing (a promise settles once); before one, any exit is a failure.
    child.once('exit', (code) =>
      reject(new Error(`${m.kind} measurement exited ${code} without a result`)),
    );
  });
}

export async function measureMain(dir: string, m: Measurement, warmup: Warmup): Promise<void> {
  setTmpRoot(dir);
  await runMeasurement(warmupOf(m, warmup, dir), WARMUP_DOCS);
  const ms = await runMeasurement(m);
  // Sent before the caller exits the process: `process.send` is asynchronous.
  await new Promise<void>((resolve, reject) =>
    process.send?.({ ms }, undefined, undefined, (err) => (err ? reject(err) : resolve())),
  );
}

export async function oursPull(
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

export interface Round {
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

export async function round(
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

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : Math.round((s[mid - 1] + s[mid]) / 2);
}

/** Each number of the rounds' medians. */
export function medianRound(rounds: Round[]): Round {
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

/** Peak RSS of a large initial pull and live latency, both measured on express-pouchdb. */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { forkAsDaemon, log, makeDocs, rate, RSS_DOCS, tmp } from './bench-sync-common';
import { OURS_BATCH, openBooks, syncFor } from './bench-sync-contenders';
import { rawPut, rawWrite } from './bench-sync-raw';

// ---- RSS of a large initial sync (child process, so the number is the engine's alone) ---------

export async function rssMain(dbUrl: string, dir: string, expected: number): Promise<void> {
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

export async function seedRss(origin: string): Promise<string> {
  const dbUrl = `${origin}/rss-200k`;
  await rawPut(dbUrl);
  for (let i = 0; i < RSS_DOCS; i += 20_000)
    await rawWrite(dbUrl, makeDocs(Math.min(20_000, RSS_DOCS - i), 1_000_000 + i));
  log(`seeded ${RSS_DOCS} docs for the RSS run`);
  return dbUrl;
}

/** One initial pull of the seeded database in a fresh child process started as the daemon is, plus `execArgv` (e.g. a heap cap). */
export async function measureRss(
  dbUrl: string,
  execArgv: string[] = [],
): Promise<{ peak_mb: number; docs: number; rate: number }> {
  const dir = tmp('rss');
  const child = forkAsDaemon(['--rss', dbUrl, dir, String(RSS_DOCS)], execArgv);
  return new Promise((resolve, reject) => {
    child.once('message', (m: { peak_mb: number; docs: number; rate: number }) => resolve(m));
    child.once('exit', (code) => code !== 0 && reject(new Error(`rss child exited ${code}`)));
  });
}

// ---- live latency ----------------------------------------------------------------------------

export async function liveLatency(
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

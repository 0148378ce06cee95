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
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../src/daemon/runtime-settings';
import { couchAvailable } from '../test/helpers/couchdb';
import {
  COUCH_ONLY,
  DOCS,
  log,
  makeDocs,
  RUNS,
  setTmpRoot,
  WARMUP_DOCS,
} from './bench-sync-common';
import {
  measureMain,
  proxyMain,
  seedBooks,
  seedLocal,
  serverMain,
  startServer,
  type Measurement,
  type Warmup,
} from './bench-sync-contenders';
import { best, compare, compareOnCouch, couchResult, tableRows } from './bench-sync-report';
import { liveLatency, measureRss, rssMain, seedRss } from './bench-sync-rss-live';

export { makeDocs } from './bench-sync-common';

async function main(): Promise<void> {
  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'booksync-bench-'));
  setTmpRoot(tmpRoot);
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

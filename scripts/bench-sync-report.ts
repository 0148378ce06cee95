/** The comparison runs against one server and the table rows and JSON fields they report. */
import PouchDB from 'pouchdb-node';
import { COUCH_ADMIN, sharedCouch } from '../test/helpers/couchdb';
import { BATCHES, DELAY, RUNS } from './bench-sync-common';
import { medianRound, round, startProxy, type Round } from './bench-sync-contenders';

export function best(r: Record<number, number>): number {
  return Math.max(...Object.values(r));
}

export interface Seeded {
  localDir: string;
  booksDir: string;
  docs: Array<Record<string, unknown>>;
  warm: { localDir: string; booksDir: string };
}

/** BENCH_RUNS rounds against one server at 0 ms and through the delay proxy, taking turns; their medians. */
export async function compare(
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
export async function compareOnCouch(seeded: Seeded): Promise<{ r0: Round; r50: Round }> {
  const couch = await sharedCouch(1);
  return compare(seeded, {
    origin: `http://${COUCH_ADMIN.username}:${COUCH_ADMIN.password}@127.0.0.1:${couch.ports[0]}`,
    port: couch.ports[0],
    label: 'couchdb-',
    opaqueSeqs: true,
  });
}

/** The table's rows for one server, at 0 ms and at DELAY. */
export function tableRows(r0: Round, r50: Round, readTwo: boolean): string[] {
  return [r0, r50].map(
    (r, i) =>
      `| ${i === 0 ? '0 ms' : `${DELAY} ms`} | ${BATCHES.map((b) => r.native_push[b]).join(' / ')} | ${BATCHES.map((b) => r.native_pull[b]).join(' / ')} (${r.native_pull_plain}) | ${r.ours_push} | ${r.ours_pull} (${r.ours_pull_gzip}) | ${r.ceiling_write} / ${r.ceiling_read} / ${readTwo ? r.ceiling_read_two : '-'} |`,
  );
}

/** The CouchDB comparison's part of the last JSON line. */
export function couchResult(r0: Round, r50: Round): Record<string, number> {
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

/**
 * A cloud server's own ceilings for `npm run bench:sync`: pre-built `_bulk_docs` writes and
 * `_changes` reads with no client work behind them. URLs may carry credentials (Apache CouchDB).
 */
import { cloudFetch as fetch } from '../test/helpers/test-cloud';

export async function rawPut(url: string): Promise<void> {
  await fetch(url, { method: 'PUT' });
}

/** Pre-built `_bulk_docs` bodies posted with 3 in flight: the server's write ceiling. */
export async function rawWrite(
  dbUrl: string,
  docs: Array<Record<string, unknown>>,
  batch = 1000,
  depth = 3,
): Promise<number> {
  await rawPut(dbUrl);
  const bodies: string[] = [];
  for (let i = 0; i < docs.length; i += batch)
    bodies.push(JSON.stringify({ docs: docs.slice(i, i + batch) }));
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await fetch(`${dbUrl}/_bulk_docs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await res.text();
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  return performance.now() - t0;
}

/** Sequential `_changes?include_docs` pages with no client work: the server's read ceiling. */
export async function rawRead(dbUrl: string, batch = 1000): Promise<{ ms: number; docs: number }> {
  let since: unknown = 0;
  let docs = 0;
  const t0 = performance.now();
  for (;;) {
    const res = await fetch(
      `${dbUrl}/_changes?include_docs=true&style=all_docs&conflicts=true&limit=${batch}&since=${encodeURIComponent(String(since))}`,
    );
    const body = (await res.json()) as { results: unknown[]; last_seq: unknown };
    docs += body.results.length;
    since = body.last_seq;
    if (body.results.length < batch) break;
  }
  return { ms: performance.now() - t0, docs };
}

/**
 * Raw `_changes` reads with two in flight, as booksync's pull reads an integer-seq server
 * (src/sync/read-ahead.ts): each read asked for at the previous one's start plus `batch` without
 * waiting for it. Changes an earlier read already returned are not counted twice.
 */
export async function rawReadTwoInFlight(
  dbUrl: string,
  batch = 3000,
): Promise<{ ms: number; docs: number }> {
  type Answer = { results: Array<{ seq: number }>; last_seq: number };
  const asked: Array<{ since: number; answer: Promise<Answer> }> = [];
  let next = 0;
  const ask = () => {
    const since = next;
    next += batch;
    asked.push({
      since,
      answer: fetch(
        `${dbUrl}/_changes?include_docs=true&conflicts=true&limit=${batch}&since=${since}`,
      ).then((res) => res.json() as Promise<Answer>),
    });
  };
  let covered = 0;
  let docs = 0;
  const t0 = performance.now();
  for (;;) {
    while (asked.length < 2) ask();
    const { since, answer } = asked.shift() as (typeof asked)[number];
    const body = await answer;
    if (since > covered)
      throw new Error(
        `raw read at ${since} starts past the ${covered} read so far: not an integer-seq server`,
      );
    for (const r of body.results) if (r.seq > covered) docs++;
    covered = Math.max(covered, body.last_seq);
    if (body.results.length < batch) break;
  }
  const ms = performance.now() - t0;
  await Promise.allSettled(asked.map((a) => a.answer));
  return { ms, docs };
}

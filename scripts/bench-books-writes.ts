/**
 * The books' batch writes on their own: the sync pull's writes
 * (`PouchLocalStore.write` over `BooksStore.writeExpecting`) as creations, as updates over the
 * revision read (the careful path) and over the agreed revision (the fast path), and the local
 * API's replicated revisions (`LedgerWriter`, `new_edits: false`), into a fresh LevelDB books
 * store. Prints documents per second of wall clock and of process CPU for each, the median of
 * `--rounds` rounds; the last line is one JSON object.
 *
 *   node dist/scripts/bench-books-writes.js [--count 20000] [--batch 1000] [--rounds 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import winston from 'winston';
import { BooksStore, type AccountDoc } from '../src/ledger';
import { LedgerWriter } from '../src/local-api/writes';
import { PouchLocalStore, type LocalDoc, type LocalWrite } from '../src/sync/local-store';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const COUNT = arg('--count', 20_000);
const BATCH = arg('--batch', 1_000);
const ROUNDS = arg('--rounds', 3);
const silent = winston.createLogger({ silent: true });
const T = '2024-03-01T10:00:00.000Z';

function account(i: number, name: string): AccountDoc {
  const code = String(100000 + i);
  return {
    _id: `account:${code}`,
    type: 'account',
    code,
    name,
    kind: 'asset',
    created_at: T,
    updated_at: T,
  };
}

/** Wall and CPU milliseconds of `fn`. */
async function timed(fn: () => Promise<void>): Promise<{ ms: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const cpu = process.cpuUsage(cpu0);
  return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function inBatches<T>(items: T[], fn: (batch: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH) await fn(items.slice(i, i + BATCH));
}

type Phase = 'pull_create' | 'pull_update_read' | 'pull_update_agreed' | 'api_replicate';

async function round(dir: string): Promise<Record<Phase, { ms: number; cpuMs: number }>> {
  const books = await BooksStore.open(dir, { logger: silent });
  try {
    const local = new PouchLocalStore(books);
    const api = new LedgerWriter(books, () => new Date(T), silent);
    const ids = Array.from({ length: COUNT }, (_, i) => account(i, '')._id);
    const out = {} as Record<Phase, { ms: number; cpuMs: number }>;
    out.pull_create = await timed(() =>
      inBatches(
        Array.from({ length: COUNT }, (_, i) => i),
        (batch) =>
          local.write(batch.map((i) => ({ doc: { ...account(i, 'pulled') }, current: null }))),
      ),
    );
    const current = await local.current(ids);
    const careful: LocalWrite[] = ids.map((id, i) => ({
      doc: { ...account(i, 'pulled again') },
      current: current.get(id) as LocalDoc,
    }));
    out.pull_update_read = await timed(() => inBatches(careful, (batch) => local.write(batch)));
    const agreed = await local.current(ids);
    const fast: LocalWrite[] = ids.map((id, i) => ({
      doc: { ...account(i, 'pulled a third time') },
      current: { _id: id, _rev: (agreed.get(id) as LocalDoc)._rev },
    }));
    out.pull_update_agreed = await timed(() => inBatches(fast, (batch) => local.write(batch)));
    const replicated = Array.from({ length: COUNT }, (_, i) => ({
      ...account(COUNT + i, 'replicated'),
      _rev: '2-bb',
      _revisions: { start: 2, ids: ['bb', 'aa'] },
    }));
    out.api_replicate = await timed(() =>
      inBatches(replicated, (batch) => api.write(batch, false)),
    );
    return out;
  } finally {
    await books.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'booksync-bench-writes-'));
  const load = loadavg()[0];
  try {
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) rounds.push(await round(path.join(tmp, `books-${r}`)));
    const result: Record<string, number> = { count: COUNT, batch: BATCH, rounds: ROUNDS };
    for (const phase of Object.keys(rounds[0]) as Phase[]) {
      const perS = median(rounds.map((x) => COUNT / (x[phase].ms / 1000)));
      const perCpuS = median(rounds.map((x) => COUNT / (x[phase].cpuMs / 1000)));
      result[`${phase}_docs_per_s`] = Math.round(perS);
      result[`${phase}_docs_per_cpu_s`] = Math.round(perCpuS);
      process.stdout.write(
        `${phase.padEnd(20)} ${Math.round(perS)} docs/s, ${Math.round(perCpuS)} docs/CPU-s\n`,
      );
    }
    result.load_avg = Math.round(load * 10) / 10;
    process.stdout.write(`(median of ${ROUNDS} rounds; load average ${load.toFixed(1)})\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

void main();

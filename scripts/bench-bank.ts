/**
 * End-to-end bank benchmark (BENCHMARKS.md, Bank import): 100,000 transactions from one OFX file
 * and from one camt.053 file → parse → dedup → store, through the drop-folder provider and the real fetch
 * loop into a fresh LevelDB books store (the files are large, so the provider hands them to the
 * loop as streams, read twice: see provider.ts, StatementStream). Prints tx/s per format, the re-run (everything a duplicate) speed and peak RSS; the
 * last line is one JSON object. Files are generated deterministically in a temp folder.
 *
 *   node dist/scripts/bench-bank.js [--count 100000] [--batch 1000] [--heap-mb N] [--parse-bench]
 *
 * `--heap-mb N` runs each format with `--max-old-space-size=N`: peak RSS then shows the live
 * memory rather than how lazily V8 collects (OFX 100,000 lines import within a 200 MB heap).
 *
 * `--parse-bench` also runs dist/scripts/bench-bank-parse.js (parse-only numbers, ofxparse/libofx
 * comparison) when it exists, and merges its last-line JSON into ours.
 *
 * Lines are written in batches of `--batch` documents (default 1,000, the fetch loop's default):
 * PouchDB's bulkDocs gets slower per document as a batch grows (BENCHMARKS.md, Bank import) and
 * holds each batch's
 * documents, revisions and responses in memory at once. A run
 * is still all or nothing where it matters: the watermark moves only after the last batch, and
 * the ids are deterministic, so a run that dies after some batches is completed by the next one
 * (which finds the written lines as duplicates and writes the rest).
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import winston from 'winston';
import { DEFAULT_WRITE_BATCH, FetchLoop, type ConnectionSpec } from '../src/bank/fetch-loop';
import { ProviderRegistry } from '../src/bank/registry';
import { seededRandom } from '../src/bank/scheduler';
import { dropfolder } from '../src/bank/providers/dropfolder';
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../src/daemon/runtime-settings';
import { BooksStore } from '../src/ledger';
import { generateOfx } from './gen-ofx';

function arg(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(name);
  return at === -1 ? undefined : argv[at + 1];
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** A camt.053.001.08 statement with `count` booked entries, deterministic; returns the byte size. */
export function generateCamt(file: string, count: number, seed = 1): number {
  const rand = seededRandom(seed);
  const names = [
    'Globex GmbH',
    'ACME SA',
    'Initech BV',
    'Papeterie Dupont',
    'CloudHost Ltd',
    'Stadtwerke Köln',
    'Deutsche Post AG',
    'Café Central',
  ];
  const fd = openSync(file, 'w');
  let bytes = 0;
  let buf = '';
  const emit = (text: string) => {
    buf += text;
    if (buf.length >= 1 << 20) {
      bytes += writeSync(fd, buf);
      buf = '';
    }
  };
  const days = Math.max(1, Math.ceil(count / 200));
  const day = (i: number) =>
    new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
  try {
    emit(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n<BkToCstmrStmt>\n',
    );
    emit('<GrpHdr><MsgId>BENCH-1</MsgId><CreDtTm>2024-01-01T06:00:00+01:00</CreDtTm></GrpHdr>\n');
    emit(
      `<Stmt>\n<Id>BENCH-STMT-1</Id>\n<ElctrncSeqNb>1</ElctrncSeqNb>\n<CreDtTm>2024-01-01T06:00:00+01:00</CreDtTm>\n<Acct><Id><IBAN>DE45120300001234567890</IBAN></Id><Ccy>EUR</Ccy></Acct>\n`,
    );
    emit(
      `<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>${day(0)}</Dt></Dt></Bal>\n`,
    );
    let balance = 0;
    const entries: string[] = [];
    for (let i = 0; i < count; i++) {
      const cents = Math.floor(rand() * 200_000) + 1;
      const credit = rand() >= 0.8;
      balance += credit ? cents : -cents;
      const d = day(Math.floor((i * days) / count));
      const name = names[Math.floor(rand() * names.length)];
      const party = credit
        ? `<Dbtr><Pty><Nm>${name}</Nm></Pty></Dbtr>`
        : `<Cdtr><Pty><Nm>${name}</Nm></Pty></Cdtr>`;
      entries.push(
        `<Ntry><NtryRef>N${pad(i, 9)}</NtryRef><Amt Ccy="EUR">${Math.floor(cents / 100)}.${pad(cents % 100, 2)}</Amt><CdtDbtInd>${credit ? 'CRDT' : 'DBIT'}</CdtDbtInd>` +
          `<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>${d}</Dt></BookgDt><ValDt><Dt>${d}</Dt></ValDt><AcctSvcrRef>BENCH${pad(i, 9)}</AcctSvcrRef>` +
          `<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>${credit ? 'RCDT' : 'ICDT'}</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>` +
          `<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><RltdPties>${party}</RltdPties><RmtInf><Ustrd>INV/2020/${pad(i % 100000, 5)}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n`,
      );
      if (entries.length >= 1000) emit(entries.splice(0).join(''));
    }
    emit(entries.join(''));
    const abs = Math.abs(balance);
    emit(
      `<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">${Math.floor(abs / 100)}.${pad(abs % 100, 2)}</Amt><CdtDbtInd>${balance < 0 ? 'DBIT' : 'CRDT'}</CdtDbtInd><Dt><Dt>${day(days)}</Dt></Dt></Bal>\n`,
    );
    emit('</Stmt>\n</BkToCstmrStmt>\n</Document>\n');
    bytes += writeSync(fd, buf);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

interface FormatResult {
  tx: number;
  ms: number;
  tx_per_s: number;
  /** Process CPU time (main thread and LevelDB's worker threads) of the first import. */
  cpu_ms: number;
  /** Transactions per CPU second: steadier than wall clock on a shared, loaded machine. */
  tx_per_cpu_s: number;
  rerun_tx_per_s: number;
  new: number;
  duplicates_on_rerun: number;
  file_mb: number;
  /** Peak RSS of the process while generating, parsing, deduplicating and storing (first import). */
  rss_mb: number;
  /** Peak RSS including the re-run (every stored line read back). */
  rerun_rss_mb: number;
}

/** Samples RSS every 25 ms; `peak()` in MB. */
function rssSampler(): { peak(): number; reset(): void; stop(): void } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 25);
  return {
    peak: () => Math.round(Math.max(peak, process.memoryUsage().rss) / 1048576),
    reset: () => {
      peak = process.memoryUsage().rss;
    },
    stop: () => clearInterval(timer),
  };
}

/** One format in this process: import `file` into a fresh store, then import it again. */
async function benchFormat(
  name: 'ofx' | 'camt',
  file: string,
  count: number,
  batch: number,
): Promise<FormatResult> {
  const dir = mkdtempSync(path.join(tmpdir(), `booksync-bench-bank-${name}-`));
  const logger = winston.createLogger({
    level: 'error',
    transports: [new winston.transports.Console({ stderrLevels: ['error'] })],
  });
  const rss = rssSampler();
  try {
    // The drop folder's inbox holds just this file; keep_files leaves it there for the re-run.
    const inbox = path.join(dir, 'inbox');
    mkdirSync(inbox);
    try {
      linkSync(file, path.join(inbox, path.basename(file)));
    } catch {
      copyFileSync(file, path.join(inbox, path.basename(file)));
    }
    const store = await BooksStore.open(path.join(dir, 'books'), { logger });
    try {
      const loop = new FetchLoop({
        store,
        registry: new ProviderRegistry([dropfolder]),
        logger,
        writeBatchSize: batch,
      });
      const spec: ConnectionSpec = {
        name: `bench-${name}`,
        provider: dropfolder.id,
        institution: 'demo-bank',
        settings: { path: inbox, keep_files: true },
        secrets: {},
        historyDays: 3650,
        stateDir: path.join(dir, 'state'),
        runTimeoutMs: 1_800_000,
      };
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const first = await loop.run(spec);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const importRss = rss.peak();
      if (first.status !== 'connected')
        throw new Error(`${name}: first run failed: ${first.error?.code} ${first.error?.message}`);
      if (first.counts.new !== count)
        throw new Error(`${name}: expected ${count} new lines, got ${first.counts.new}`);
      const t1 = performance.now();
      const again = await loop.run(spec);
      const rerunMs = performance.now() - t1;
      if (again.counts.new !== 0)
        throw new Error(`${name}: the re-run added ${again.counts.new} lines`);
      return {
        tx: count,
        ms: Math.round(ms),
        tx_per_s: Math.round((count / ms) * 1000),
        cpu_ms: Math.round(cpuMs),
        tx_per_cpu_s: Math.round((count / cpuMs) * 1000),
        rerun_tx_per_s: Math.round((count / rerunMs) * 1000),
        new: first.counts.new,
        duplicates_on_rerun: again.counts.duplicates,
        file_mb: Math.round((statSync(file).size / 1048576) * 10) / 10,
        rss_mb: importRss,
        rerun_rss_mb: rss.peak(),
      };
    } finally {
      await store.close();
    }
  } finally {
    rss.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs one format in a child process, so each format's peak RSS is its own and does not include
 * generating the file. The child runs with the daemon's Node flags and environment
 * (src/daemon/runtime-settings.ts), so the memory it reports is the daemon's.
 */
function runChild(
  name: 'ofx' | 'camt',
  file: string,
  count: number,
  batch: number,
  heapMb?: number,
): FormatResult {
  const v8 = heapMb ? [`--max-old-space-size=${heapMb}`] : [];
  const child = spawnSync(
    process.execPath,
    [
      ...DAEMON_NODE_FLAGS,
      ...v8,
      __filename,
      '--child',
      name,
      '--file',
      file,
      '--count',
      String(count),
      '--batch',
      String(batch),
    ],
    {
      env: { ...process.env, ...DAEMON_ENV },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 << 20,
    },
  );
  const last = (child.stdout ?? '').trim().split('\n').pop() ?? '';
  if (child.status !== 0)
    throw new Error(`${name} benchmark failed (exit ${child.status}): ${last}`);
  return JSON.parse(last) as FormatResult;
}

async function main(argv: string[]): Promise<void> {
  const count = Number(arg(argv, '--count') ?? '100000');
  const batch = Number(arg(argv, '--batch') ?? String(DEFAULT_WRITE_BATCH));
  const childFormat = arg(argv, '--child');
  if (childFormat === 'ofx' || childFormat === 'camt') {
    process.stdout.write(
      `${JSON.stringify(await benchFormat(childFormat, String(arg(argv, '--file')), count, batch))}\n`,
    );
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'booksync-bench-bank-files-'));
  let ofx: FormatResult;
  let camt: FormatResult;
  try {
    const ofxFile = path.join(dir, 'bench.ofx');
    const camtFile = path.join(dir, 'bench.camt053.xml');
    generateOfx(ofxFile, { transactions: count, seed: 7, version: 1 });
    generateCamt(camtFile, count, 7);
    const heapMb = arg(argv, '--heap-mb') ? Number(arg(argv, '--heap-mb')) : undefined;
    ofx = runChild('ofx', ofxFile, count, batch, heapMb);
    camt = runChild('camt', camtFile, count, batch, heapMb);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `OFX  ${count} tx (${ofx.file_mb} MB): parse+dedup+store ${ofx.ms} ms = ${ofx.tx_per_s} tx/s (CPU ${ofx.cpu_ms} ms = ${ofx.tx_per_cpu_s} tx/CPU-s), peak RSS ${ofx.rss_mb} MB; re-run (all duplicates) ${ofx.rerun_tx_per_s} tx/s, peak RSS ${ofx.rerun_rss_mb} MB\n`,
  );
  process.stdout.write(
    `camt ${count} tx (${camt.file_mb} MB): parse+dedup+store ${camt.ms} ms = ${camt.tx_per_s} tx/s (CPU ${camt.cpu_ms} ms = ${camt.tx_per_cpu_s} tx/CPU-s), peak RSS ${camt.rss_mb} MB; re-run (all duplicates) ${camt.rerun_tx_per_s} tx/s, peak RSS ${camt.rerun_rss_mb} MB\n`,
  );
  process.stdout.write(
    `(batches of ${batch} lines; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${cpus().length} CPUs)\n`,
  );
  let merged: Record<string, unknown> = {};
  const parseBench = path.join(__dirname, 'bench-bank-parse.js');
  if (argv.includes('--parse-bench') && existsSync(parseBench)) {
    const child = spawnSync(process.execPath, [parseBench], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 << 20,
    });
    process.stdout.write(child.stdout ?? '');
    const last = (child.stdout ?? '').trim().split('\n').pop() ?? '';
    try {
      merged = JSON.parse(last) as Record<string, unknown>;
    } catch {
      process.stdout.write('bench-bank-parse printed no JSON line; parse-only numbers omitted\n');
    }
  }
  const rssMb = Math.max(ofx.rss_mb, camt.rss_mb);
  const summary = {
    ...merged,
    tx: count,
    batch,
    ofx_tx_per_s: ofx.tx_per_s,
    camt_tx_per_s: camt.tx_per_s,
    ofx_tx_per_cpu_s: ofx.tx_per_cpu_s,
    camt_tx_per_cpu_s: camt.tx_per_cpu_s,
    ofx_rerun_tx_per_s: ofx.rerun_tx_per_s,
    camt_rerun_tx_per_s: camt.rerun_tx_per_s,
    rss_mb: Math.max(rssMb, Number(merged.rss_mb ?? 0)),
    e2e_rss_mb: rssMb,
    rerun_rss_mb: Math.max(ofx.rerun_rss_mb, camt.rerun_rss_mb),
    load_avg: Number(loadavg()[0].toFixed(1)),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(
      `bench-bank: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  });
}

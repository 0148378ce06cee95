/**
 * Statement-parser benchmark (parse only; the fetch loop's store benchmark is separate).
 *
 *   node dist/scripts/bench-bank-parse.js [--skip-1m] [--no-install]
 *
 * 1. Generates deterministic OFX files of 10,000 and 1,000,000 transactions (scripts/gen-ofx.ts)
 *    in a temp folder (removed at the end).
 * 2. Parses the 10k file five times in process (median) and the 1M file once in a child process,
 *    streaming to a counting sink, and reports transactions per second (wall clock and CPU time)
 *    and the child's peak RSS.
 * 3. Parses the 10k file with python3-ofxparse and libofx's `ofxdump` (installing them with apt-get
 *    when running as root and they are missing, unless --no-install; skipped with a message when
 *    that is not possible) and reports agreement on FITID, amount and date, and speed ratios
 *    (booksync tx/s divided by theirs; ofxparse is timed inside Python around the parse call,
 *    ofxdump as a whole process because it has no other interface).
 *
 * The last stdout line is one JSON object with `ofx_parse_tx_per_s_10k`, `ofx_parse_tx_per_s_1m`,
 * `parse_rss_mb`, `ofxparse_agreement`, `vs_ofxparse_10k`, `vs_libofx_10k` (plus details).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseOfx, parseOfxStream } from '../src/bank/formats/ofx';
import { formatAmount } from '../src/shared/money';
import { generateOfx } from './gen-ofx';

interface ParseRun {
  transactions: number;
  wall_ms: number;
  cpu_ms: number;
  max_rss_mb: number;
}

/** Streams `file` through the OFX parser into a sink that only counts. */
async function parseCounting(file: string): Promise<ParseRun> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let count = 0;
  let checksum = 0;
  await parseOfxStream(
    createReadStream(file, { highWaterMark: 1 << 20 }),
    { fileName: path.basename(file) },
    {
      transaction: (tx) => {
        count++;
        checksum = (checksum + tx.amount) % 1_000_000_007;
      },
      statement: () => undefined,
    },
  );
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  if (checksum === -1) process.stdout.write(''); // keep the sink's work observable
  return {
    transactions: count,
    wall_ms: wall,
    cpu_ms: (cpu.user + cpu.system) / 1000,
    max_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;
const say = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

function have(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

function ofxparsePython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3'])
    if (have(py, ['-c', 'import ofxparse'])) return py;
  return undefined;
}

/** apt-get install, only as root, only when allowed; returns whether it ran successfully. */
function aptInstall(packages: string[], allowed: boolean): boolean {
  if (
    !allowed ||
    typeof process.getuid !== 'function' ||
    process.getuid() !== 0 ||
    !have('apt-get', ['--version'])
  )
    return false;
  say(`installing ${packages.join(' ')} with apt-get...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-qq', ...packages], {
    stdio: 'ignore',
    env,
    timeout: 600_000,
  });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 600_000 });
    r = spawnSync('apt-get', ['install', '-y', '-qq', ...packages], {
      stdio: 'ignore',
      env,
      timeout: 600_000,
    });
  }
  return r.status === 0;
}

interface Reference {
  id: string;
  amount: string;
  date: string;
}

const OFXPARSE_DUMP = `
import json, sys, time, warnings
warnings.filterwarnings('ignore')
import ofxparse
with open(sys.argv[1], 'rb') as fh:
    data = fh.read()
import io
t0 = time.perf_counter()
ofx = ofxparse.OfxParser.parse(io.BytesIO(data))
seconds = time.perf_counter() - t0
txs = [[t.id, str(t.amount), t.date.strftime('%Y-%m-%d')] for a in ofx.accounts for t in a.statement.transactions]
print(json.dumps({'seconds': seconds, 'txs': txs}))
`;

function runOfxparse(
  python: string,
  file: string,
  tmp: string,
): { seconds: number; txs: Reference[] } {
  const script = path.join(tmp, 'ofxparse-dump.py');
  writeFileSync(script, OFXPARSE_DUMP);
  const r = spawnSync(python, [script, file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`ofxparse failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { seconds: number; txs: [string, string, string][] };
  return { seconds: out.seconds, txs: out.txs.map(([id, amount, date]) => ({ id, amount, date })) };
}

const MONTHS: Readonly<Record<string, string>> = {
  Jan: '01',
  Feb: '02',
  Mar: '03',
  Apr: '04',
  May: '05',
  Jun: '06',
  Jul: '07',
  Aug: '08',
  Sep: '09',
  Oct: '10',
  Nov: '11',
  Dec: '12',
};

function runOfxdump(file: string): { seconds: number; txs: Reference[] } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('ofxdump', [file], {
    encoding: 'utf8',
    maxBuffer: 512 << 20,
    env: { ...process.env, TZ: 'UTC' },
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ofxdump failed: ${r.stderr.slice(0, 500)}`);
  const txs: Reference[] = [];
  for (const block of r.stdout.split('ofx_proc_transaction():').slice(1)) {
    const id =
      /Financial institution's ID for this transaction: (.*)/.exec(block)?.[1]?.trim() ?? '';
    const amount = /Total money amount: (\S+)/.exec(block)?.[1] ?? '';
    const d = /Date posted: \w+ (\w+)\s+(\d+) [\d:]+ (\d{4})/.exec(block);
    const date = d ? `${d[3]}-${MONTHS[d[1]]}-${d[2].padStart(2, '0')}` : '';
    txs.push({ id, amount, date });
  }
  return { seconds, txs };
}

/** Equal decimal values written differently (`-5.5` and `-5.50`), compared as text, not floats. */
function sameDecimal(a: string, b: string): boolean {
  const norm = (x: string): string => {
    const [i, f = ''] = x.trim().replace(/^\+/, '').split('.');
    const frac = f.replace(/0+$/, '');
    const int = i.replace(/^(-?)0+(?=\d)/, '$1');
    return frac === '' ? (int === '-0' ? '0' : int) : `${int}.${frac}`;
  };
  return norm(a) === norm(b);
}

/** Share of our lines that agree with the reference on id, amount (as a number) and date. */
function agreement(ours: Reference[], theirs: Reference[]): number {
  if (ours.length === 0) return 0;
  let same = 0;
  for (let i = 0; i < ours.length; i++) {
    const t = theirs[i];
    if (
      t &&
      t.id === ours[i].id &&
      t.date === ours[i].date &&
      sameDecimal(t.amount, ours[i].amount)
    )
      same++;
  }
  return same / Math.max(ours.length, theirs.length);
}

async function child(file: string): Promise<void> {
  const run = await parseCounting(file);
  process.stdout.write(`${JSON.stringify(run)}\n`);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    await child(argv[1]);
    return;
  }
  const skip1m = argv.includes('--skip-1m');
  const install = !argv.includes('--no-install');
  const tmp = mkdtempSync(path.join(tmpdir(), 'booksync-bench-parse-'));
  const result: Record<string, number | null> = { load_average_1m: round(loadavg()[0], 2) };
  try {
    const file10k = path.join(tmp, 'gen-10k.ofx');
    generateOfx(file10k, { transactions: 10_000, seed: 42 });
    // Warm-up, then five timed runs.
    await parseCounting(file10k);
    const runs: ParseRun[] = [];
    for (let i = 0; i < 5; i++) runs.push(await parseCounting(file10k));
    const tps10k = 10_000 / (median(runs.map((r) => r.wall_ms)) / 1000);
    const cpuTps10k = 10_000 / (median(runs.map((r) => r.cpu_ms)) / 1000);
    result.ofx_parse_tx_per_s_10k = round(tps10k);
    result.ofx_parse_tx_per_s_10k_cpu = round(cpuTps10k);
    say(`booksync 10k: ${round(tps10k)} tx/s wall, ${round(cpuTps10k)} tx/s CPU (median of 5)`);

    if (!skip1m) {
      const file1m = path.join(tmp, 'gen-1m.ofx');
      const bytes = generateOfx(file1m, { transactions: 1_000_000, seed: 42 });
      const inChild = (file: string, nodeFlags: string[] = []): ParseRun => {
        const r = spawnSync(process.execPath, [...nodeFlags, __filename, '--child', file], {
          encoding: 'utf8',
        });
        if (r.status !== 0)
          throw new Error(`child parse of ${path.basename(file)} failed: ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split('\n').pop()!) as ParseRun;
      };
      const run = inChild(file1m);
      if (run.transactions !== 1_000_000)
        throw new Error(`1M child parsed ${run.transactions} lines`);
      // Flat memory, shown two ways: the 10k file's peak RSS next to the 1M file's, and the 1M
      // file parsed again with the JS heap capped at 48 MB (it would die if memory grew with size).
      result.parse_rss_mb_10k = round(inChild(file10k).max_rss_mb, 1);
      const capped = inChild(file1m, ['--max-old-space-size=48']);
      result.parse_rss_mb_1m_heap_capped_48mb = round(capped.max_rss_mb, 1);
      result.ofx_parse_tx_per_s_1m = round(run.transactions / (run.wall_ms / 1000));
      result.ofx_parse_tx_per_s_1m_cpu = round(run.transactions / (run.cpu_ms / 1000));
      result.parse_rss_mb = round(run.max_rss_mb, 1);
      result.file_1m_mb = round(bytes / 1e6, 1);
      say(
        `booksync 1M (${round(bytes / 1e6)} MB): ${result.ofx_parse_tx_per_s_1m} tx/s wall, ${result.ofx_parse_tx_per_s_1m_cpu} tx/s CPU, peak RSS ${result.parse_rss_mb} MB`,
      );
      say(
        `peak RSS: 10k file ${result.parse_rss_mb_10k} MB; 1M file with a 48 MB heap cap ${result.parse_rss_mb_1m_heap_capped_48mb} MB`,
      );
    }

    const ours = parseOfx(readFileSync(file10k), { fileName: 'gen-10k.ofx' }).statements.flatMap(
      (s) =>
        s.transactions.map((t) => ({
          id: t.providerId ?? '',
          amount: formatAmount(t.amount, t.currency),
          date: t.bookingDate,
        })),
    );

    let python = ofxparsePython();
    if (!python && aptInstall(['python3-ofxparse'], install)) python = ofxparsePython();
    if (python) {
      const theirs = runOfxparse(python, file10k, tmp);
      result.ofxparse_agreement = round(agreement(ours, theirs.txs), 4);
      result.ofxparse_tx_per_s_10k = round(theirs.txs.length / theirs.seconds);
      result.vs_ofxparse_10k = round(tps10k / (theirs.txs.length / theirs.seconds), 1);
      say(
        `ofxparse 10k: ${result.ofxparse_tx_per_s_10k} tx/s, agreement ${result.ofxparse_agreement}, booksync is ${result.vs_ofxparse_10k}x`,
      );
    } else {
      say(
        'ofxparse comparison skipped: python3-ofxparse is not installed and could not be installed (run as root, or apt-get install python3-ofxparse)',
      );
      result.ofxparse_agreement = null;
      result.vs_ofxparse_10k = null;
    }

    let ofxdump = have('ofxdump', ['--version']);
    if (!ofxdump && aptInstall(['ofx'], install)) ofxdump = have('ofxdump', ['--version']);
    if (ofxdump) {
      const theirs = runOfxdump(file10k);
      result.libofx_agreement = round(agreement(ours, theirs.txs), 4);
      result.libofx_tx_per_s_10k = round(theirs.txs.length / theirs.seconds);
      result.vs_libofx_10k = round(tps10k / (theirs.txs.length / theirs.seconds), 1);
      say(
        `ofxdump (libofx) 10k: ${result.libofx_tx_per_s_10k} tx/s (whole process), agreement ${result.libofx_agreement}, booksync is ${result.vs_libofx_10k}x`,
      );
    } else {
      say(
        'libofx comparison skipped: ofxdump is not installed and could not be installed (run as root, or apt-get install ofx)',
      );
      result.libofx_agreement = null;
      result.vs_libofx_10k = null;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}

import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { markFullQuorum } from './full-quorum';

/**
 * Apache CouchDB 3.5 for tests: the release archive the project's CI unpacks (`.ci/run`), started
 * once per test process on free loopback ports, one node or a 3-node cluster, and stopped when the
 * process exits.
 *
 * Where it comes from, first match wins:
 * - `$BOOKSYNC_TEST_COUCHDB`: a folder holding `couchdb-test.sh` (what `.ci/run` exports);
 * - `.cache/couchdb/couchdb-3.5.0/` in the checkout (unpacked before);
 * - `../shared/couchdb/couchdb-3.5.0-*.tar.gz` beside the checkout, unpacked into `.cache/couchdb/`.
 * With none of them the CouchDB suites are skipped with one line saying so.
 */

const ROOT = path.resolve(__dirname, '../../..');
const CACHE = path.join(ROOT, '.cache', 'couchdb');
export const COUCH_ADMIN = { username: 'admin', password: 'booksync-test' } as const;

export interface CouchNodes {
  /** `http://127.0.0.1:PORT` of each node, without credentials. */
  origins: string[];
  ports: number[];
  /** The `-d` folder of `couchdb-test.sh`: `node1/`, `node2/`… each with its `couchdb.pid`. */
  dataDir: string;
}

let located: { script: string } | { missing: string } | undefined;

/** The `couchdb-test.sh` to use, or why there is none. */
export function couchScript(): { script: string } | { missing: string } {
  if (located) return located;
  // Absolute: bin/couchdb changes its directory, so a relative release path would not resolve.
  const fromEnv = process.env.BOOKSYNC_TEST_COUCHDB
    ? path.resolve(process.env.BOOKSYNC_TEST_COUCHDB)
    : undefined;
  if (fromEnv) {
    const script = path.join(fromEnv, 'couchdb-test.sh');
    located = existsSync(script)
      ? { script }
      : { missing: `BOOKSYNC_TEST_COUCHDB=${fromEnv} has no couchdb-test.sh` };
    return located;
  }
  const cached = findScript(CACHE);
  if (cached) return (located = { script: cached });
  const shared = path.resolve(ROOT, '..', 'shared', 'couchdb');
  const archive = existsSync(shared)
    ? readdirSync(shared).find((f) => /^couchdb-3\.[\d.]+-.*\.tar\.gz$/.test(f))
    : undefined;
  if (!archive) return (located = { missing: `no CouchDB archive at ${shared}` });
  mkdirSync(CACHE, { recursive: true });
  const tar = spawnSync('tar', ['xzf', path.join(shared, archive), '-C', CACHE], {
    encoding: 'utf8',
  });
  if (tar.status !== 0) throw new Error(`unpacking ${archive}: ${tar.stderr}`);
  const script = findScript(CACHE);
  if (!script) throw new Error(`${archive} has no couchdb-test.sh`);
  return (located = { script });
}

function findScript(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir)) {
    const script = path.join(dir, entry, 'couchdb-test.sh');
    if (existsSync(script)) return script;
  }
  return undefined;
}

/** True when the CouchDB suites can run; otherwise prints why, once, and they are skipped. */
export function couchAvailable(): boolean {
  const where = couchScript();
  if ('script' in where) return true;
  if (!warned) {
    warned = true;
    process.stdout.write(`  (Apache CouchDB 3.5 suites skipped: ${where.missing})\n`);
  }
  return false;
}
let warned = false;

const started = new Map<number, Promise<CouchNodes>>();
const dataDirs: string[] = [];

/** One node (`1`) or a 3-node cluster (`3`), started on first use and shared by the whole process. */
export function sharedCouch(nodes: 1 | 3): Promise<CouchNodes> {
  let p = started.get(nodes);
  if (!p) {
    p = startCouch(nodes);
    started.set(nodes, p);
  }
  return p;
}

async function startCouch(nodes: number): Promise<CouchNodes> {
  const where = couchScript();
  if (!('script' in where)) throw new Error(`CouchDB unavailable: ${where.missing}`);
  const data = mkdtempSync(path.join(os.tmpdir(), `booksync-couch${nodes}-`));
  dataDirs.push(data);
  if (dataDirs.length === 1) process.on('exit', stopAll);
  const ports = await freePorts(nodes);
  const res = spawnSync(
    where.script,
    [
      'start',
      '-d',
      data,
      '-n',
      String(nodes),
      '-p',
      ports.join(','),
      '-u',
      COUCH_ADMIN.username,
      '-w',
      COUCH_ADMIN.password,
      '-l',
      'warning',
    ],
    { encoding: 'utf8', timeout: 180_000 },
  );
  if (res.status !== 0)
    throw new Error(
      `CouchDB ${nodes}-node start failed (exit ${res.status}): ${res.stderr || res.stdout}`,
    );
  if (nodes === 3) for (const port of ports) markFullQuorum(port);
  return { origins: ports.map((p) => `http://127.0.0.1:${p}`), ports, dataDir: data };
}

/** A cluster of its own, for a test that breaks it (stopped with the process like the shared ones). */
export function privateCouch(nodes: 1 | 3): Promise<CouchNodes> {
  return startCouch(nodes);
}

/** SIGKILLs node `index` (0-based) of `nodes`: a node lost without a goodbye. */
export function killNode(nodes: CouchNodes, index: number): void {
  const pid = Number(
    readFileSync(path.join(nodes.dataDir, `node${index + 1}`, 'couchdb.pid'), 'utf8').trim(),
  );
  process.kill(pid, 'SIGKILL');
}

/**
 * Starts node `index` again after `killNode`, on its own data and configuration (the way
 * `couchdb-test.sh start` launched it), and resolves once it answers `/_up`. The script stops it
 * with the others when the process exits.
 */
export async function restartNode(nodes: CouchNodes, index: number): Promise<void> {
  const where = couchScript();
  if (!('script' in where)) throw new Error(`CouchDB unavailable: ${where.missing}`);
  const rel = path.join(path.dirname(where.script), 'couchdb');
  const dir = path.join(nodes.dataDir, `node${index + 1}`);
  const log = openSync(path.join(dir, 'couchdb.log'), 'a');
  // bin/couchdb execs erlexec, which execs beam.smp: the child's pid is the node's.
  const child = spawn(path.join(rel, 'bin', 'couchdb'), [], {
    env: {
      ...process.env,
      ERL_EPMD_ADDRESS: '127.0.0.1',
      ERL_CRASH_DUMP: path.join(dir, 'erl_crash.dump'),
      COUCHDB_ARGS_FILE: path.join(dir, 'etc', 'vm.args'),
      COUCHDB_INI_FILES: `${path.join(rel, 'etc', 'default.ini')} ${path.join(dir, 'etc', 'local.ini')}`,
    },
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  writeFileSync(path.join(dir, 'couchdb.pid'), String(child.pid));
  child.unref();
  // A process with no readiness signal of its own: ask `/_up` until it answers (bounded).
  const up = `${nodes.origins[index]}/_up`;
  for (let attempt = 0; ; attempt++) {
    const status = await fetch(up).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (child.exitCode !== null)
      throw new Error(
        `node ${index + 1} exited; the end of ${dir}/couchdb.log:\n${readFileSync(path.join(dir, 'couchdb.log'), 'utf8').slice(-3000)}`,
      );
    if (attempt >= 300) throw new Error(`node ${index + 1} not up after a minute; see ${dir}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function stopAll(): void {
  const where = couchScript();
  if (!('script' in where)) return;
  for (const data of dataDirs) {
    spawnSync(where.script, ['stop', '-d', data], { timeout: 60_000 });
    rmSync(data, { recursive: true, force: true });
  }
}

/** Ports the kernel just handed out for port 0; closed again before CouchDB binds them. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** Basic auth of the test admin, for plain `fetch` calls. */
export function couchAuthHeader(): string {
  return (
    'Basic ' + Buffer.from(`${COUCH_ADMIN.username}:${COUCH_ADMIN.password}`).toString('base64')
  );
}

/** Shared by the sync benchmark's modules: its sizes, documents, scratch directories and timing. */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as winston from 'winston';
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../src/daemon/runtime-settings';
import type { SyncTypeOptions } from '../src/sync';

/** The benchmark's entry point: every child process (server, proxy, measurement, RSS) runs it with a mode flag. */
export const BENCH_ENTRY = path.join(__dirname, 'bench-sync.js');

/**
 * The benchmark's entry point in a child process started as the daemon is (its Node flags and
 * environment, src/daemon/runtime-settings.ts), plus `execArgv` (e.g. a heap cap): what every
 * measurement and the RSS run use, so the speed and memory reported are the daemon's.
 */
export function forkAsDaemon(args: string[], execArgv: string[] = []): ChildProcess {
  return fork(BENCH_ENTRY, args, {
    stdio: 'inherit',
    execArgv: [...DAEMON_NODE_FLAGS, ...execArgv],
    env: { ...process.env, ...DAEMON_ENV },
  });
}

export const DOCS = Number(process.env.BENCH_DOCS ?? 20_000);
/** Documents each measurement's process first syncs, untimed, so that it is timed with its code warm (a daemon syncs all day). */
export const WARMUP_DOCS = 2_000;
export const RSS_DOCS = Number(process.env.BENCH_RSS_DOCS ?? 200_000);
export const DELAY = Number(process.env.BENCH_DELAY_MS ?? 50);
export const BATCHES = [100, 500, 1000];
export const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
export const COUCH_ONLY = process.env.BENCH_ONLY === 'couchdb';

export const TYPES: Record<string, SyncTypeOptions> = {
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

export function pad(n: number, w = 6): string {
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

// ---- helpers -----------------------------------------------------------------------------------

let tmpRoot = '';
let seq = 0;

/** Sets the directory `tmp` names its scratch paths in (the run's, or a measurement process's own). */
export function setTmpRoot(dir: string): void {
  tmpRoot = dir;
}

export function tmp(name: string): string {
  return path.join(tmpRoot, `${name}-${++seq}`);
}

export const silent = winston.createLogger({ silent: true });

export function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

/** A measurement that takes longer than this has stalled (one native push once sat on an idle connection for 5 minutes). */
export const STALL_MS = 10 * 60_000;

/**
 * Times `fn`, failing the run if it stalls: PouchDB's HTTP adapter sets no request timeout
 * (pouchdb/pouchdb#8030), so a request the server never answers would hang the benchmark for good.
 */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
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

export function log(line: string): void {
  process.stderr.write(line + '\n');
}

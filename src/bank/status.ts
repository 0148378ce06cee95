import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from '../shared/canonical-json';
import {
  bankConnectionId,
  type BankConnectionDoc,
  type BankConnectionStatus,
  type BooksStore,
  type StagedImport,
} from '../ledger';

/**
 * Connection status documents (`bankconn:<name>`), consent-expiry arithmetic and the local
 * "blocked until the credentials change" marker.
 *
 * The status document replicates to the cloud (it is in the books), so it never holds anything
 * derived from a secret: the credentials fingerprint lives in the connection's private state
 * folder (mode 0700/0600) instead.
 */

/** Days before consent expiry at which a warning is logged once each (Odoo's 15/3/1 reminders). */
export const CONSENT_WARNING_DAYS = [15, 3, 1] as const;

/** Extra fields booksync keeps on the status document (documents are open for extension). */
export interface BankConnectionState extends BankConnectionDoc {
  /** Consent thresholds (days) already warned about for the current `consent_expires_at`. */
  consent_warned?: number[];
  /** The window of the last run, for `booksync status`. */
  last_window?: { from: string; to: string };
  /** Journal the connection books into (from the config), for people reading the status. */
  journal?: string;
  /** The run's import while its lines are being written (src/ledger/staged-imports.ts). */
  staged_import?: StagedImport;
}

export async function readStatus(
  store: BooksStore,
  name: string,
): Promise<BankConnectionState | undefined> {
  return store.get<BankConnectionState>(bankConnectionId(name));
}

/** All connection status documents, in name order. */
export async function listStatuses(store: BooksStore): Promise<BankConnectionState[]> {
  return store.allOfType<BankConnectionState>('bank_connection');
}

export function initialStatus(
  name: string,
  provider: string,
  institution: string,
): BankConnectionState {
  return {
    _id: bankConnectionId(name),
    type: 'bank_connection',
    name,
    provider,
    institution,
    status: 'connected',
    counts: { fetched: 0, new: 0, duplicates: 0, pending: 0 },
  };
}

/** Whole days left until `expiresAt` (rounded up: 14.2 days left is 15), negative once past. */
export function consentDaysLeft(expiresAt: string, now: Date): number {
  return Math.ceil((Date.parse(expiresAt) - now.getTime()) / 86_400_000);
}

/**
 * The warning threshold to log now, if any: the smallest of 15/3/1 that `daysLeft` has reached and
 * that was not warned yet. Jumping from 20 days to 2 logs once (at 3) and marks 15 as done too.
 */
export function consentWarningDue(
  daysLeft: number,
  warned: readonly number[],
): { threshold: number; warned: number[] } | undefined {
  if (daysLeft <= 0) return undefined;
  const reached = CONSENT_WARNING_DAYS.filter((t) => daysLeft <= t);
  if (reached.length === 0) return undefined;
  const threshold = Math.min(...reached);
  if (warned.includes(threshold)) return undefined;
  return { threshold, warned: [...new Set([...warned, ...reached])].sort((a, b) => b - a) };
}

/** connected, or consent_expiring within 15 days of expiry. */
export function healthyStatus(
  consentExpiresAt: string | undefined,
  now: Date,
): BankConnectionStatus {
  if (consentExpiresAt && consentDaysLeft(consentExpiresAt, now) <= CONSENT_WARNING_DAYS[0])
    return 'consent_expiring';
  return 'connected';
}

// ---- blocked marker ----------------------------------------------------------------------------

/** Why a connection makes no provider calls until its credentials or settings change. */
export interface BlockMarker {
  /** `error`: a PermanentError other than auth or consent (a config mistake, a refused request). */
  status: 'auth_required' | 'consent_expired' | 'error';
  /** {@link credentialsFingerprint} of the credentials and settings that failed. */
  fingerprint: string;
  since: string;
  /** Set when the marker exists but cannot be read: blocked all the same (fail safe), whatever the fingerprint. */
  unreadable?: string;
}

/**
 * SHA-256 over the resolved secrets and the provider settings (canonical JSON). Kept only in the
 * connection's private folder, never in the books or a log: a bare hash of a weak password could
 * be brute-forced if it replicated to the cloud.
 */
export function credentialsFingerprint(
  secrets: Readonly<Record<string, string>>,
  settings: Readonly<Record<string, unknown>>,
): string {
  return createHash('sha256').update(canonicalJson({ secrets, settings })).digest('hex');
}

function markerPath(stateDir: string): string {
  return path.join(stateDir, 'blocked.json');
}

/**
 * The marker, or undefined when there is none. A marker that exists but cannot be read or is not
 * a marker counts as blocked (`unreadable` says why): an unknown block must not turn into retries.
 */
export function readBlock(stateDir: string): BlockMarker | undefined {
  const file = markerPath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return {
      status: 'error',
      fingerprint: '',
      since: '',
      unreadable: `${file}: ${(err as Error).message}`,
    };
  }
  try {
    const data = JSON.parse(text) as BlockMarker;
    if (
      ['auth_required', 'consent_expired', 'error'].includes(data?.status) &&
      typeof data.fingerprint === 'string'
    )
      return data;
  } catch {
    // not JSON: reported below
  }
  return {
    status: 'error',
    fingerprint: '',
    since: '',
    unreadable: `${file} is not a blocked marker`,
  };
}

/** Writes the marker atomically (a temporary file renamed over it): a crash leaves the old one or the new one. */
export function writeBlock(stateDir: string, marker: BlockMarker): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = markerPath(stateDir);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(marker), { mode: 0o600 });
  renameSync(temp, file);
}

export function clearBlock(stateDir: string): void {
  rmSync(markerPath(stateDir), { force: true });
}

// ---- presentation ------------------------------------------------------------------------------

/** One connection as `booksync status --json` prints it. */
export interface ConnectionStatusView {
  name: string;
  provider: string;
  institution: string;
  status: BankConnectionStatus;
  last_refresh_at: string | null;
  last_success_at: string | null;
  next_run_at: string | null;
  consent_expires_at: string | null;
  watermark: string | null;
  last_error: { code: string; message: string } | null;
  counts: { fetched: number; new: number; duplicates: number; pending: number };
}

export function statusView(doc: BankConnectionDoc): ConnectionStatusView {
  return {
    name: doc.name,
    provider: doc.provider,
    institution: doc.institution,
    status: doc.status,
    last_refresh_at: doc.last_refresh_at ?? null,
    last_success_at: doc.last_success_at ?? null,
    next_run_at: doc.next_run_at ?? null,
    consent_expires_at: doc.consent_expires_at ?? null,
    watermark: doc.watermark ?? null,
    last_error: doc.last_error ?? null,
    counts: { ...doc.counts },
  };
}

function ago(iso: string | null | undefined, now: Date): string {
  if (!iso) return '-';
  const s = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  const abs = Math.abs(s);
  const text =
    abs < 90
      ? `${abs}s`
      : abs < 3600
        ? `${Math.round(abs / 60)}m`
        : abs < 172_800
          ? `${Math.round(abs / 3600)}h`
          : `${Math.round(abs / 86_400)}d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

/**
 * The connections table `booksync status` prints:
 *
 *   CONNECTION     PROVIDER   STATUS     LAST REFRESH  LAST SUCCESS  NEXT RUN  NEW/DUP/PEND  ERROR
 *   main-checking  simplefin  connected  2h ago        2h ago        in 2h     3/41/0        -
 *
 * Takes the documents or their `statusView` (what `booksync status --json` and the control
 * channel carry).
 */
export function formatStatusTable(
  docs: ReadonlyArray<BankConnectionDoc | ConnectionStatusView>,
  now: Date = new Date(),
): string {
  const header = [
    'CONNECTION',
    'PROVIDER',
    'STATUS',
    'LAST REFRESH',
    'LAST SUCCESS',
    'NEXT RUN',
    'NEW/DUP/PEND',
    'ERROR',
  ];
  const rows = docs.map((d) => [
    d.name,
    d.provider,
    d.status,
    ago(d.last_refresh_at, now),
    ago(d.last_success_at, now),
    ago(d.next_run_at, now),
    `${d.counts.new}/${d.counts.duplicates}/${d.counts.pending}`,
    d.last_error
      ? `${d.last_error.code}: ${d.last_error.message}`
      : d.consent_expires_at && d.status === 'consent_expiring'
        ? `consent ends ${d.consent_expires_at.slice(0, 10)}`
        : '-',
  ]);
  if (rows.length === 0) return 'no bank connections';
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (i === header.length - 1 ? 0 : r[i].length))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

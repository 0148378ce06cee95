import { formatDuration } from '../shared/duration';
import { syncDownSince, type OpsSnapshot } from './snapshot';

/**
 * The alert conditions, evaluated on a snapshot. They are the conditions of the shipped
 * Prometheus rules (config/prometheus/booksync-alerts.yml) under the same names, for admins who
 * get them by webhook instead.
 */

export const ALERT_NAMES = [
  'BooksyncBankNoSuccess',
  'BooksyncBankConsentExpiring',
  'BooksyncBankAuthRequired',
  'BooksyncSyncOffline',
  'BooksyncBalanceMismatch',
  'BooksyncConflictsStale',
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

export interface ActiveAlert {
  /** The alert and what it is about (`BooksyncBankAuthRequired/main-checking`): one per condition instance. */
  key: string;
  name: AlertName;
  severity: 'warning' | 'critical';
  connection?: string;
  summary: string;
}

export interface AlertThresholds {
  syncOfflineAfterMs: number;
  consentWarningMs: number;
  conflictAgeMs: number;
}

function ms(iso: string | null): number | undefined {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

function alert(
  name: AlertName,
  severity: ActiveAlert['severity'],
  summary: string,
  connection?: string,
): ActiveAlert {
  return {
    key: connection ? `${name}/${connection}` : name,
    name,
    severity,
    summary,
    ...(connection ? { connection } : {}),
  };
}

function bankAlerts(s: OpsSnapshot, t: AlertThresholds): ActiveAlert[] {
  const now = s.at.getTime();
  const out: ActiveAlert[] = [];
  for (const b of s.bank) {
    if (!b.enabled) continue;
    const success = ms(b.last_success_at);
    if (success !== undefined && b.schedule_ms !== null && now - success > 2 * b.schedule_ms) {
      out.push(
        alert(
          'BooksyncBankNoSuccess',
          'warning',
          `bank connection ${b.name}: no successful run since ${b.last_success_at} (more than twice its ${formatDuration(b.schedule_ms)} schedule)`,
          b.name,
        ),
      );
    }
    const expiry = ms(b.consent_expires_at);
    if (expiry !== undefined && expiry - now < t.consentWarningMs) {
      const when = expiry <= now ? 'ended' : 'ends';
      out.push(
        alert(
          'BooksyncBankConsentExpiring',
          'warning',
          `bank connection ${b.name}: the bank consent ${when} at ${b.consent_expires_at}; renew it`,
          b.name,
        ),
      );
    }
    if (b.status === 'auth_required') {
      out.push(
        alert(
          'BooksyncBankAuthRequired',
          'critical',
          `bank connection ${b.name}: the bank rejected the credentials; no retry until they change`,
          b.name,
        ),
      );
    }
  }
  return out;
}

/** Every condition that holds in `s`, in a stable order. */
export function activeAlerts(s: OpsSnapshot, t: AlertThresholds): ActiveAlert[] {
  const now = s.at.getTime();
  const out = bankAlerts(s, t);
  const down = syncDownSince(s.sync);
  if (s.sync && down && now - down.getTime() >= t.syncOfflineAfterMs) {
    out.push(
      alert(
        'BooksyncSyncOffline',
        'critical',
        `sync has been ${s.sync.status.state} since ${down.toISOString()}${s.sync.status.last_error ? ` (${s.sync.status.last_error.code})` : ''}`,
      ),
    );
  }
  for (const b of s.ledger.balances) {
    if (b.difference !== 0) {
      out.push(
        alert(
          'BooksyncBalanceMismatch',
          'warning',
          `bank connection ${b.connection}: the bank's ${b.currency} balance and the books differ (checked ${b.checked_at}); see booksync report`,
          b.connection,
        ),
      );
    }
  }
  const oldest = ms(s.sync?.oldestConflictAt ?? null);
  if (oldest !== undefined && now - oldest > t.conflictAgeMs) {
    out.push(
      alert(
        'BooksyncConflictsStale',
        'warning',
        `${s.sync?.status.open_conflicts} sync conflict(s) wait for an admin, the oldest since ${s.sync?.oldestConflictAt}; see booksync conflicts`,
      ),
    );
  }
  return out;
}

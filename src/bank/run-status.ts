import type { CalendarDate } from '../shared/dates';
import { PermanentError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { BankConnectionStatus } from '../ledger';
import type { ConnectionSpec } from './connection-spec';
import type { PlanCounts } from './dedup';
import { BankAuthError, ConsentExpiredError, RateLimitedError } from './errors';
import type { RunLeftovers } from './import-plan';
import {
  consentDaysLeft,
  consentWarningDue,
  healthyStatus,
  writeBlock,
  type BankConnectionState,
} from './status';

/**
 * The status document after a successful run: connected (or consent_expiring), the counts, the
 * balance and consent end date the provider reported, and the watermark moved on to the window's
 * end (a `--since` run starts early but ends today like any other: the watermark only moves on).
 */
export function succeededStatus(
  doc: BankConnectionState,
  window: { from: CalendarDate; to: CalendarDate },
  counts: PlanCounts,
  result: RunLeftovers,
  finishedAt: Date,
  log: Logger,
): BankConnectionState {
  const next: BankConnectionState = {
    ...doc,
    status: 'connected',
    last_refresh_at: finishedAt.toISOString(),
    last_success_at: finishedAt.toISOString(),
    watermark: doc.watermark !== undefined && doc.watermark > window.to ? doc.watermark : window.to,
    counts: {
      fetched: counts.fetched,
      new: counts.new,
      duplicates: counts.duplicates,
      pending: counts.pending,
    },
  };
  delete next.last_error;
  if (result.balance) next.balance = result.balance;
  if (result.consentExpiresAt && result.consentExpiresAt !== doc.consent_expires_at) {
    next.consent_expires_at = new Date(result.consentExpiresAt).toISOString();
    next.consent_warned = [];
  } else if (
    !result.consentExpiresAt &&
    next.consent_expires_at &&
    Date.parse(next.consent_expires_at) <= finishedAt.getTime()
  ) {
    // Renewed and fetched fine, but the provider does not report an end date: the old one is stale.
    delete next.consent_expires_at;
    delete next.consent_warned;
  }
  return consentCheck(next, finishedAt, log);
}

/** Logs `bank.consent_expiring` once per threshold (15, 3, 1 days) and sets consent_expiring. */
function consentCheck(doc: BankConnectionState, now: Date, log: Logger): BankConnectionState {
  if (!doc.consent_expires_at) return doc;
  const daysLeft = consentDaysLeft(doc.consent_expires_at, now);
  const next = {
    ...doc,
    status: doc.status === 'connected' ? healthyStatus(doc.consent_expires_at, now) : doc.status,
  };
  const due = consentWarningDue(daysLeft, doc.consent_warned ?? []);
  if (due) {
    next.consent_warned = due.warned;
    log.warn(
      `bank connection ${doc.name}: consent expires in ${daysLeft} day(s) (${doc.consent_expires_at}); renew it to keep fetching`,
      {
        event: 'bank.consent_expiring',
        consent_expires_at: doc.consent_expires_at,
        days_left: daysLeft,
        threshold: due.threshold,
      },
    );
  }
  return next;
}

/**
 * What a failed run means for the connection: its status, when it runs next (a rate limit names
 * its own time) and, for failures retrying cannot fix, a block marker until the credentials or
 * settings change.
 */
export function failedStatus(
  err: unknown,
  spec: ConnectionSpec,
  fingerprint: string,
  finishedAt: Date,
  plannedNext: string | undefined,
): { status: BankConnectionStatus; nextRun: string | undefined } {
  const since = finishedAt.toISOString();
  if (err instanceof RateLimitedError)
    return { status: 'rate_limited', nextRun: err.retryAt.toISOString() };
  if (err instanceof BankAuthError) {
    writeBlock(spec.stateDir, { status: 'auth_required', fingerprint, since });
    return { status: 'auth_required', nextRun: plannedNext };
  }
  if (err instanceof ConsentExpiredError) {
    writeBlock(spec.stateDir, { status: 'consent_expired', fingerprint, since });
    return { status: 'consent_expired', nextRun: plannedNext };
  }
  // A config mistake, a refused request, a redirect: retrying the same thing cannot help.
  if (err instanceof PermanentError)
    writeBlock(spec.stateDir, { status: 'error', fingerprint, since });
  return { status: 'error', nextRun: plannedNext };
}

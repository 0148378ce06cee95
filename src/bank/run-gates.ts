import { describeError } from '../shared/errors';
import type { BankConnectionStatus } from '../ledger';
import type { ConnectionSpec } from './connection-spec';
import { zeroCounts } from './dedup';
import type { RunOutcome, RunReport, SkipReason } from './run-outcome';
import {
  clearBlock,
  credentialsFingerprint,
  readBlock,
  writeBlock,
  type BankConnectionState,
  type BlockMarker,
} from './status';

/** A run that makes no provider call: why, and what the status document then says. */
export interface Skip {
  reason: SkipReason;
  status: BankConnectionStatus;
  nextRunAt: string | undefined;
  error?: { code: string; message: string };
}

/** The gates let the run through. */
export interface Pass {
  /** The credentials and settings, hashed: a block records them, a change lifts it. */
  fingerprint: string;
  /** The credentials or settings changed since a block: an expired consent may be renewed. */
  renewed: boolean;
}

export interface GateInput {
  spec: ConnectionSpec;
  doc: BankConnectionState;
  now: Date;
  /** Retry a blocked connection once (see RunOptions.force). */
  force: boolean;
  /** The next scheduled run after `now`. */
  planNext: (at: Date) => string | undefined;
  report: RunReport;
}

/**
 * The gates before a provider call, in order: disabled; blocked (auth rejected, consent expired,
 * a permanent failure: the block marker in the state dir, lifted by changed credentials or
 * `force`); rate limited until `next_run_at`; consent past its end date.
 */
export function passGates(input: GateInput): Skip | Pass {
  const { spec, doc, now } = input;
  if (spec.enabled === false)
    return { reason: 'disabled', status: 'disconnected', nextRunAt: undefined };
  const fingerprint = credentialsFingerprint(spec.secrets, spec.settings);
  const blocked = blockGate(input, fingerprint);
  if ('reason' in blocked) return blocked;
  const { renewed } = blocked;
  if (
    doc.status === 'rate_limited' &&
    doc.next_run_at &&
    Date.parse(doc.next_run_at) > now.getTime()
  ) {
    return { reason: 'rate_limited', status: 'rate_limited', nextRunAt: doc.next_run_at };
  }
  if (!renewed && doc.consent_expires_at && Date.parse(doc.consent_expires_at) <= now.getTime()) {
    const error = {
      code: 'BANK_CONSENT_EXPIRED',
      message: `${spec.name}: the bank consent expired at ${doc.consent_expires_at}; renew it to resume fetching`,
    };
    writeBlock(spec.stateDir, {
      status: 'consent_expired',
      fingerprint,
      since: now.toISOString(),
    });
    return {
      reason: 'consent_expired',
      status: 'consent_expired',
      nextRunAt: input.planNext(now),
      error,
    };
  }
  return { fingerprint, renewed };
}

/** The block marker's gate: a skip, or whether the block was lifted by new credentials. */
function blockGate(input: GateInput, fingerprint: string): Skip | { renewed: boolean } {
  const { spec, doc, now } = input;
  const block = readBlock(spec.stateDir);
  if (!block) return { renewed: false };
  // `force` (someone ran `booksync fetch NAME`) retries auth and permanent failures once with
  // the same credentials — the bank may have been fixed meanwhile; an expired consent stays expired.
  const forced = input.force && block.status !== 'consent_expired';
  if ((block.unreadable !== undefined || block.fingerprint === fingerprint) && !forced) {
    const why = blockedBecause(spec.name, block);
    const code =
      block.status === 'auth_required'
        ? 'BANK_AUTH'
        : block.status === 'consent_expired'
          ? 'BANK_CONSENT_EXPIRED'
          : 'BANK_PERMANENT';
    const status = block.status === 'error' ? 'error' : block.status;
    return {
      reason: block.status === 'error' ? 'permanent_error' : block.status,
      status,
      nextRunAt: input.planNext(now),
      error:
        block.unreadable !== undefined
          ? { code, message: why }
          : (doc.last_error ?? { code, message: why }),
    };
  }
  clearBlock(spec.stateDir);
  const renewed = block.fingerprint !== fingerprint;
  input.report.log.info(
    `${spec.name}: ${forced && !renewed ? 'fetch asked for by hand' : 'credentials or settings changed'} since the ${block.status} failure; retrying`,
    { event: 'bank.retry', reason: block.status },
  );
  return { renewed };
}

function blockedBecause(name: string, block: BlockMarker): string {
  if (block.unreadable !== undefined)
    return `${name}: its blocked marker cannot be read (${block.unreadable}); treated as blocked until it is fixed or removed (or \`booksync fetch ${name}\`)`;
  if (block.status === 'auth_required')
    return `${name}: the bank rejected the credentials; no retry until they change in the config (or \`booksync fetch ${name}\`)`;
  if (block.status === 'consent_expired')
    return `${name}: the bank consent has expired; renew it (new consent or credentials) to resume`;
  return `${name}: the last fetch failed in a way retrying cannot fix; no retry until the connection's settings or credentials change (or \`booksync fetch ${name}\`)`;
}

/**
 * Records a skipped run: the status document is written only when it changes (or was never
 * written), so a connection waiting out a block does not churn revisions.
 */
export async function recordSkip(
  skip: Skip,
  doc: BankConnectionState,
  report: RunReport,
  save: (next: BankConnectionState) => Promise<BankConnectionState>,
): Promise<RunOutcome> {
  const next: BankConnectionState = { ...doc, status: skip.status };
  if (skip.nextRunAt) next.next_run_at = skip.nextRunAt;
  if (skip.error) next.last_error = report.safeError(skip.error);
  try {
    if (
      next.status !== doc.status ||
      next.next_run_at !== doc.next_run_at ||
      next.last_error?.message !== doc.last_error?.message ||
      doc._rev === undefined
    )
      await save(next);
  } catch (err) {
    report.log.error(
      `cannot save the status of ${report.spec.name}: ${describeError(err).message}`,
      {
        event: 'bank.error',
        error: describeError(err),
      },
    );
  }
  report.announce(skip.status, skip.error);
  return report.finish({
    status: skip.status,
    skipped: skip.reason,
    counts: zeroCounts(),
    next_run_at: next.next_run_at,
    error: next.last_error,
    warnings: [],
    new_ids: [],
  });
}

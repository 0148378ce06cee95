import type { CalendarDate } from '../shared/dates';
import { Deadline } from '../shared/deadline';
import type { Logger } from '../shared/logger';
import { DEFAULT_REQUEST_TIMEOUT_MS, type ConnectionSpec } from './connection-spec';
import { BankUnavailableError } from './errors';
import type { BankProvider, FetchContext, FetchResult } from './provider';

/** Why a run was stopped from outside: the daemon is shutting down. */
export function stoppedError(name: string): BankUnavailableError {
  return new BankUnavailableError(
    'BANK_ABORTED',
    `${name}: the fetch was stopped (booksync is shutting down); it runs again on the next schedule`,
  );
}

/**
 * The bound of a whole run of `spec`: the provider's fetch and the reading and storing of its
 * streams (a drop-folder file), which stop at their next chunk once it passes. Its signal aborts
 * with BANK_TIMEOUT when the run timeout passes, or with `stop`'s reason (BANK_ABORTED).
 */
export function runDeadline(spec: ConnectionSpec, stop: AbortSignal): Deadline {
  const runTimeoutMs =
    spec.runTimeoutMs ?? (spec.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS) * 10;
  return new Deadline(
    runTimeoutMs,
    stop,
    () =>
      new BankUnavailableError(
        'BANK_TIMEOUT',
        `${spec.name}: the ${spec.provider} run did not finish within ${Math.round(runTimeoutMs / 100) / 10}s (bank slow or not answering, or an input too large for the run timeout); nothing of it was kept; will retry on schedule`,
      ),
  );
}

export interface ProviderCall {
  provider: BankProvider;
  spec: ConnectionSpec;
  window: { from: CalendarDate; to: CalendarDate };
  log: Logger;
  now: () => Date;
  /** The run's bound (see {@link runDeadline}). */
  deadline: Deadline;
}

/**
 * provider.fetch, abandoned as soon as the run's deadline passes or the run is stopped (a
 * provider that ignores its signal cannot hold the run), and its result checked for shape.
 */
export async function callProvider(call: ProviderCall): Promise<FetchResult> {
  const { provider, spec, window, deadline } = call;
  const ctx: FetchContext = {
    connection: spec.name,
    settings: spec.settings,
    secrets: spec.secrets,
    window,
    includePending: spec.includePending ?? false,
    stateDir: spec.stateDir,
    logger: call.log,
    signal: deadline.signal,
    requestTimeoutMs: spec.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    now: call.now,
  };
  const fetched = await deadline.race(Promise.resolve().then(() => provider.fetch(ctx)));
  if (!fetched || !Array.isArray(fetched.statements))
    throw new BankUnavailableError(
      'BANK_BAD_RESULT',
      `${spec.name}: provider ${provider.id} returned no statements list`,
    );
  if (fetched.streams !== undefined && !Array.isArray(fetched.streams))
    throw new BankUnavailableError(
      'BANK_BAD_RESULT',
      `${spec.name}: provider ${provider.id} returned streams that are not a list`,
    );
  return fetched;
}

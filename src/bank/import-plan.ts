import { isCalendarDate, type CalendarDate } from '../shared/dates';
import type { Logger } from '../shared/logger';
import type { StatementLineDoc } from '../ledger';
import type { ConnectionSpec } from './connection-spec';
import { accountKey, planStatementLines, type LinePlan } from './dedup';
import { MalformedStatementError } from './errors';
import type { StatementLineStore } from './line-store';
import type { BankAccountStatement, FetchResult, StreamedStatement } from './provider';
import type { BankConnectionState } from './status';
import {
  checkStream,
  collectStream,
  needsArrays,
  StreamPlanner,
  type StreamCheck,
} from './stream-plan';

/**
 * A fetch on its way to the planner. The fetched statements travel in this holder, which
 * {@link planFetch} empties: nothing in the run's async frame (whose temporaries survive each
 * await) keeps them, so the parsed lines can be collected while a large import is written.
 */
export interface PlanHolder {
  fetched?: FetchResult;
  existing?: StatementLineDoc[];
}

/** The checked streams of a run, and how they are stored. */
export interface StreamRun {
  /** Statements of the streams (all but their lines), for the balance. */
  statements: StreamedStatement[];
  warnings: string[];
  checks: StreamCheck[];
  /** Absent when the streams were read into `statements` arrays instead (see `needsArrays`). */
  planner?: StreamPlanner;
}

/** What the end of a run needs of the provider's result. */
export interface RunLeftovers {
  commit?: () => Promise<void>;
  consentExpiresAt?: string;
  warnings: string[];
  balance: BankConnectionState['balance'];
}

/** What planning a run's lines needs. */
export interface ImportContext {
  spec: ConnectionSpec;
  lines: StatementLineStore;
  log: Logger;
  /** The run's signal (its deadline or a stop). */
  signal: AbortSignal;
  now: () => Date;
  /** The staged import the run's new lines belong to (staging.ts). */
  importId: string;
}

/** The balance for the status document: the latest-dated ledger balance (else available) reported. */
export function balanceOf(
  statements: ReadonlyArray<Pick<BankAccountStatement, 'balances'>>,
): BankConnectionState['balance'] {
  let best: { amount: number; currency: string; date: CalendarDate; kind: string } | undefined;
  for (const s of statements) {
    for (const b of s.balances ?? []) {
      if (!Number.isSafeInteger(b.amount) || !isCalendarDate(b.date)) continue;
      const better =
        !best ||
        (b.kind === 'ledger' && best.kind !== 'ledger') ||
        (b.kind === best.kind && b.date >= best.date);
      if (better) best = b;
    }
  }
  return best ? { amount: best.amount, currency: best.currency, date: best.date } : undefined;
}

/**
 * The checking pass over the fetch's streams (provider.ts, StatementStream). A stream found
 * malformed is left out when its provider can reject it, else the run fails. When the streams
 * can be planned line by line (stream-plan.ts, needsArrays), their accounts' stored lines leave
 * `holder.existing` for the planner of the ordinary statements; otherwise they are read into
 * ordinary statements (memory as before streaming, for those rare feeds).
 */
export async function checkStreams(
  ctx: ImportContext,
  holder: PlanHolder,
): Promise<StreamRun | undefined> {
  const { spec, signal } = ctx;
  const fetched = holder.fetched!;
  const streams = fetched.streams ?? [];
  if (streams.length === 0) return undefined;
  const existing = holder.existing ?? [];
  const storedIds = new Set<string>();
  for (const line of existing) if (line.provider_id) storedIds.add(line.provider_id);
  const run: StreamRun = { statements: [], warnings: [], checks: [] };
  for (const stream of streams) {
    const input = {
      stream,
      connection: spec.name,
      includePending: spec.includePending ?? false,
      checkAborted: () => signal.throwIfAborted(),
    };
    try {
      run.checks.push(await checkStream(input, storedIds));
    } catch (err) {
      if (!(err instanceof MalformedStatementError) || !stream.reject || signal.aborted) throw err;
      await stream.reject(err);
      run.warnings.push(`rejected ${stream.name}: ${err.message}`);
    }
  }
  for (const check of run.checks) {
    run.warnings.push(...check.warnings);
    run.statements.push(...check.statements);
  }
  const arrayAccounts = new Set(fetched.statements.map((s) => accountKey(String(s.accountId))));
  const why = needsArrays(run.checks, arrayAccounts, existing);
  if (why !== undefined) {
    ctx.log.info(`${spec.name}: streamed input read into memory (${why})`, {
      event: 'bank.file',
      streamed: false,
      reason: why,
    });
    for (const check of run.checks.splice(0)) {
      for (const statement of await collectStream(check)) fetched.statements.push(statement);
    }
    run.statements = [];
    return run;
  }
  const streamAccounts = new Set(run.statements.map((s) => accountKey(s.accountId)));
  holder.existing = existing.filter((l) => !streamAccounts.has(accountKey(l.account_id)));
  run.planner = streamPlanner(ctx, existing);
  return run;
}

/** The planner of the streams' lines, storing them staged batch by batch. */
function streamPlanner(ctx: ImportContext, existing: StatementLineDoc[]): StreamPlanner {
  const { spec, lines, log } = ctx;
  const now = ctx.now();
  let staged = 0;
  return new StreamPlanner({
    connection: spec.name,
    includePending: spec.includePending ?? false,
    importedAt: now.toISOString(),
    importId: ctx.importId,
    existing,
    batchSize: lines.writeBatchSize,
    write: async (docs) => {
      await lines.writeFresh(docs, now);
      staged += docs.length;
      log.debug(`${spec.name}: ${staged} line(s) stored, staged until the import commits`, {
        event: 'bank.import_progress',
        staged,
      });
    },
  });
}

/**
 * Plans the writes of a fetch (dedup against the stored lines), keeping of the fetch only what
 * the end of the run needs. Empties `holder`, so the statements die with this call.
 */
export function planFetch(
  ctx: ImportContext,
  window: { from: CalendarDate; to: CalendarDate },
  holder: PlanHolder,
  streamed: readonly StreamedStatement[],
): { result: RunLeftovers; plan: LinePlan } {
  const fetched = holder.fetched!;
  const existing = holder.existing ?? [];
  holder.fetched = undefined;
  holder.existing = undefined;
  const result: RunLeftovers = {
    commit: fetched.commit,
    consentExpiresAt: fetched.consentExpiresAt,
    warnings: fetched.warnings ?? [],
    balance: balanceOf([...fetched.statements, ...streamed]),
  };
  const plan = planStatementLines({
    connection: ctx.spec.name,
    statements: fetched.statements,
    includePending: ctx.spec.includePending ?? false,
    window,
    existing,
    importedAt: ctx.now().toISOString(),
    importId: ctx.importId,
  });
  return { result, plan };
}

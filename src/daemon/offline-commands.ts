import path from 'node:path';
import {
  builtinRegistry,
  checkSince,
  FetchLoop,
  findDuplicates,
  type DuplicatePair,
  type RunOutcome,
} from '../bank';
import { parseStatement } from '../bank/formats';
import { previewStatements } from '../bank/preview';
import type { Config } from '../config';
import type { BooksStore } from '../ledger';
import {
  acceptSuggestion,
  ledgerReport,
  pendingSuggestions,
  reconcileLine,
  undoReconciliation,
} from '../ledger/automation';
import { RatesRunner } from '../rates';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { openSync, type ConflictChoice } from '../sync';
import { connectionSpecsFrom } from './bank-service';
import { EmbeddedCloud } from './embedded-cloud';
import { automationConfigFrom, manualWriteOffFrom } from './ledger-service';
import { viaDaemonOr } from './offline';
import { ratesSettingsFrom } from './rates-service';
import { syncSetupFrom } from './sync-service';

/**
 * The CLI's commands that act on the books: each asks the running daemon over its control socket,
 * or, when no daemon runs, does the same work on the books opened directly (so an admin can act
 * while the service is stopped).
 */

/** Opens the sync engine without starting it (bookkeeping + books; the embedded cloud when configured). */
async function withSyncEngine<T>(
  store: BooksStore,
  config: Config,
  logger: Logger,
  fn: (engine: Awaited<ReturnType<typeof openSync>>['engine']) => Promise<T>,
): Promise<T> {
  const cloud = config.cloud.embedded
    ? new EmbeddedCloud(config.state_dir, 'books', 0, logger)
    : undefined;
  await cloud?.start();
  try {
    const runtime = await openSync(
      syncSetupFrom(config, cloud ? cloud.syncUrl : config.cloud.url, store, logger),
    );
    try {
      return await fn(runtime.engine);
    } finally {
      await runtime.close();
    }
  } finally {
    await cloud?.stop();
  }
}

export function listConflicts(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  resolved: boolean,
) {
  // The CLI prints either list as rows of fields.
  type Rows = Promise<Array<Record<string, unknown>>>;
  if (resolved)
    return viaDaemonOr(configPath, env, logger, 'conflicts.resolved', {}, (store, config) =>
      withSyncEngine(store, config, logger, (engine) => engine.listResolved()),
    ) as unknown as Rows;
  return viaDaemonOr(configPath, env, logger, 'conflicts.list', {}, (store, config) =>
    withSyncEngine(store, config, logger, (engine) => engine.listConflicts()),
  ) as unknown as Rows;
}

export function resolveConflict(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  id: string,
  choice: ConflictChoice,
) {
  return viaDaemonOr(
    configPath,
    env,
    logger,
    'conflicts.resolve',
    { id, choice },
    (store, config) =>
      withSyncEngine(store, config, logger, (engine) => engine.resolveConflict(id, choice)),
    { directNeedsSecrets: true },
  );
}

/** Removes newly push-excluded fields from the cloud copies that still hold them (`booksync sync strip-excluded`). */
export function stripExcluded(configPath: string, env: NodeJS.ProcessEnv, logger: Logger) {
  return viaDaemonOr(configPath, env, logger, 'sync.strip_excluded', {}, (store, config) =>
    withSyncEngine(store, config, logger, (engine) => engine.stripExcluded()),
  );
}

export function fetchNow(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  names: string[],
  since?: string,
): Promise<RunOutcome[]> {
  if (since !== undefined) checkSince(names, since);
  return viaDaemonOr(
    configPath,
    env,
    logger,
    'bank.fetch',
    { names, ...(since !== undefined ? { since } : {}) },
    async (store, config) => {
      const specs = connectionSpecsFrom(config);
      const unknown = names.filter((n) => !specs.some((s) => s.name === n));
      if (unknown.length) {
        throw new (await import('../bank')).UnknownConnectionError(
          'BANK_UNKNOWN_CONNECTION',
          `unknown connection(s) ${unknown.join(', ')} (configured: ${specs.map((s) => s.name).join(', ') || 'none'})`,
        );
      }
      const loop = new FetchLoop({ store, registry: builtinRegistry(), logger });
      const automation = automationConfigFrom(config, logger);
      const { automateConnection, ensureCompany, loadCompanyFile } =
        await import('../ledger/automation');
      // What the daemon does at start, so the lines can be posted in a store it never opened: the
      // rates sources first, so that invoices and lines in a foreign currency find their rates.
      const rates = new RatesRunner(store, ratesSettingsFrom(config), logger);
      if (rates.enabled) await rates.runNow();
      if (config.ledger.chart)
        await ensureCompany(store, loadCompanyFile(config.ledger.chart), { logger });
      const outcomes: RunOutcome[] = [];
      for (const spec of specs.filter((s) =>
        names.length ? names.includes(s.name) : s.enabled !== false,
      )) {
        // A connection named on the command line is tried even when blocked (auth, consent), as through the daemon.
        const outcome = await loop.run(spec, {
          force: names.includes(spec.name),
          ...(since !== undefined ? { since } : {}),
        });
        outcomes.push(outcome);
        try {
          await automateConnection(store, spec.name, automation);
        } catch (err) {
          // The lines are stored; posting them is retried on the next run, as in the daemon.
          outcome.warnings.push(`posting and reconciliation failed: ${describeError(err).message}`);
        }
      }
      return outcomes;
    },
    { directNeedsSecrets: true },
  );
}

/** `booksync bank duplicates`: likely duplicate statement lines; changes nothing. */
export function bankDuplicates(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  days?: number,
): Promise<DuplicatePair[]> {
  return viaDaemonOr(
    configPath,
    env,
    logger,
    'bank.duplicates',
    days !== undefined ? { days } : {},
    (store) => findDuplicates(store, days),
  );
}

export function ledgerPending(configPath: string, env: NodeJS.ProcessEnv, logger: Logger) {
  return viaDaemonOr(configPath, env, logger, 'ledger.pending', {}, (store, config) =>
    pendingSuggestions(store, automationConfigFrom(config, logger)),
  );
}

export function ledgerReconcile(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  line: string,
  invoice: string,
  writeOff: { write_off?: string; write_off_limit?: string } = {},
) {
  return viaDaemonOr(
    configPath,
    env,
    logger,
    'ledger.reconcile',
    { line, invoice, ...writeOff },
    (store, config) =>
      reconcileLine(store, line, invoice, {
        ...automationConfigFrom(config, logger),
        ...manualWriteOffFrom(writeOff),
      }),
  );
}

export function ledgerAccept(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  line: string,
  n: number,
  expect: string | undefined,
) {
  return viaDaemonOr(
    configPath,
    env,
    logger,
    'ledger.accept',
    { line, n, ...(expect !== undefined ? { expect } : {}) },
    (store, config) =>
      acceptSuggestion(store, line, n, {
        ...automationConfigFrom(config, logger),
        ...(expect !== undefined ? { expect } : {}),
      }),
  );
}

export function ledgerUndo(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  line: string,
) {
  return viaDaemonOr(configPath, env, logger, 'ledger.undo', { line }, (store, config) =>
    undoReconciliation(store, line, automationConfigFrom(config, logger)),
  );
}

export function ledgerReportOf(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  date: string | undefined,
  includeDraft: boolean,
) {
  return viaDaemonOr(
    configPath,
    env,
    logger,
    'ledger.report',
    { date, include_draft: includeDraft },
    (store, config) =>
      ledgerReport(store, {
        date,
        include_draft: includeDraft,
        company_currency: config.ledger.company.currency,
      }),
  );
}

/** `booksync parse FILE`: what importing a statement file would store; writes nothing. */
export function previewFile(
  bytes: Buffer,
  file: string,
  options: { csvMapping?: Record<string, unknown>; format?: string; currency?: string },
) {
  return previewStatements(
    parseStatement(bytes, {
      fileName: path.basename(file),
      csv: options.csvMapping as never,
      format: options.format as never,
      defaultCurrency: options.currency,
    }),
  );
}

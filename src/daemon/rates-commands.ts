import type { RateDoc } from '../ledger';
import { automateForeignConnections, ensureCompany, loadCompanyFile } from '../ledger/automation';
import { listRates, RatesRunner, type RatesRun } from '../rates';
import type { Logger } from '../shared/logger';
import { CONTROL_TIMEOUT_MS } from './control';
import { automationConfigFrom } from './ledger-service';
import { viaDaemonOr } from './offline';
import { ratesSettingsFrom } from './rates-service';

/**
 * `booksync rates fetch` and `booksync rates list` (docs/CURRENCIES.md, "Rates sources"): through
 * the running daemon's control socket, or, when none runs, on the books opened directly.
 */

/**
 * Runs the configured rates sources once, as the schedule does. Without a daemon, the automation
 * of the foreign-currency connections runs after new rates are stored, as the daemon's rate watch
 * would: the lines that waited for them are posted.
 */
export function ratesFetch(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<RatesRun> {
  return viaDaemonOr(configPath, env, logger, 'rates.fetch', {}, async (store, config) => {
    const run = await new RatesRunner(store, ratesSettingsFrom(config), logger).runNow();
    if (run.stored.length > 0) {
      if (config.ledger.chart)
        await ensureCompany(store, loadCompanyFile(config.ledger.chart), { logger });
      await automateForeignConnections(store, automationConfigFrom(config, logger));
    }
    return run;
  });
}

/** The rate documents of the books, of `pair` (`EUR:USD`) when given. */
export function ratesList(
  configPath: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  pair?: string,
): Promise<RateDoc[]> {
  return viaDaemonOr(
    configPath,
    env,
    logger,
    'rates.list',
    pair !== undefined ? { pair } : {},
    (store) => listRates(store, pair),
    { timeoutMs: CONTROL_TIMEOUT_MS },
  );
}

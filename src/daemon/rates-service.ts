import type { Config } from '../config';
import type { BooksStore } from '../ledger';
import { listRates, RatesRunner, type RatesSettings } from '../rates';
import type { Logger } from '../shared/logger';
import type { ControlServer } from './control';
import type { Service } from './service';

/** The runner's settings from the `rates:` config (also used by the offline `booksync fetch`). */
export function ratesSettingsFrom(config: Config): RatesSettings {
  const r = config.rates;
  return {
    provider: r.provider,
    url: r.url,
    schedule: 'every' in r.schedule ? { every: r.schedule.every } : { cron: r.schedule.cron },
    folder: r.folder,
    keepFiles: r.keep_files,
    requestTimeoutMs: config.bank.request_timeout_ms,
  };
}

/**
 * Exchange rates as a daemon service (docs/CURRENCIES.md): the `rates:` sources at start and on
 * their schedule, `rates.fetch` and `rates.list` over the control socket, the last run in `booksync status`.
 */
export class RatesService implements Service {
  readonly name = 'rates';
  private readonly runner: RatesRunner;

  constructor(config: Config, store: BooksStore, logger: Logger, control: ControlServer) {
    this.runner = new RatesRunner(
      store,
      ratesSettingsFrom(config),
      logger.child({ component: 'rates' }),
    );
    control.handle('rates.fetch', async () => this.runner.runNow());
    control.handle('rates.list', async ({ pair }) => listRates(store, pair));
  }

  start(): Promise<void> {
    this.runner.start();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  reload(config: Config): Promise<void> {
    this.runner.reload(ratesSettingsFrom(config));
    return Promise.resolve();
  }

  status(): Promise<Record<string, unknown>> {
    const last = this.runner.lastRun;
    return Promise.resolve({
      enabled: this.runner.enabled,
      next_run_at: this.runner.nextRunAt?.toISOString() ?? null,
      last_run: last ? { at: last.at, provider: last.provider ?? null, errors: last.errors } : null,
    });
  }
}

import type { ScheduleSpec } from '../bank/fetch-loop';
import { plannedAfter } from '../bank/scheduler';
import type { BooksStore } from '../ledger/store';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { summarizeRateIds, type RatePairSummary } from './listing';
import { fetchEcbRates, importRatesFolder, type FolderFileResult } from './sources';

/**
 * Runs the configured rates sources at start and on their schedule (docs/CURRENCIES.md, "Rates
 * sources"): the ECB provider, then the drop folder. Each run logs one `rates.run` line; a failed
 * source is logged (`rates.error`) and tried again at the next planned run. The rate documents
 * it writes are what posts waiting lines (src/ledger/automation/rate-watch.ts).
 */

export interface RatesSettings {
  provider: 'ecb' | 'none';
  url: string;
  schedule: ScheduleSpec;
  folder: string | null;
  /** Leave the folder's files where they are (a demo, a read-only share). @default false */
  keepFiles?: boolean;
  requestTimeoutMs: number;
}

export interface RatesRun {
  at: string;
  provider?: { created: number; unchanged: number; skipped: number };
  folder?: FolderFileResult[];
  /** The rate documents this run created, by pair. */
  stored: RatePairSummary[];
  errors: Array<{ source: string; code: string; message: string }>;
}

export class RatesRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RatesRun> | undefined;
  private stopped = true;
  lastRun: RatesRun | undefined;
  nextRunAt: Date | undefined;

  constructor(
    private readonly store: BooksStore,
    private settings: RatesSettings,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get enabled(): boolean {
    return this.settings.provider !== 'none' || this.settings.folder !== null;
  }

  /** Runs once now, then on the schedule. */
  start(): void {
    this.stopped = false;
    if (this.enabled) this.arm(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** New settings take effect with a run now. */
  reload(settings: RatesSettings): void {
    this.settings = settings;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.stopped && this.enabled) this.arm(0);
  }

  /** One run of every configured source; never throws (failures are in `errors`). */
  runNow(): Promise<RatesRun> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private arm(delayMs: number): void {
    this.nextRunAt = new Date(this.now().getTime() + delayMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runNow().then(() => {
        if (this.stopped) return;
        const next = plannedAfter(this.settings.schedule, this.now());
        this.arm(Math.max(0, next.at.getTime() - this.now().getTime()));
      });
    }, delayMs);
  }

  private async run(): Promise<RatesRun> {
    const run: RatesRun = { at: this.now().toISOString(), stored: [], errors: [] };
    const created: string[] = [];
    const { provider, url, folder, keepFiles, requestTimeoutMs } = this.settings;
    if (provider === 'ecb') {
      try {
        const r = await fetchEcbRates(this.store, url, requestTimeoutMs);
        run.provider = { created: r.created.length, unchanged: r.unchanged, skipped: r.skipped };
        created.push(...r.created);
      } catch (err) {
        run.errors.push({ source: 'ecb', ...describeError(err) });
      }
    }
    if (folder !== null) {
      try {
        run.folder = await importRatesFolder(this.store, folder, { keepFiles });
        for (const f of run.folder) if (f.error) run.errors.push({ source: f.file, ...f.error });
        for (const f of run.folder) created.push(...(f.stored?.created ?? []));
      } catch (err) {
        run.errors.push({ source: folder, ...describeError(err) });
      }
    }
    for (const e of run.errors)
      this.logger.error(`rates from ${e.source}: ${e.message}`, { event: 'rates.error', ...e });
    run.stored = summarizeRateIds(created);
    this.logger.info(`rates: ${created.length} new rate(s), ${run.errors.length} error(s)`, {
      event: 'rates.run',
      created: created.length,
      errors: run.errors.length,
    });
    this.lastRun = run;
    return run;
  }
}

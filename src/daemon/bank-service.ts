import path from 'node:path';
import type { BankConnectionConfig, Config } from '../config';
import {
  BankScheduler,
  builtinRegistry,
  FetchLoop,
  findDuplicates,
  institutionLabel,
  type ConnectionSpec,
  type RunOutcome,
} from '../bank';
import type { BooksStore } from '../ledger';
import type { Logger } from '../shared/logger';
import { BankRunMemory } from './bank-run-memory';
import type { ControlServer } from './control';
import type { Service } from './service';
import { BankProgress } from './systemd/progress';

/** One connection of the config as the fetch loop sees it (secrets resolved, paths absolute). */
export function connectionSpecFrom(config: Config, c: BankConnectionConfig): ConnectionSpec {
  const settings: Record<string, unknown> = { ...c.settings };
  if (c.provider === 'dropfolder') {
    // Without explicit folders, processed and rejected files go next to the connection's state.
    const own = path.join(config.state_dir, 'bank', c.name);
    settings.archive = c.settings.archive ?? path.join(own, 'archive');
    settings.rejected = c.settings.rejected ?? path.join(own, 'rejected');
  }
  return {
    name: c.name,
    provider: c.provider,
    institution: institutionLabel(c.institution),
    settings,
    secrets: { ...(c.credentials as Record<string, string>) },
    journal: c.journal,
    schedule: 'every' in c.schedule ? { every: c.schedule.every } : { cron: c.schedule.cron },
    historyDays: c.history_days,
    overlapDays: c.overlap_days,
    includePending: c.include_pending,
    enabled: c.enabled,
    requestTimeoutMs: config.bank.request_timeout_ms,
    stateDir: path.join(config.state_dir, 'bank', c.name),
    timezone: c.provider === 'simplefin' ? c.settings.timezone : undefined,
  };
}

export function connectionSpecsFrom(config: Config): ConnectionSpec[] {
  return config.bank.connections.map((c) => connectionSpecFrom(config, c));
}

/** Called after every run that wrote something (the ledger automation posts and reconciles). */
export type AfterRun = (outcome: RunOutcome) => Promise<void>;

/**
 * The bank-fetch loop as a daemon service: one scheduled job per connection, `booksync fetch`
 * over the control socket, connection status for `booksync status`.
 */
export class BankService implements Service {
  readonly name = 'bank';
  private readonly scheduler: BankScheduler;
  private readonly progress = new BankProgress();
  private readonly runs = new BankRunMemory();

  constructor(
    config: Config,
    store: BooksStore,
    logger: Logger,
    control: ControlServer,
    afterRun?: AfterRun,
    onRun?: (outcome: RunOutcome) => void,
  ) {
    const loop = new FetchLoop({ store, registry: builtinRegistry(), logger });
    this.runs.observe(loop);
    this.scheduler = new BankScheduler(connectionSpecsFrom(config), {
      loop,
      store,
      logger,
      afterRun,
      onRun,
    });
    control.handle('bank.fetch', async (params) => {
      const names = Array.isArray(params.names) ? params.names.map(String) : [];
      return this.scheduler.runNow(
        names,
        typeof params.since === 'string' ? { since: params.since } : {},
      );
    });
    control.handle('bank.duplicates', async (params) =>
      findDuplicates(store, typeof params.days === 'number' ? params.days : undefined),
    );
  }

  start(): Promise<void> {
    return this.scheduler.start();
  }

  stop(deadline: number): Promise<void> {
    return this.scheduler.stop(deadline);
  }

  reload(config: Config): Promise<void> {
    return this.scheduler.reschedule(connectionSpecsFrom(config));
  }

  /** Rejects when a run hangs or a job is long overdue (systemd's watchdog). */
  async liveness(): Promise<void> {
    const { running } = await this.scheduler.status();
    this.progress.check(running, this.scheduler.nextRuns());
  }

  async status(): Promise<Record<string, unknown>> {
    const { connections, running } = await this.scheduler.status();
    return { connections: this.runs.correct(connections, running), running };
  }
}

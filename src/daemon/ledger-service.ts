import type { Config } from '../config';
import type { BooksStore } from '../ledger';
import {
  RateWatch,
  automateConnection,
  automateForeignConnections,
  ensureCompany,
  lastBalanceChecks,
  ledgerReport,
  loadCompanyFile,
  acceptSuggestion,
  pendingLines,
  pendingSuggestions,
  reconcileLine,
  undoReconciliation,
  type AutomationConfig,
  type ManualWriteOff,
} from '../ledger/automation';
import type { Logger } from '../shared/logger';
import type { RunOutcome } from '../bank';
import type { ControlServer } from './control';
import type { Service } from './service';

/** The automation's plain options from the config (the automation does not know the config). */
export function automationConfigFrom(config: Config, logger: Logger): AutomationConfig {
  const l = config.ledger;
  return {
    connections: Object.entries(l.connections).map(([connection, m]) => ({ connection, ...m })),
    rules: l.reconcile.rules.map((r) =>
      r.kind === 'amount_window'
        ? {
            kind: r.kind,
            tolerance: r.tolerance,
            days: r.days,
            ...(r.write_off !== null ? { write_off: r.write_off } : {}),
          }
        : r.kind === 'transfer'
          ? { kind: r.kind, days: r.days, tolerance: r.tolerance }
          : { kind: r.kind },
    ),
    post_moves: l.post_moves,
    accounts: { ...l.accounts },
    company_currency: l.company.currency,
    logger,
  };
}

/** `--write-off ACCOUNT [--write-off-limit AMOUNT]` of `booksync reconcile LINE --with INVOICE`. */
export function manualWriteOffFrom(p: { write_off?: string; write_off_limit?: string }): {
  write_off?: ManualWriteOff;
} {
  return p.write_off !== undefined
    ? {
        write_off: {
          account: p.write_off,
          ...(p.write_off_limit !== undefined ? { limit: p.write_off_limit } : {}),
        },
      }
    : {};
}

/**
 * Ledger automation as a daemon service: creates the configured company file's documents at
 * start, posts and reconciles each connection's new lines after every bank run, and serves
 * `booksync reconcile` and `booksync report` over the control socket.
 */
export class LedgerService implements Service {
  readonly name = 'ledger';
  private config: Config;
  private readonly logger: Logger;
  private readonly rateWatch: RateWatch;

  constructor(
    config: Config,
    private readonly store: BooksStore,
    logger: Logger,
    control: ControlServer,
    /** Told how many moves each automation run posted (the metrics count them). */
    private readonly onPosted?: (connection: string, count: number) => void,
  ) {
    this.config = config;
    this.logger = logger.child({ component: 'ledger' });
    // Posting waits for missing rates: their arrival posts the waiting invoices and lines.
    this.rateWatch = new RateWatch(
      store,
      async () => {
        await this.applyChart(false);
        return automateForeignConnections(this.store, this.options());
      },
      { logger: this.logger },
    );
    control.handle('ledger.report', async (p) =>
      ledgerReport(this.store, {
        date: p.date,
        include_draft: Boolean(p.include_draft),
        company_currency: this.config.ledger.company.currency,
      }),
    );
    control.handle('ledger.pending', async () => pendingSuggestions(this.store, this.options()));
    control.handle('ledger.reconcile', async (p) =>
      reconcileLine(this.store, String(p.line), String(p.invoice), {
        ...this.options(),
        ...manualWriteOffFrom(p),
      }),
    );
    control.handle('ledger.accept', async (p) =>
      acceptSuggestion(this.store, p.line, p.n, {
        ...this.options(),
        ...(p.expect !== undefined ? { expect: p.expect } : {}),
      }),
    );
    control.handle('ledger.undo', async (p) =>
      undoReconciliation(this.store, String(p.line), this.options()),
    );
    control.handle('ledger.automate', async (p) => this.automate(String(p.connection)));
  }

  options(): AutomationConfig {
    return automationConfigFrom(this.config, this.logger);
  }

  async start(): Promise<void> {
    await this.applyChart();
    this.rateWatch.start();
  }

  async stop(): Promise<void> {
    await this.rateWatch.stop();
  }

  private async applyChart(always = true): Promise<void> {
    if (!this.config.ledger.chart) return;
    const result = await ensureCompany(this.store, loadCompanyFile(this.config.ledger.chart), {
      logger: this.logger,
    });
    if (always || result.created.length > 0)
      this.logger.info(`company file ${this.config.ledger.chart} applied`, {
        event: 'ledger.chart',
        file: this.config.ledger.chart,
        ...result,
      });
  }

  async reload(config: Config): Promise<void> {
    this.config = config;
    if (config.ledger.chart)
      await ensureCompany(this.store, loadCompanyFile(config.ledger.chart), {
        logger: this.logger,
      });
  }

  /** Posts and reconciles one connection's lines; the bank service calls it after each run. */
  automate(connection: string) {
    return automateConnection(this.store, connection, this.options());
  }

  /** The bank scheduler's afterRun hook. */
  readonly afterRun = async (outcome: RunOutcome): Promise<void> => {
    const result = await this.automate(outcome.connection);
    if (result.skipped) return;
    this.onPosted?.(outcome.connection, result.posting?.posted.length ?? 0);
    this.logger.info(
      `${outcome.connection}: ${result.posting?.posted.length ?? 0} lines posted, ${result.reconcile?.matched.length ?? 0} reconciled`,
      {
        event: 'ledger.automate',
        connection: outcome.connection,
        posted: result.posting?.posted.length ?? 0,
        refused: result.posting?.refused.length ?? 0,
        reconciled: result.reconcile?.matched.length ?? 0,
        unmatched: result.reconcile?.unmatched.length ?? 0,
      },
    );
  };

  async status(): Promise<Record<string, unknown>> {
    const checks = await lastBalanceChecks(this.store, Object.keys(this.config.ledger.connections));
    const pending = await pendingLines(this.store);
    return {
      company: this.config.ledger.company.name,
      unreconciled_lines: pending.length,
      balances: checks.map((c) => ({
        connection: (c as { connection?: string }).connection,
        account: c.account,
        books: c.books,
        bank: c.bank,
        difference: c.difference,
        ok: c.ok,
        checked_at: c.checked_at,
      })),
    };
  }
}

import { describeError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { BooksStore } from '../store';
import { automateConnection, type AutomationConfig, type ConnectionRunResult } from './automate';

/**
 * Posting when a rate arrives (docs/CURRENCIES.md, "A missing rate"). Rate documents reach the
 * books from a rates provider or from the cloud (another site fetched them); either way they are
 * writes to the books, so the books' changes feed is where to notice them. Each arrival of rates
 * runs the automation of every connection in another currency than the company's, which posts the
 * lines that were waiting for them. Arrivals during a run are coalesced into one more run.
 */

export interface RateWatchOptions {
  logger?: Logger;
  /** Told after each reaction (the ids of the rate documents it reacted to, and what it did). */
  onReacted?: (reaction: RateReaction) => void;
}

export interface RateReaction {
  rates: string[];
  results: ConnectionRunResult[];
  error?: { code: string; message: string };
}

/** What one arrival of rates does: the automation of the connections in a foreign currency. */
export async function automateForeignConnections(
  store: BooksStore,
  config: AutomationConfig,
): Promise<ConnectionRunResult[]> {
  const company = config.company_currency;
  const results: ConnectionRunResult[] = [];
  for (const mapping of config.connections) {
    if (company === undefined || mapping.currency === company) continue;
    results.push(await automateConnection(store, mapping.connection, config));
  }
  return results;
}

export class RateWatch {
  private feed: PouchDB.Core.Changes<object> | undefined;
  private queued: string[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: BooksStore,
    private readonly react: (rates: string[]) => Promise<ConnectionRunResult[]>,
    private readonly options: RateWatchOptions = {},
  ) {}

  /** Follows the books' changes from now on. */
  start(): void {
    if (this.feed) return;
    const feed = this.store.db.changes({ since: 'now', live: true });
    // `changes()` is also a promise of the feed's end; the 'error' handler below reports failures.
    void feed.on('change', (change) => {
      if (change.deleted || !change.id.startsWith('rate:')) return;
      this.queued.push(change.id);
      this.kick();
    });
    void feed.on('error', (err) => {
      this.options.logger?.error(`the rates watch stopped: ${describeError(err).message}`, {
        event: 'ledger.rates_watch_error',
        ...describeError(err),
      });
    });
    this.feed = feed;
  }

  /** Stops following and waits for a reaction in progress. */
  async stop(): Promise<void> {
    this.feed?.cancel();
    this.feed = undefined;
    this.queued = [];
    await this.running;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.queued.length > 0 && this.feed) this.kick();
    });
  }

  private async drain(): Promise<void> {
    // Let a provider's batch of rate documents land before reacting once to all of them.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const rates = [...new Set(this.queued)];
    this.queued = [];
    const reaction: RateReaction = { rates, results: [] };
    try {
      reaction.results = await this.react(rates);
      const posted = reaction.results.reduce((n, r) => n + (r.posting?.posted.length ?? 0), 0);
      this.options.logger?.info(
        `${rates.length} rate(s) arrived: ${posted} waiting line(s) posted`,
        {
          event: 'ledger.rates_arrived',
          rates: rates.length,
          posted,
        },
      );
    } catch (err) {
      reaction.error = describeError(err);
      this.options.logger?.error(`posting after new rates failed: ${reaction.error.message}`, {
        event: 'ledger.rates_arrived',
        ...reaction.error,
      });
    }
    this.options.onReacted?.(reaction);
  }
}

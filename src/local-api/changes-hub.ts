/** Why a wait for changes ended. */
export type WakeReason = 'change' | 'timeout' | 'closed' | 'gone';

/**
 * One open `_changes` feed (longpoll or continuous) waiting for the books to change. A wake that
 * arrives while nobody waits is kept, so a change between "query" and "wait" is never missed.
 */
export class ChangeWaiter {
  private pending: WakeReason | undefined;
  private resolve: ((reason: WakeReason) => void) | undefined;

  constructor(private readonly onDone: (w: ChangeWaiter) => void) {}

  wake(reason: WakeReason): void {
    // A terminal reason outranks a pending change.
    if (this.resolve) {
      const r = this.resolve;
      this.resolve = undefined;
      r(reason);
    } else if (this.pending === undefined || reason !== 'change') {
      this.pending = reason;
    }
  }

  next(): Promise<WakeReason> {
    if (this.pending !== undefined) {
      const r = this.pending;
      this.pending = undefined;
      return Promise.resolve(r);
    }
    return new Promise((resolve) => (this.resolve = resolve));
  }

  /** Leaves the hub. */
  done(): void {
    this.onDone(this);
  }
}

/**
 * Follows the books' own changes feed once and wakes every open `_changes` request on each
 * change, instead of one live PouchDB feed per HTTP request.
 */
export class ChangesHub {
  private readonly waiters = new Set<ChangeWaiter>();
  private feed: PouchDB.Core.Changes<object> | undefined;
  private closed = false;

  constructor(
    private readonly db: PouchDB.Database,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.feed = this.db.changes({
      since: 'now',
      live: true,
      return_docs: false,
    });
    // The feed is also a promise of its end; `on` returns the feed, which is not awaited here.
    void this.feed.on('change', () => {
      for (const w of this.waiters) w.wake('change');
    });
    void this.feed.on('error', (err) => this.onError(err));
  }

  /** A waiter registered before the caller queries, so no change slips between. */
  subscribe(): ChangeWaiter {
    const w = new ChangeWaiter((x) => this.waiters.delete(x));
    if (this.closed) w.wake('closed');
    else this.waiters.add(w);
    return w;
  }

  get open(): number {
    return this.waiters.size;
  }

  /** Stops following the books and ends every open wait with `closed`. */
  close(): void {
    this.closed = true;
    this.feed?.cancel();
    this.feed = undefined;
    for (const w of this.waiters) w.wake('closed');
    this.waiters.clear();
  }
}

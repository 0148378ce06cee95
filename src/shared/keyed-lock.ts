/**
 * Per-key mutual exclusion between batches (the books' writes per document id; the sync engine's
 * push and pull, and pipelined batches of one direction): a batch takes all its keys at once, in
 * one synchronous step, so batches are ordered by the moment they asked and no two can wait on
 * each other in a cycle. A key named twice in one batch is taken once.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(ids: readonly string[]): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const keys = new Set(ids);
    const waits: Promise<void>[] = [];
    for (const id of keys) {
      const prev = this.tails.get(id);
      if (prev) waits.push(prev);
      this.tails.set(id, mine);
    }
    if (waits.length > 0) await Promise.all(waits);
    return () => {
      for (const id of keys) if (this.tails.get(id) === mine) this.tails.delete(id);
      release();
    };
  }

  /** Runs `fn` holding `ids`; they are released however `fn` ends. */
  async hold<T>(ids: readonly string[], fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(ids);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

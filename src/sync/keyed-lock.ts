/**
 * Per-document mutual exclusion between batches (push and pull, and pipelined batches of one
 * direction): a batch takes all its ids at once, in one synchronous step, so batches are ordered
 * by the moment they asked and no two can wait on each other in a cycle.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(ids: readonly string[]): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const waits: Promise<void>[] = [];
    for (const id of ids) {
      const prev = this.tails.get(id);
      if (prev) waits.push(prev);
      this.tails.set(id, mine);
    }
    if (waits.length > 0) await Promise.all(waits);
    return () => {
      for (const id of ids) if (this.tails.get(id) === mine) this.tails.delete(id);
      release();
    };
  }
}

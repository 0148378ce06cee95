/**
 * The bound of one HTTP exchange (the request and reading its body): a timeout and, optionally,
 * a caller's signal (a run being cancelled, the daemon stopping), whichever comes first.
 *
 * Why not just `fetch(url, { signal: AbortSignal.any([...]) })`: Node's fetch (undici) follows the
 * signal from its internal Request object through a weak reference. When that Request is
 * garbage-collected while the exchange is still in flight, aborting no longer reaches the fetch
 * (nodejs/undici#3644, nodejs/node#55428): a request to a server that holds it open (a CouchDB
 * long-poll, a hung bank API) then outlives every timeout, and `stop()` waits forever. Seen here
 * as a sync engine that never stopped under load. So the exchange also races the abort itself
 * (`race`), and the caller keeps its Request alive until the exchange settles (`hold`).
 *
 *   const deadline = new Deadline(timeoutMs, signal);
 *   const req = deadline.hold(new Request(url, { ...init, signal: deadline.signal }));
 *   try { res = await deadline.race(fetch(req)); text = await deadline.race(res.text()); }
 *   catch (err) { deadline.timedOut / deadline.cancelled say which }
 *   finally { deadline.clear(); }
 */
export class Deadline {
  readonly signal: AbortSignal;
  /** The timeout fired. */
  timedOut = false;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly parent: AbortSignal | undefined;
  private readonly onParentAbort = () => this.controller.abort(this.parent?.reason);
  private readonly held = new Set<unknown>();

  /**
   * `timeoutReason` makes the abort reason of a passed deadline the caller's own error (a bank run's
   * BANK_TIMEOUT) instead of a `TimeoutError` DOMException.
   */
  constructor(timeoutMs: number, parent?: AbortSignal, timeoutReason?: () => Error) {
    this.signal = this.controller.signal;
    this.parent = parent;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(
        timeoutReason?.() ?? new DOMException('the request timed out', 'TimeoutError'),
      );
    }, timeoutMs);
    if (parent?.aborted) this.onParentAbort();
    else parent?.addEventListener('abort', this.onParentAbort, { once: true });
  }

  /** The caller's signal aborted (not the timeout). */
  get cancelled(): boolean {
    return this.parent?.aborted === true;
  }

  /** Keeps `value` (the Request) strongly reachable until `clear()`. */
  hold<T>(value: T): T {
    this.held.add(value);
    return value;
  }

  /**
   * `work`, or a rejection as soon as the deadline passes or the caller aborts. The abort listener
   * goes once `work` settles: a shared never-settling promise in a `Promise.race` would keep every
   * response body it ever raced reachable for as long as the deadline lives (its cost in peak
   * RSS: BENCHMARKS.md, Sync).
   */
  race<T>(work: Promise<T>): Promise<T> {
    const reason = () =>
      this.signal.reason instanceof Error
        ? this.signal.reason
        : new DOMException('the request was aborted', 'AbortError');
    if (this.signal.aborted) {
      work.catch(() => undefined); // the loser must not surface as an unhandled rejection
      return Promise.reject(reason());
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(reason());
      this.signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (value) => {
          this.signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (err: unknown) => {
          this.signal.removeEventListener('abort', onAbort);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the raced promise's reason, passed on unchanged
          reject(err);
        },
      );
    });
  }

  /** Ends the bound: the timer, the caller's listener and the held Request are released. */
  clear(): void {
    clearTimeout(this.timer);
    this.parent?.removeEventListener('abort', this.onParentAbort);
    this.held.clear();
  }
}

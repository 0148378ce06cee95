import type { Logger } from '../shared/logger';

export interface ThrottleOptions {
  /** Failures a client address or a user name may have in one window before it is locked out. @default 10 */
  maxFailures?: number;
  /** The window failures are counted over, and how long a lockout lasts. @default 60 s */
  windowMs?: number;
  /** Delay before the answer to the first failure; it doubles with each further one. @default 100 ms */
  baseDelayMs?: number;
  /** Longest delay before a failure's answer. @default 5 s */
  maxDelayMs?: number;
  /** Most keys remembered at once; the oldest quiet ones are forgotten first. @default 10,000 */
  maxKeys?: number;
}

/** What the throttle says about a login attempt before the credentials are checked. */
export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

interface KeyState {
  /** Times (epoch ms) of the failures still inside the window, oldest first. */
  failures: number[];
  /** While set and in the future, every attempt is refused without checking credentials. */
  lockedUntil: number;
}

/** One client address's run of failures, logged as a single line when it ends. */
interface Burst {
  remote: string;
  first: number;
  last: number;
  failures: number;
  refused: number;
  names: Set<string>;
}

/** Distinct names a burst counts (never logs: a user name field often holds a mistyped password). */
const MAX_BURST_NAMES = 100;

/**
 * Login throttling per client address and per user name (existing or not, so the answers tell
 * nothing about which users exist). Each failure delays its own answer (100 ms, doubling, at
 * most 5 s); the `maxFailures`-th failure in a window locks the address and the name out for a
 * window, and a locked key's attempts are refused (429 with Retry-After) without checking the
 * password. A success clears both keys. Failures from one address form a burst that is logged
 * once, when it has been quiet for a window, instead of a warn line per attempt.
 * @link https://owasp.org/www-community/controls/Blocking_Brute_Force_Attacks
 */
export class LoginThrottle {
  private readonly keys = new Map<string, KeyState>();
  private readonly bursts = new Map<string, Burst>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxKeys: number;

  constructor(
    private readonly clock: () => Date,
    private readonly log: Logger,
    options: ThrottleOptions = {},
  ) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 5_000;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /** Whether an attempt from `remote` as `name` may be checked now. */
  admit(remote: string, name: string | undefined): Admission {
    const now = this.now();
    this.sweep(now);
    let until = 0;
    for (const key of keysOf(remote, name)) until = Math.max(until, this.lockedUntil(key, now));
    if (until <= now) return { ok: true };
    const burst = this.bursts.get(remote);
    if (burst) {
      burst.refused++;
      this.touch(burst, now);
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)) };
  }

  /** Records a failed attempt; returns how long to hold its answer back (ms). */
  failed(remote: string, name: string | undefined): number {
    const now = this.now();
    let count = 0;
    for (const key of keysOf(remote, name)) count = Math.max(count, this.recordFailure(key, now));
    const burst = this.bursts.get(remote) ?? {
      remote,
      first: now,
      last: now,
      failures: 0,
      refused: 0,
      names: new Set<string>(),
    };
    burst.failures++;
    if (name !== undefined && burst.names.size < MAX_BURST_NAMES) burst.names.add(name);
    this.touch(burst, now);
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(count - 1, 30));
  }

  /** A successful login clears the address's and the name's failures. */
  succeeded(remote: string, name: string): void {
    for (const key of keysOf(remote, name)) this.keys.delete(key);
  }

  /** Logs every open burst now (the listener is closing). */
  flush(): void {
    for (const burst of this.bursts.values()) this.logBurst(burst);
    this.bursts.clear();
  }

  /** The window, for a caller that sweeps on a timer. */
  get windowMillis(): number {
    return this.windowMs;
  }

  private lockedUntil(key: string, now: number): number {
    const state = this.keys.get(key);
    return state && state.lockedUntil > now ? state.lockedUntil : 0;
  }

  /** Adds a failure to `key`; returns the failures now inside its window. */
  private recordFailure(key: string, now: number): number {
    const state = this.keys.get(key) ?? { failures: [], lockedUntil: 0 };
    this.keys.delete(key); // re-inserted below, so the map stays ordered by last activity
    state.failures = state.failures.filter((t) => t > now - this.windowMs);
    state.failures.push(now);
    if (state.failures.length > this.maxFailures) state.failures.shift();
    if (state.failures.length >= this.maxFailures)
      state.lockedUntil = Math.max(state.lockedUntil, now + this.windowMs);
    this.keys.set(key, state);
    this.forgetOldest();
    return state.failures.length;
  }

  private forgetOldest(): void {
    for (const key of this.keys.keys()) {
      if (this.keys.size <= this.maxKeys) return;
      this.keys.delete(key);
    }
  }

  /**
   * Logs the bursts that have been quiet for a window (called on each attempt and by a timer).
   * The map is ordered by last activity, so the walk stops at the first burst still going on.
   */
  sweep(now = this.now()): void {
    for (const [remote, burst] of this.bursts) {
      if (now - burst.last < this.windowMs && this.bursts.size <= this.maxKeys) return;
      this.logBurst(burst);
      this.bursts.delete(remote);
    }
  }

  /** Marks a burst active now and moves it to the end of the map (most recent). */
  private touch(burst: Burst, now: number): void {
    burst.last = now;
    this.bursts.delete(burst.remote);
    this.bursts.set(burst.remote, burst);
    if (this.bursts.size > this.maxKeys) this.sweep(now);
  }

  private logBurst(burst: Burst): void {
    this.log.warn(
      `local API: ${burst.failures} failed logins from ${burst.remote}${burst.refused > 0 ? `, ${burst.refused} more refused while locked out` : ''}`,
      {
        event: 'local_api.login_failures',
        remote: burst.remote,
        failures: burst.failures,
        refused: burst.refused,
        names: burst.names.size,
        first: new Date(burst.first).toISOString(),
        last: new Date(burst.last).toISOString(),
      },
    );
  }

  private now(): number {
    return this.clock().getTime();
  }
}

function keysOf(remote: string, name: string | undefined): string[] {
  return name === undefined ? [`addr:${remote}`] : [`addr:${remote}`, `user:${name}`];
}

import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import { canonicalJson } from '../shared/canonical-json';
import { BooksyncError, describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import {
  BooksWithAttachments,
  CloudWithAttachments,
  DEFAULT_MAX_ATTACHMENT_BYTES,
} from './attachments';
import { backoffNamed, type Backoff } from './backoff';
import type { Bookkeeping } from './bookkeeping';
import type { ConflictStrategy } from './conflicts';
import type { SyncContext } from './context';
import { SyncAuthError, SyncCloudGoneError, SyncUnavailableError } from './errors';
import { CloudIdentity } from './identity';
import { KeyedLock } from '../shared/keyed-lock';
import type { LocalStore } from './local-store';
import type { Projection, Way } from './projection';
import { Puller } from './pull';
import { Pusher } from './push';
import { Reconciler, type ResolutionReport } from './reconcile';
import type { RemoteStore } from './remote-store';
import type { RulesSnapshot } from './rules';
import {
  systemTimers,
  type BatchResult,
  type CycleReport,
  type SyncEngineOptions,
  type SyncState,
  type SyncStatus,
  type Timers,
} from './types';

interface DirState {
  running: Promise<CycleReport> | null;
  again: boolean;
  failure: 'offline' | 'auth' | null;
  lastDelay: number;
  cancelTimer: (() => void) | null;
}

/**
 * Lifecycle of the replication: the live loops (a push per local change, a long-polling pull) or
 * the interval schedule, single-flight cycles per direction, backoff after failures, and the
 * state the daemon reports. Before the first cycle, and again after the cloud went away, it checks
 * the cloud's identity (identity.ts), which may re-walk both sides first.
 */
export class SyncRunner {
  readonly ctx: SyncContext;
  readonly rec: Reconciler;
  private readonly pusher: Pusher;
  private readonly puller: Puller;
  private readonly identity: CloudIdentity;
  private readonly local: LocalStore;
  private readonly remote: RemoteStore;
  private readonly bk: Bookkeeping;
  private readonly log: Logger;
  private readonly mode: 'live' | 'interval';
  private readonly intervalMs: number;
  private readonly backoff: Backoff;
  private readonly authRetryMs: number;
  private readonly longpollMs: number;
  private readonly clock: () => Date;
  private readonly timers: Timers;

  private readonly statusSubject: BehaviorSubject<SyncStatus>;
  private readonly cycleSubject = new Subject<CycleReport>();
  private readonly errorSubject = new Subject<BooksyncError>();
  private readonly dirs: Record<Way, DirState> = {
    push: { running: null, again: false, failure: null, lastDelay: 0, cancelTimer: null },
    pull: { running: null, again: false, failure: null, lastDelay: 0, cancelTimer: null },
  };
  private busy = { push: false, pull: false };
  private started = false;
  private stopping = false;
  private dbReady = false;
  private ready: Promise<void> | null = null;
  private unwatch: (() => void) | null = null;
  private pullLoopDone: Promise<void> | null = null;
  private wakePullLoop: (() => void) | null = null;
  private intervalCancel: (() => void) | null = null;

  constructor(
    options: SyncEngineOptions,
    projection: Projection,
    strategyFor: (type: string) => ConflictStrategy,
    rules: RulesSnapshot,
  ) {
    this.local = options.local;
    this.remote = options.remote;
    this.bk = options.bookkeeping;
    this.log = options.logger;
    this.mode = options.mode ?? 'live';
    this.intervalMs = options.intervalMs ?? 900_000;
    const maxMs = options.backoffMaxMs ?? 300_000;
    this.backoff =
      typeof options.backoff === 'function'
        ? options.backoff
        : backoffNamed(options.backoff ?? 'exponential-jitter', {
            baseMs: options.backoffBaseMs,
            maxMs,
          });
    this.authRetryMs = options.authRetryMs ?? 900_000;
    this.longpollMs = options.longpollMs ?? 25_000;
    this.clock = options.clock ?? (() => new Date());
    this.timers = options.timers ?? systemTimers;
    const maxAttachmentBytes = options.maxAttachmentBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES;
    this.ctx = {
      local: new BooksWithAttachments(this.local, this.remote, maxAttachmentBytes),
      remote: new CloudWithAttachments(this.remote, this.local, maxAttachmentBytes),
      bk: this.bk,
      log: this.log,
      projection,
      lock: new KeyedLock(),
      clock: this.clock,
      batchSize: Math.max(1, options.batchSize ?? 500),
      batchBytes: Math.max(1024, options.batchBytes ?? 4 * 1024 * 1024),
      depth: Math.max(1, options.pipelineDepth ?? 3),
      strategyFor,
      stopping: () => this.stopping,
      markBusy: (way) => this.markBusy(way),
      patchStatus: (patch) => this.patchStatus(patch),
      suspectCloud: (reason) => this.suspectCloud(reason),
      recheckCloud: () => {
        this.dbReady = false;
      },
    };
    this.rec = new Reconciler(this.ctx);
    this.pusher = new Pusher(this.ctx, this.rec);
    this.puller = new Puller(this.ctx, this.rec);
    this.identity = new CloudIdentity(this.ctx, this.rec, rules);
    this.statusSubject = new BehaviorSubject<SyncStatus>({
      state: 'stopped',
      mode: this.mode,
      last_push_at: null,
      last_pull_at: null,
      pending_push: null,
      pending_pull: null,
      open_conflicts: 0,
      last_error: null,
      rewalk: null,
      excluded_in_cloud: null,
    });
  }

  /** Status changes (a BehaviorSubject: subscribers get the current value first). */
  get status$(): Observable<SyncStatus> {
    return this.statusSubject.asObservable();
  }

  /** Every finished cycle, per direction. */
  get cycle$(): Observable<CycleReport> {
    return this.cycleSubject.asObservable();
  }

  /** Every failed cycle (the engine retries by itself; this is for observers). */
  get error$(): Observable<BooksyncError> {
    return this.errorSubject.asObservable();
  }

  /** Every automatic conflict resolution, once its result and audit record are written. */
  get resolution$(): Observable<ResolutionReport> {
    return this.rec.resolutions.asObservable();
  }

  status(): SyncStatus {
    return this.statusSubject.getValue();
  }

  /** Starts live following or the interval schedule. Resolves once the first cycles are under way. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    await this.rec.loadConflictIds();
    this.setState();
    if (this.mode === 'live') {
      this.unwatch = this.local.watch(() => this.schedulePush());
      this.schedulePush();
      this.pullLoopDone = this.pullLoop();
    } else {
      this.scheduleInterval(0);
    }
  }

  /**
   * Stops following, lets the batches in flight finish (data, bases, checkpoint), closes the
   * feeds and completes the observables. Does not close the stores (the daemon owns them).
   */
  async stop(): Promise<void> {
    if (!this.started) {
      this.complete();
      return;
    }
    this.stopping = true;
    this.unwatch?.();
    this.unwatch = null;
    this.puller.abortLongpoll();
    this.wakePullLoop?.();
    this.intervalCancel?.();
    for (const d of Object.values(this.dirs)) {
      d.cancelTimer?.();
      d.cancelTimer = null;
    }
    await Promise.allSettled(
      [this.dirs.push.running, this.dirs.pull.running, this.pullLoopDone].filter((p) => p !== null),
    );
    this.started = false;
    this.setState();
    this.complete();
  }

  private complete(): void {
    this.statusSubject.next({ ...this.status(), state: 'stopped' });
    this.statusSubject.complete();
    this.cycleSubject.complete();
    this.errorSubject.complete();
    this.rec.resolutions.complete();
  }

  /**
   * One push cycle then one pull cycle (or only the `directions` given), now, until caught up
   * (joins a cycle already running). Throws what the cycles throw. For tests and `booksync sync now`.
   */
  async syncOnce(
    directions: readonly Way[] = ['push', 'pull'],
  ): Promise<{ push: CycleReport; pull: CycleReport }> {
    const none = (direction: Way): CycleReport => ({ direction, docs: 0, conflicts: 0, ms: 0 });
    const push = directions.includes('push') ? await this.runDirection('push', 0) : none('push');
    const pull = directions.includes('pull') ? await this.runDirection('pull', 0) : none('pull');
    return { push, pull };
  }

  // ---- scheduling -----------------------------------------------------------------------------

  private schedulePush(): void {
    if (this.stopping) return;
    const d = this.dirs.push;
    if (d.running || d.cancelTimer) {
      d.again = true;
      return;
    }
    void this.pushLoop();
  }

  private async pushLoop(): Promise<void> {
    const d = this.dirs.push;
    do {
      d.again = false;
      try {
        await this.runDirection('push', 0);
        this.succeeded('push');
      } catch (err) {
        if (this.stopping) return;
        const delay = this.failed('push', err);
        d.cancelTimer = this.timers.set(() => {
          d.cancelTimer = null;
          this.schedulePush();
        }, delay);
        return;
      }
    } while (d.again && !this.stopping);
  }

  private async pullLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.runDirection('pull', this.longpollMs);
        this.succeeded('pull');
      } catch (err) {
        if (this.stopping) return;
        const delay = this.failed('pull', err);
        await new Promise<void>((resolve) => {
          const cancel = this.timers.set(resolve, delay);
          this.wakePullLoop = () => {
            cancel();
            resolve();
          };
        });
        this.wakePullLoop = null;
      }
    }
  }

  private scheduleInterval(ms: number): void {
    if (this.stopping) return;
    this.intervalCancel = this.timers.set(() => {
      this.intervalCancel = null;
      void this.intervalCycle();
    }, ms);
  }

  private async intervalCycle(): Promise<void> {
    let next = this.intervalMs;
    for (const way of ['push', 'pull'] as const) {
      try {
        await this.runDirection(way, 0);
        this.succeeded(way);
      } catch (err) {
        if (this.stopping) return;
        next = Math.min(next, this.failed(way, err));
      }
    }
    this.scheduleInterval(next);
  }

  /** Single-flight per direction: a second caller joins the cycle running (a live long-poll is cut short). */
  private async runDirection(way: Way, waitMs: number): Promise<CycleReport> {
    const d = this.dirs[way];
    while (d.running) {
      if (way === 'pull' && waitMs === 0) this.puller.abortLongpoll();
      try {
        await d.running;
      } catch {
        // the other caller reports its own failure
      }
    }
    const run = (async () => {
      const t0 = Date.now();
      const r = await this.cycleOnReadyCloud(way, waitMs);
      if (way === 'push' && r.docs > 0 && this.dbReady && !(await this.identity.touch()))
        this.suspectCloud('its identity marker is gone');
      const report: CycleReport = {
        direction: way,
        docs: r.docs,
        conflicts: r.conflicts,
        ms: Date.now() - t0,
      };
      return report;
    })();
    d.running = run;
    try {
      const report = await run;
      const level = report.docs > 0 || report.conflicts > 0 ? 'info' : 'debug';
      this.log.log(level, `${way}: ${report.docs} document(s) in ${report.ms} ms`, {
        event: 'sync.cycle',
        ...report,
      });
      this.patchStatus(
        way === 'push'
          ? { last_push_at: this.clock().toISOString() }
          : { last_pull_at: this.clock().toISOString() },
      );
      this.cycleSubject.next(report);
      return report;
    } finally {
      d.running = null;
      this.busy[way] = false;
      this.setState();
    }
  }

  private succeeded(way: Way): void {
    const d = this.dirs[way];
    d.lastDelay = 0;
    if (d.failure !== null) {
      d.failure = null;
      this.patchStatus({ last_error: null });
    }
    this.setState();
  }

  /** Records a failure and returns the delay before the retry. */
  private failed(way: Way, err: unknown): number {
    const d = this.dirs[way];
    const e =
      err instanceof BooksyncError
        ? err
        : new SyncUnavailableError(describeError(err).message, { cause: err });
    d.failure = e instanceof SyncAuthError ? 'auth' : 'offline';
    if (
      !(err instanceof SyncAuthError) &&
      !(err instanceof SyncUnavailableError) &&
      this.status().last_error?.message !== e.message
    ) {
      // Not a network or auth condition (a store failure, a protocol surprise): one error line per distinct failure, not per retry.
      this.log.error(`${way} failed: ${e.message}`, {
        event: 'sync.error',
        direction: way,
        code: describeError(err).code,
      });
    }
    if (!(err instanceof SyncUnavailableError)) this.dbReady = false;
    this.patchStatus({ last_error: { code: e.code, message: e.message } });
    this.setState();
    this.errorSubject.next(e);
    const delay = d.failure === 'auth' ? this.authRetryMs : this.backoff(d.lastDelay);
    d.lastDelay = delay;
    return delay;
  }

  private setState(): void {
    const d = this.dirs;
    const state: SyncState = !this.started
      ? 'stopped'
      : d.push.failure === 'auth' || d.pull.failure === 'auth'
        ? 'auth_error'
        : d.push.failure || d.pull.failure
          ? 'offline'
          : this.busy.push || this.busy.pull || !this.dbReady
            ? 'syncing'
            : 'online';
    const prev = this.status().state;
    if (prev === state) return;
    this.patchStatus({ state });
    const quiet =
      (prev === 'online' || prev === 'syncing') && (state === 'online' || state === 'syncing');
    const s = this.status();
    this.log.log(quiet ? 'debug' : 'info', `sync ${state}`, {
      event: 'sync.status',
      state,
      previous: prev,
      last_push_at: s.last_push_at,
      last_pull_at: s.last_pull_at,
      pending_push: s.pending_push,
      pending_pull: s.pending_pull,
      open_conflicts: s.open_conflicts,
      ...(s.last_error && state !== 'online' ? { error: s.last_error } : {}),
    });
  }

  patchStatus(patch: Partial<SyncStatus>): void {
    if (this.statusSubject.closed) return;
    const next = { ...this.status(), ...patch };
    if (canonicalJson(next) !== canonicalJson(this.status())) this.statusSubject.next(next);
  }

  markBusy(way: Way): void {
    if (this.busy[way]) return;
    this.busy[way] = true;
    this.setState();
  }

  /** One cycle; when the cloud database turns out to be gone, it is recreated, checked (re-walked) and the cycle runs again once. */
  private async cycleOnReadyCloud(way: Way, waitMs: number): Promise<BatchResult> {
    for (let attempt = 0; ; attempt++) {
      if (!this.dbReady) await this.ensureReady();
      try {
        return way === 'push' ? await this.pusher.cycle() : await this.puller.cycle(waitMs);
      } catch (err) {
        if (!(err instanceof SyncCloudGoneError) || attempt > 0 || this.stopping) throw err;
        this.log.warn(`the cloud database is gone (${err.message}); creating it again`, {
          event: 'sync.cloud_gone',
          url: this.remote.url,
        });
        this.dbReady = false;
      }
    }
  }

  /**
   * Creates the cloud database if it is missing, then checks that it is the cloud the bookkeeping
   * belongs to (and re-walks both sides when it is not). Single-flight: both directions wait on it.
   */
  private ensureReady(): Promise<void> {
    this.ready ??= (async () => {
      try {
        const marker = this.identity.readMarker();
        const info = await this.remote.ensureDb();
        this.puller.cloudUpdateSeq = info.updateSeq;
        await this.identity.check(info.created ? null : await marker);
        this.dbReady = true;
        this.setState();
      } finally {
        this.ready = null;
      }
    })();
    return this.ready;
  }

  /** The next cycle checks the cloud's identity again: a document both sides had agreed on is gone from the cloud. */
  private suspectCloud(reason: string): void {
    if (!this.dbReady) return;
    this.log.warn(
      `the cloud no longer holds a document it had (${reason}); checking which cloud this is`,
      { event: 'sync.cloud_suspect', reason },
    );
    this.dbReady = false;
  }

  cloudMarkerId(): Promise<string> {
    return this.identity.markerIdOfSite();
  }

  /** Removes newly excluded push fields from the cloud copies (identity.ts); `booksync sync strip-excluded`. */
  async stripExcluded(): Promise<{ docs: number }> {
    if (!this.dbReady) await this.ensureReady();
    return this.identity.stripExcluded();
  }
}

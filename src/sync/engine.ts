import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import { canonicalJson, sameContent } from '../shared/canonical-json';
import { BooksyncError, describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { auditId } from '../ledger';
import { backoffNamed, type Backoff, type BackoffName } from './backoff';
import type { Base, Bookkeeping, OpenConflict } from './bookkeeping';
import { remoteWins, strategyNamed, type ConflictStrategy, type Resolution } from './conflicts';
import { SyncAuthError, SyncConflictError, SyncUnavailableError } from './errors';
import { KeyedLock } from './keyed-lock';
import { ChangesReadAhead } from './read-ahead';
import type { LocalDoc, LocalStore, LocalWrite } from './local-store';
import { Projection, projectionHash, type Content, type TypeProjection, type TypeRule, type Way } from './projection';
import type { RemoteChange, RemoteDoc, RemoteStore, RemoteWrite } from './remote-store';

/** Per-type settings: the projection rule plus the conflict strategy by name. */
export interface SyncTypeOptions extends TypeRule {
  /** `local-wins | remote-wins | newest-wins | merge | manual`; default `remote-wins` (the cloud is the master). */
  conflict?: string;
  /** For `merge`: who wins a field both sides changed; default `remote-wins`. */
  tie_breaker?: string;
}

/** Timers the engine owns; tests may inject their own. `set` returns a cancel function. */
export interface Timers {
  set(fn: () => void, ms: number): () => void;
}

export const systemTimers: Timers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

export interface SyncEngineOptions {
  local: LocalStore;
  remote: RemoteStore;
  bookkeeping: Bookkeeping;
  logger: Logger;
  /** `live`: follow both changes feeds; `interval`: one cycle every `intervalMs`. Default live. */
  mode?: 'live' | 'interval';
  /** @default 900000 (15 min) */
  intervalMs?: number;
  /** Documents per request. @default 500 */
  batchSize?: number;
  /** Bytes per write request. @default 4194304 */
  batchBytes?: number;
  /** Batches in flight per direction. @default 3 */
  pipelineDepth?: number;
  /** A named backoff or a function of the previous delay. @default 'exponential-jitter' */
  backoff?: BackoffName | Backoff;
  /** @default 1000 */
  backoffBaseMs?: number;
  /** @default 300000 (5 min) */
  backoffMaxMs?: number;
  /** Retry delay after a 401/403. @default 900000 (15 min) */
  authRetryMs?: number;
  /** How long a live `_changes` long-poll waits on the server. @default 25000 */
  longpollMs?: number;
  /** Per-type direction, exclusions and conflict strategy. */
  types?: Readonly<Record<string, SyncTypeOptions>>;
  /** Types not listed. @default { direction: 'none' } */
  default?: SyncTypeOptions;
  clock?: () => Date;
  timers?: Timers;
}

export type SyncState = 'online' | 'syncing' | 'offline' | 'auth_error' | 'stopped';

export interface SyncStatus {
  state: SyncState;
  mode: 'live' | 'interval';
  last_push_at: string | null;
  last_pull_at: string | null;
  /** Local changes not yet pushed (sequence distance; null when unknown). */
  pending_push: number | null;
  /** Cloud changes not yet pulled, as the server last reported (null when unknown). */
  pending_pull: number | null;
  open_conflicts: number;
  last_error: { code: string; message: string } | null;
}

export interface CycleReport {
  direction: Way;
  /** Documents written (either side) by this cycle. */
  docs: number;
  /** Conflicts met (resolved automatically or recorded for an admin). */
  conflicts: number;
  ms: number;
}

/** An audit record as `listResolved` returns it. */
export interface AuditRecord {
  _id: string;
  doc_id: string;
  strategy: string;
  resolved_at: string;
  taken: 'local' | 'remote' | 'merged';
  local: Content | null;
  remote: Content | null;
  base: Content | null;
  overwritten: { local?: unknown; remote?: unknown };
  scope?: 'books' | 'cloud';
  [extra: string]: unknown;
}

export type ConflictChoice = { take: 'local' | 'remote' } | { doc: Record<string, unknown> };

/** A conflict a strategy resolved without an admin (its audit record is written). */
export interface ResolutionReport {
  /** Document type (`move`, `partner`, ...). */
  type: string;
  strategy: string;
}

interface DirState {
  running: Promise<CycleReport> | null;
  again: boolean;
  failure: 'offline' | 'auth' | null;
  lastDelay: number;
  cancelTimer: (() => void) | null;
}

/** One document a batch has to reconcile the slow way (both sides looked at). */
interface Item {
  id: string;
  tp: TypeProjection;
  local: LocalDoc | null;
  remote: RemoteDoc | null;
  base: Base | undefined;
}

interface BatchResult {
  docs: number;
  conflicts: number;
}

function live<T extends { _deleted?: boolean }>(doc: T | null | undefined): T | null {
  return doc && !doc._deleted ? doc : null;
}

function revGeneration(rev: string | undefined): number {
  if (!rev) return 0;
  const n = parseInt(rev, 10);
  return Number.isFinite(n) ? n : 0;
}

/** A document body without store metadata, for "is there anything to write" checks. */
function bodyOf(doc: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!doc) return null;
  const { _rev: _r, _conflicts: _c, _revisions: _v, ...rest } = doc;
  return rest;
}

function isPostedMove(c: Content | null | undefined): boolean {
  return !!c && c.type === 'move' && c.state === 'posted';
}

/** The fields of `side` the result does not keep (all of it when the result is a deletion). */
function overwrittenBy(side: Content | null, result: Content | null): unknown {
  if (sameContent(side, result)) return undefined;
  if (side === null) return null;
  if (result === null) return side;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(side)) if (canonicalJson(v) !== canonicalJson(result[k])) out[k] = v;
  return out;
}

/** A pull reads up to this many batches in one `_changes` request (and at most batchBytes): larger reads gained little at 50 ms and cost peak RSS. */
const READ_AHEAD_PAGES = 3;

/**
 * The replication engine (DESIGN.md, Replication: design A). The cloud is the master, the books the
 * fork. Per document the bookkeeping store keeps the last agreed base; a change is real only if its
 * projection differs from the base. Write order everywhere: data, then bases, then checkpoint, so
 * a hard kill at any point replays at most the batches in flight, and a replayed document that
 * both sides already agree on only gets its base patched (RxDB #7804).
 */
export class SyncEngine {
  private readonly local: LocalStore;
  private readonly remote: RemoteStore;
  private readonly bk: Bookkeeping;
  private readonly log: Logger;
  private readonly projection: Projection;
  private readonly strategies = new Map<string, ConflictStrategy>();
  private readonly defaultStrategy: ConflictStrategy;
  private readonly mode: 'live' | 'interval';
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly batchBytes: number;
  private readonly depth: number;
  private readonly backoff: Backoff;
  private readonly authRetryMs: number;
  private readonly longpollMs: number;
  private readonly clock: () => Date;
  private readonly timers: Timers;
  private readonly lock = new KeyedLock();

  private readonly statusSubject: BehaviorSubject<SyncStatus>;
  private readonly cycleSubject = new Subject<CycleReport>();
  private readonly errorSubject = new Subject<BooksyncError>();
  private readonly resolutionSubject = new Subject<ResolutionReport>();
  private readonly dirs: Record<Way, DirState> = {
    push: { running: null, again: false, failure: null, lastDelay: 0, cancelTimer: null },
    pull: { running: null, again: false, failure: null, lastDelay: 0, cancelTimer: null },
  };
  private busy = { push: false, pull: false };
  private started = false;
  private stopping = false;
  private dbReady = false;
  /** The cloud's `update_seq` from its database info (read-ahead.ts uses it when an integer). */
  private cloudUpdateSeq: unknown = null;
  private unwatch: (() => void) | null = null;
  private longpollAbort: AbortController | null = null;
  private pullLoopDone: Promise<void> | null = null;
  private wakePullLoop: (() => void) | null = null;
  private intervalCancel: (() => void) | null = null;
  private lastAuditMs = 0;
  private openConflictIds = new Set<string>();

  constructor(options: SyncEngineOptions) {
    this.local = options.local;
    this.remote = options.remote;
    this.bk = options.bookkeeping;
    this.log = options.logger;
    this.mode = options.mode ?? 'live';
    this.intervalMs = options.intervalMs ?? 900_000;
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.batchBytes = Math.max(1024, options.batchBytes ?? 4 * 1024 * 1024);
    this.depth = Math.max(1, options.pipelineDepth ?? 3);
    const maxMs = options.backoffMaxMs ?? 300_000;
    this.backoff = typeof options.backoff === 'function' ? options.backoff : backoffNamed(options.backoff ?? 'exponential-jitter', { baseMs: options.backoffBaseMs, maxMs });
    this.authRetryMs = options.authRetryMs ?? 900_000;
    this.longpollMs = options.longpollMs ?? 25_000;
    this.clock = options.clock ?? (() => new Date());
    this.timers = options.timers ?? systemTimers;
    const types = options.types ?? {};
    const fallback = options.default ?? { direction: 'none' };
    this.projection = new Projection(types, fallback);
    for (const [type, rule] of Object.entries(types)) {
      this.projection.forType(type); // validates direction and paths now, not on first use
      this.strategies.set(type, strategyNamed(rule.conflict ?? 'remote-wins', rule.tie_breaker));
    }
    this.defaultStrategy = strategyNamed(fallback.conflict ?? 'remote-wins', fallback.tie_breaker);
    this.statusSubject = new BehaviorSubject<SyncStatus>({
      state: 'stopped',
      mode: this.mode,
      last_push_at: null,
      last_pull_at: null,
      pending_push: null,
      pending_pull: null,
      open_conflicts: 0,
      last_error: null,
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
    return this.resolutionSubject.asObservable();
  }

  status(): SyncStatus {
    return this.statusSubject.getValue();
  }

  /** Starts live following or the interval schedule. Resolves once the first cycles are under way. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    await this.loadConflictIds();
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
    this.longpollAbort?.abort();
    this.wakePullLoop?.();
    this.intervalCancel?.();
    for (const d of Object.values(this.dirs)) {
      d.cancelTimer?.();
      d.cancelTimer = null;
    }
    await Promise.allSettled([this.dirs.push.running, this.dirs.pull.running, this.pullLoopDone].filter(Boolean));
    this.started = false;
    this.setState();
    this.complete();
  }

  private complete(): void {
    this.statusSubject.next({ ...this.status(), state: 'stopped' });
    this.statusSubject.complete();
    this.cycleSubject.complete();
    this.errorSubject.complete();
    this.resolutionSubject.complete();
  }

  /**
   * One push cycle then one pull cycle (or only the `directions` given), now, until caught up
   * (joins a cycle already running). Throws what the cycles throw. For tests and `booksync sync now`.
   */
  async syncOnce(directions: readonly Way[] = ['push', 'pull']): Promise<{ push: CycleReport; pull: CycleReport }> {
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
      if (way === 'pull' && waitMs === 0) this.longpollAbort?.abort();
      try {
        await d.running;
      } catch {
        // the other caller reports its own failure
      }
    }
    const run = (async () => {
      const t0 = Date.now();
      if (!this.dbReady) {
        const info = await this.remote.ensureDb();
        this.cloudUpdateSeq = info.updateSeq;
        this.dbReady = true;
        this.setState();
      }
      const r = way === 'push' ? await this.pushCycle() : await this.pullCycle(waitMs);
      const report: CycleReport = { direction: way, docs: r.docs, conflicts: r.conflicts, ms: Date.now() - t0 };
      return report;
    })();
    d.running = run;
    try {
      const report = await run;
      const level = report.docs > 0 || report.conflicts > 0 ? 'info' : 'debug';
      this.log.log(level, `${way}: ${report.docs} document(s) in ${report.ms} ms`, { event: 'sync.cycle', ...report });
      this.patchStatus(way === 'push' ? { last_push_at: this.clock().toISOString() } : { last_pull_at: this.clock().toISOString() });
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
    const e = err instanceof BooksyncError ? err : new SyncUnavailableError(describeError(err).message, { cause: err });
    d.failure = e instanceof SyncAuthError ? 'auth' : 'offline';
    if (!(err instanceof SyncAuthError) && !(err instanceof SyncUnavailableError) && this.status().last_error?.message !== e.message) {
      // Not a network or auth condition (a store failure, a protocol surprise): one error line per distinct failure, not per retry.
      this.log.error(`${way} failed: ${e.message}`, { event: 'sync.error', direction: way, code: describeError(err).code });
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
    const quiet = (prev === 'online' || prev === 'syncing') && (state === 'online' || state === 'syncing');
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

  private patchStatus(patch: Partial<SyncStatus>): void {
    if (this.statusSubject.closed) return;
    const next = { ...this.status(), ...patch };
    if (canonicalJson(next) !== canonicalJson(this.status())) this.statusSubject.next(next);
  }

  private markBusy(way: Way): void {
    if (this.busy[way]) return;
    this.busy[way] = true;
    this.setState();
  }

  // ---- pipeline -------------------------------------------------------------------------------

  /**
   * Reads pages one after another and processes up to `depth` of them at once; checkpoints are
   * written strictly in page order, each after its page's data and bases.
   */
  private async pipeline<C>(
    way: Way,
    read: (since: unknown, first: boolean) => Promise<{ changes: C[]; lastSeq: unknown; more: boolean } | null>,
    process: (changes: C[]) => Promise<BatchResult>,
  ): Promise<BatchResult> {
    const total: BatchResult = { docs: 0, conflicts: 0 };
    let since = await this.bk.checkpoint(way);
    let committed: Promise<void> = Promise.resolve();
    const window: Promise<unknown>[] = [];
    let readError: unknown;
    let first = true;
    try {
      while (!this.stopping || first) {
        const page = await read(since, first);
        first = false;
        if (!page) break;
        const seq = page.lastSeq;
        const moved = canonicalJson(seq) !== canonicalJson(since);
        since = seq;
        if (page.changes.length > 0) this.markBusy(way);
        const work = page.changes.length > 0 ? process(page.changes) : Promise.resolve({ docs: 0, conflicts: 0 });
        work.catch(() => undefined);
        const prev = committed;
        committed = (async () => {
          const r = await work;
          await prev;
          if (moved) await this.bk.setCheckpoint(way, seq);
          total.docs += r.docs;
          total.conflicts += r.conflicts;
        })();
        committed.catch(() => undefined);
        window.push(committed);
        if (window.length >= this.depth) await window.shift();
        if (!page.more) break;
      }
    } catch (err) {
      readError = err;
    }
    await committed;
    if (readError !== undefined) throw readError;
    return total;
  }

  // ---- push -----------------------------------------------------------------------------------

  private async pushCycle(): Promise<BatchResult> {
    const result = await this.pipeline(
      'push',
      async (since) => {
        const page = await this.local.changesSince(since, this.batchSize);
        return { changes: page.changes, lastSeq: page.lastSeq, more: page.more };
      },
      (changes) => this.pushBatch(changes.map((c) => c.doc)),
    );
    await this.updatePendingPush();
    return result;
  }

  private async updatePendingPush(): Promise<void> {
    const [seq, ckpt] = await Promise.all([this.local.updateSeq(), this.bk.checkpoint('push')]);
    const pending = typeof seq === 'number' && typeof ckpt === 'number' ? Math.max(0, seq - ckpt) : typeof seq === 'number' && ckpt === undefined ? seq : null;
    this.patchStatus({ pending_push: pending });
  }

  private async pushBatch(docs: LocalDoc[]): Promise<BatchResult> {
    const wanted = docs.filter((d) => this.projection.forDoc(d, d._id).goes('push'));
    if (wanted.length === 0) return { docs: 0, conflicts: 0 };
    const ids = wanted.map((d) => d._id);
    const release = await this.lock.acquire(ids);
    try {
      const bases = await this.bk.bases(ids);
      const open = await this.openConflictsAmong(ids);
      // `pure`: the body is `compose(shared(doc), null, doc)`, no cloud values carried (see agreedBase).
      const writes: Array<{ doc: LocalDoc; tp: TypeProjection; body: RemoteWrite; pure: boolean }> = [];
      const unknown: LocalDoc[] = [];
      for (const doc of wanted) {
        const base = bases.get(doc._id);
        const tp = this.projection.forDoc(doc, doc._id);
        if (open.has(doc._id)) {
          await this.bk.putConflict({ ...(open.get(doc._id) as OpenConflict), local: live(doc) });
          continue;
        }
        if (base) {
          if (base.localRev === doc._rev) continue;
          // A newer local revision is already agreed (this page was read before it): skip the stale one.
          if (revGeneration(base.localRev) >= revGeneration(doc._rev)) continue;
          if (projectionHash(tp.project(doc, 'push')) === base.pushHash) continue;
          const body = doc._deleted ? { _id: doc._id, _deleted: true } : tp.compose(tp.shared(doc), base.keep ?? null, doc, 'push');
          if (doc._deleted && !base.remoteRev) continue;
          writes.push({ doc, tp, body: { ...body, _id: doc._id, ...(base.remoteRev ? { _rev: base.remoteRev } : {}) } as RemoteWrite, pure: !base.keep });
        } else {
          unknown.push(doc);
        }
      }
      // A document with no base is new to this engine: create it optimistically (no `_rev`). If the
      // cloud has it already (another site, or a replay after a crash) the 409 sends it to the slow path.
      // Caveat: over a cloud tombstone the create succeeds (CouchDB extends the deleted branch).
      const slow: Item[] = [];
      const newBases: Array<[string, Base]> = [];
      for (const doc of unknown) {
        if (doc._deleted) continue;
        const tp = this.projection.forDoc(doc, doc._id);
        writes.push({ doc, tp, body: { ...tp.compose(tp.shared(doc), null, doc, 'push'), _id: doc._id } as RemoteWrite, pure: true });
      }
      let written = 0;
      const rejected: Item[] = [];
      const results = await this.remote.write(
        writes.map((w) => w.body),
        { maxBytes: this.batchBytes },
      );
      results.forEach((res, i) => {
        const w = writes[i];
        if (res.ok) {
          written++;
          const remoteDoc = { ...w.body, _rev: res.rev } as RemoteDoc;
          newBases.push([w.doc._id, this.agreedBase(w.tp, w.doc, remoteDoc, undefined, w.pure ? 'push' : undefined)]);
        } else if (res.conflict) {
          rejected.push({ id: w.doc._id, tp: w.tp, local: w.doc, remote: null, base: bases.get(w.doc._id) });
        } else {
          this.log.warn(`cloud refused ${w.doc._id}: ${res.error} ${res.reason}`, { event: 'sync.reject', direction: 'push', doc_id: w.doc._id, error: res.error });
        }
      });
      // 409: the cloud moved since the base. Read it once for all of them and reconcile.
      if (rejected.length > 0) {
        const current = await this.remote.current(rejected.map((r) => r.id));
        for (const r of rejected) {
          const cur = current.get(r.id);
          r.remote = cur && cur.exists ? (cur.doc ?? ({ _id: r.id, _rev: cur.rev, _deleted: cur.deleted } as RemoteDoc)) : null;
          slow.push(r);
        }
      }
      await this.bk.putBases(newBases);
      const resolved = await this.reconcile(slow, 'push');
      return { docs: written + resolved.docs, conflicts: resolved.conflicts };
    } finally {
      release();
    }
  }

  /**
   * Base after both sides were seen to agree (or were just made to agree on `agreed`). Without
   * exclusions every projection of agreeing documents is the same content, so one hash serves all.
   * `composed`: which side's document was just composed from the other's shared content and
   * nothing else (`compose(shared(x), null, x)`, no target): its shared content is that of the
   * other side, so it need not be stripped and hashed again (property-tested in sync-projection).
   */
  private agreedBase(tp: TypeProjection, localDoc: LocalDoc | Record<string, unknown> | null, remoteDoc: RemoteDoc | null, agreed?: Content | null, composed?: Way): Base {
    const l = localDoc as LocalDoc | null;
    const lLive = live(l);
    const rLive = live(remoteDoc);
    // Without exclusions, agreeing live documents have one content: hash it once (memoised on the
    // projection object the batch already computed).
    const shared = agreed !== undefined ? agreed : lLive ? tp.shared(lLive) : null;
    const sharedHash = projectionHash(shared);
    const oneContent = !tp.hasExclusions && shared !== null && !!lLive && !!rLive;
    // After a compose both sides have the shared content `shared`: a side whose projection is the
    // shared content then has its hash too.
    const localIsShared = oneContent || (composed !== undefined && shared !== null && !!lLive && tp.projectsToShared('push'));
    const remoteIsShared = oneContent || (composed !== undefined && shared !== null && !!rLive && tp.projectsToShared('pull'));
    const pushHash = !tp.goes('push') || !l ? '' : localIsShared ? sharedHash : projectionHash(tp.project(l, 'push'));
    const pullHash = !tp.goes('pull') || !remoteDoc ? '' : remoteIsShared ? sharedHash : projectionHash(tp.project(remoteDoc, 'pull'));
    const keep = tp.remoteKeep(live(remoteDoc));
    return {
      remoteRev: remoteDoc?._rev ?? '',
      localRev: l?._rev ?? '',
      pushHash,
      pullHash,
      sharedHash,
      ...(isPostedMove(shared) ? { posted: true } : {}),
      ...(this.keepsBaseContent(tp.type) ? { shared } : {}),
      ...(keep ? { keep } : {}),
    };
  }

  /** Only `merge` reads the base content (three-way); other strategies get by with its hash. */
  private keepsBaseContent(type: string): boolean {
    return this.strategyFor(type).name === 'merge';
  }

  // ---- pull -----------------------------------------------------------------------------------

  /** Reads through a ChangesReadAhead (one round trip per large read, not per page); see read-ahead.ts. */
  private async pullCycle(waitMs: number): Promise<BatchResult> {
    const reader = new ChangesReadAhead(this.remote, {
      pageSize: this.batchSize,
      maxRead: this.batchSize * READ_AHEAD_PAGES,
      maxReadBytes: this.batchBytes,
      cloudUpdateSeq: this.cloudUpdateSeq,
    });
    try {
      return await this.pipeline(
        'pull',
        async (since, first) => {
          const wait = first && waitMs > 0 && !this.stopping ? waitMs : 0;
          let signal: AbortSignal | undefined;
          if (wait > 0) {
            this.longpollAbort = new AbortController();
            signal = this.longpollAbort.signal;
          }
          try {
            const page = await reader.next(since, wait, signal);
            this.patchStatus({ pending_pull: page.pending });
            return page;
          } catch (err) {
            if (signal?.aborted) return null; // cut short by stop() or syncOnce(): not a failure
            throw err;
          } finally {
            if (wait > 0) this.longpollAbort = null;
          }
        },
        (changes) => this.pullBatch(changes),
      );
    } finally {
      reader.close();
    }
  }

  private async pullBatch(changes: RemoteChange[]): Promise<BatchResult> {
    const wanted = changes.filter((c) => this.projection.forDoc(live(c.doc), c.id).goes('pull'));
    if (wanted.length === 0) return { docs: 0, conflicts: 0 };
    const ids = [...new Set(wanted.map((c) => c.id))];
    const release = await this.lock.acquire(ids);
    try {
      const bases = await this.bk.bases(ids);
      const open = await this.openConflictsAmong(ids);
      let docs = 0;
      let conflicts = 0;
      const remoteDocs = new Map<string, RemoteDoc>();
      for (const c of wanted) remoteDocs.set(c.id, c.doc);
      // Cloud-side conflicts made by other writers: settle the leaves first.
      const leafy = [...remoteDocs.values()].filter((d) => (d._conflicts?.length ?? 0) > 0 && !open.has(d._id));
      if (leafy.length > 0) {
        const settled = await this.settleCloudLeaves(leafy, bases);
        conflicts += settled.conflicts;
        docs += settled.docs;
        for (const [id, doc] of settled.docsById) {
          if (doc) remoteDocs.set(id, doc);
          else remoteDocs.delete(id);
        }
      }
      const needLocal: Array<{ r: RemoteDoc; tp: TypeProjection; base: Base | undefined }> = [];
      const newBases: Array<[string, Base]> = [];
      for (const r of remoteDocs.values()) {
        const tp = this.projection.forDoc(live(r), r._id);
        const base = bases.get(r._id);
        if (open.has(r._id)) {
          await this.bk.putConflict({ ...(open.get(r._id) as OpenConflict), remote: live(r) });
          continue;
        }
        if (base) {
          if (base.remoteRev === r._rev) continue;
          if (base.remoteRev && revGeneration(base.remoteRev) > revGeneration(r._rev)) continue; // stale page
          if (projectionHash(tp.project(r, 'pull')) === base.pullHash) {
            newBases.push([r._id, { ...base, remoteRev: r._rev, ...(tp.remoteKeep(live(r)) ? { keep: tp.remoteKeep(live(r)) } : {}) }]);
            continue;
          }
        }
        needLocal.push({ r, tp, base });
      }
      // Fast path, no read of the books: a document new to this engine is created without `_rev`;
      // one whose books copy is still the agreed revision is written over `base.localRev`. A 409
      // (the books have it, or moved) sends it to the careful path below. Updates of types with
      // exclusions need the books' own excluded values, and posted moves need the stored doc for
      // the ledger check, so those take the careful path.
      const careful: typeof needLocal = [];
      const fast: Array<{ write: LocalWrite; r: RemoteDoc; tp: TypeProjection; base: Base | undefined }> = [];
      for (const n of needLocal) {
        const { r, tp, base } = n;
        const rShared = live(r) ? tp.shared(r) : null;
        if (rShared === null || (base && (tp.hasExclusions || base.posted || !base.localRev))) careful.push(n);
        else fast.push({ write: { doc: tp.compose(rShared, null, r, 'pull') as LocalWrite['doc'], current: base ? ({ _id: r._id, _rev: base.localRev } as LocalDoc) : null }, r, tp, base });
      }
      if (fast.length > 0) {
        const results = await this.local.write(fast.map((w) => w.write));
        for (let i = 0; i < results.length; i++) {
          const res = results[i];
          const w = fast[i];
          if (res.ok) {
            docs++;
            newBases.push([w.r._id, this.agreedBase(w.tp, { ...w.write.doc, _rev: res.rev }, w.r, w.tp.shared(w.r), 'pull')]);
          } else if (res.conflict) careful.push({ r: w.r, tp: w.tp, base: w.base });
          else {
            conflicts++;
            await this.recordConflict({ id: w.r._id, tp: w.tp, local: null, remote: w.r, base: w.base }, res.code);
          }
        }
      }
      const current = await this.local.current(careful.map((n) => n.r._id));
      const writes: Array<{ write: LocalWrite; r: RemoteDoc; tp: TypeProjection }> = [];
      const slow: Item[] = [];
      for (const { r, tp, base } of careful) {
        const l = current.get(r._id) ?? null;
        const lShared = live(l) ? tp.shared(l as LocalDoc) : null;
        const rShared = live(r) ? tp.shared(r) : null;
        const localUnchanged = base ? (l?._rev === base.localRev && !!base.localRev) || projectionHash(lShared) === base.sharedHash : l === null || (l._deleted === true && rShared === null);
        if (sameContent(lShared, rShared)) {
          newBases.push([r._id, this.agreedBase(tp, l, r)]);
          continue;
        }
        if (!localUnchanged) {
          slow.push({ id: r._id, tp, local: l, remote: r, base });
          continue;
        }
        if (rShared === null) {
          if (!live(l)) {
            newBases.push([r._id, this.agreedBase(tp, l, r)]);
            continue;
          }
          writes.push({ write: { doc: { _id: r._id, _deleted: true }, current: l }, r, tp });
        } else {
          writes.push({ write: { doc: tp.compose(rShared, live(l), r, 'pull') as LocalWrite['doc'], current: l }, r, tp });
        }
      }
      if (writes.length > 0) {
        const results = await this.local.write(writes.map((w) => w.write));
        for (let i = 0; i < results.length; i++) {
          const res = results[i];
          const w = writes[i];
          if (res.ok) {
            docs++;
            newBases.push([w.r._id, this.agreedBase(w.tp, { ...w.write.doc, _rev: res.rev }, w.r)]);
          } else if (!res.conflict) {
            // The ledger refused it (an edit to a posted move, an unbalanced move): an admin decides.
            conflicts++;
            await this.recordConflict({ id: w.r._id, tp: w.tp, local: w.write.current, remote: w.r, base: bases.get(w.r._id) }, res.code);
          }
          // res.conflict: the books moved meanwhile; the next push sees both changes and reconciles.
        }
      }
      await this.bk.putBases(newBases);
      const resolved = await this.reconcile(slow, 'pull');
      return { docs: docs + resolved.docs, conflicts: conflicts + resolved.conflicts };
    } finally {
      release();
    }
  }

  /**
   * Settles cloud documents that have conflict leaves: the CouchDB recipe (read the leaves, merge
   * with the type's strategy, then one `_bulk_docs` that updates the winner and deletes the
   * losers). `local-wins` / `remote-wins` keep CouchDB's winner (no leaf is the books').
   * @link https://docs.couchdb.org/en/stable/replication/conflicts.html
   */
  private async settleCloudLeaves(docs: RemoteDoc[], bases: Map<string, Base>): Promise<{ docs: number; conflicts: number; docsById: Map<string, RemoteDoc | null> }> {
    const refs = docs.flatMap((d) => (d._conflicts ?? []).map((rev) => ({ id: d._id, rev })));
    const leaves = await this.remote.revisions(refs);
    const byId = new Map<string, RemoteDoc[]>();
    for (const leaf of leaves) byId.set(leaf._id, [...(byId.get(leaf._id) ?? []), leaf]);
    const out = new Map<string, RemoteDoc | null>();
    const writes: RemoteWrite[] = [];
    const plans: Array<{ winner: RemoteDoc; body: RemoteWrite | null; at: number; audits: Record<string, unknown>[] }> = [];
    let conflicts = 0;
    for (const winner of docs) {
      const tp = this.projection.forDoc(winner, winner._id);
      const losers = byId.get(winner._id) ?? [];
      const base = bases.get(winner._id);
      let strategy = this.strategyFor(tp.type);
      if (strategy.name === 'local-wins' || strategy.name === 'remote-wins') strategy = remoteWins;
      let acc: Content | null = tp.shared(winner);
      const audits: Record<string, unknown>[] = [];
      let manual = false;
      for (const loser of losers) {
        const loserShared = live(loser) ? tp.shared(loser) : null;
        if (strategy.isEqual(loserShared, acc)) continue;
        conflicts++;
        const res: Resolution = isPostedMove(acc) || isPostedMove(loserShared) ? { kind: 'manual' } : strategy.resolve({ id: winner._id, local: loserShared, remote: acc, base: base?.shared ?? null });
        if (res.kind === 'manual') {
          manual = true;
          break;
        }
        audits.push(this.auditBody(winner._id, strategy.name, loserShared, acc, base?.shared ?? null, res.result, res.taken === 'local' ? 'local' : res.taken === 'remote' ? 'remote' : 'merged', { scope: 'cloud', leaf_rev: loser._rev }));
        acc = res.result;
      }
      if (manual) {
        await this.recordConflict({ id: winner._id, tp, local: null, remote: winner, base }, isPostedMove(tp.shared(winner)) ? 'posted_move' : 'manual', losers.map((l) => l._rev));
        out.set(winner._id, null);
        continue;
      }
      const body: RemoteWrite | null = sameContent(acc, tp.shared(winner))
        ? null
        : acc === null
          ? { _id: winner._id, _rev: winner._rev, _deleted: true }
          : ({ ...tp.compose(acc, winner, winner, 'push'), _id: winner._id, _rev: winner._rev } as RemoteWrite);
      const at = writes.length;
      if (body) writes.push(body);
      for (const loser of losers) writes.push({ _id: loser._id, _rev: loser._rev, _deleted: true });
      plans.push({ winner, body, at, audits });
    }
    const results = writes.length > 0 ? await this.remote.write(writes, { maxBytes: this.batchBytes }) : [];
    const revOf = new Map<string, string>();
    for (const p of plans) {
      const r = results[p.at];
      if (p.body && r?.ok) revOf.set(p.winner._id, r.rev);
    }
    const failed = new Set(results.filter((r) => !r.ok).map((r) => r.id));
    const auditDocs: LocalWrite[] = [];
    const resolved: ResolutionReport[] = [];
    for (const p of plans) {
      if (failed.has(p.winner._id)) {
        out.set(p.winner._id, null); // moved meanwhile: a later change brings it back
        continue;
      }
      const { _conflicts: _ignored, ...rest } = p.winner;
      out.set(p.winner._id, p.body ? ({ ...p.body, _rev: revOf.get(p.winner._id) ?? p.winner._rev } as RemoteDoc) : (rest as RemoteDoc));
      for (const a of p.audits) {
        auditDocs.push({ doc: a as LocalWrite['doc'], current: null });
        resolved.push({ type: this.projection.forDoc(p.winner, p.winner._id).type, strategy: String(a.strategy) });
      }
    }
    if (auditDocs.length > 0) await this.writeAudits(auditDocs);
    for (const r of resolved) this.resolutionSubject.next(r);
    return { docs: plans.filter((p) => p.body).length, conflicts, docsById: out };
  }

  // ---- conflicts ------------------------------------------------------------------------------

  private strategyFor(type: string): ConflictStrategy {
    return this.strategies.get(type) ?? this.defaultStrategy;
  }

  /**
   * The slow path of both directions: each item has the current local and cloud documents and the
   * base. Equal content → only the base is patched. Otherwise the type's strategy decides (posted
   * moves always go to manual); the result is written to each side that differs, with an audit
   * record of what was overwritten, then the base.
   */
  private async reconcile(items: Item[], way: Way): Promise<BatchResult> {
    if (items.length === 0) return { docs: 0, conflicts: 0 };
    // Items from a push carry no current local read; the page's doc is current enough (its rev is checked on write).
    const newBases: Array<[string, Base]> = [];
    const plans: Array<{ item: Item; result: Content | null; localWrite: LocalWrite | null; remoteWrite: RemoteWrite | null; audit: Record<string, unknown> | null }> = [];
    let conflicts = 0;
    for (const item of items) {
      const { tp, local: l, remote: r } = item;
      const lShared = live(l) ? tp.shared(l as LocalDoc) : null;
      const rShared = live(r) ? tp.shared(r as RemoteDoc) : null;
      const strategy = this.strategyFor(tp.type);
      if (strategy.isEqual(lShared, rShared)) {
        newBases.push([item.id, this.agreedBase(tp, l, r)]);
        continue;
      }
      conflicts++;
      const baseShared = item.base?.shared ?? null;
      const posted = isPostedMove(lShared) || isPostedMove(rShared) || isPostedMove(baseShared);
      const res = posted ? ({ kind: 'manual' } as const) : strategy.resolve({ id: item.id, local: lShared, remote: rShared, base: baseShared });
      if (res.kind === 'manual') {
        await this.recordConflict(item, posted ? 'posted_move' : 'manual');
        continue;
      }
      const result = res.result;
      const localWrite: LocalWrite | null =
        tp.goes('pull') && !sameContent(lShared, result) && !(result === null && !live(l))
          ? { doc: result === null ? { _id: item.id, _deleted: true } : (tp.compose(result, live(l), live(r), 'pull') as LocalWrite['doc']), current: l }
          : null;
      const remoteWrite: RemoteWrite | null =
        tp.goes('push') && !sameContent(rShared, result) && !(result === null && !live(r))
          ? result === null
            ? { _id: item.id, _rev: (r as RemoteDoc)._rev, _deleted: true }
            : ({ ...tp.compose(result, live(r), live(l), 'push'), _id: item.id, ...(live(r) ? { _rev: (r as RemoteDoc)._rev } : {}) } as RemoteWrite)
          : null;
      const audit = this.auditBody(item.id, strategy.name, lShared, rShared, baseShared, result, res.taken);
      plans.push({ item, result, localWrite, remoteWrite, audit });
      this.log.info(`conflict on ${item.id} resolved by ${strategy.name} (took ${res.taken})`, { event: 'sync.conflict', doc_id: item.id, strategy: strategy.name, taken: res.taken, direction: way });
    }
    const remotePlans = plans.filter((p) => p.remoteWrite);
    const remoteRevs = new Map<string, string>();
    const failed = new Set<string>();
    if (remotePlans.length > 0) {
      const results = await this.remote.write(remotePlans.map((p) => p.remoteWrite as RemoteWrite), { maxBytes: this.batchBytes });
      results.forEach((res, i) => {
        if (res.ok) remoteRevs.set(remotePlans[i].item.id, res.rev);
        else failed.add(remotePlans[i].item.id); // moved again: the next pull brings it back here
      });
    }
    const localPlans = plans.filter((p) => p.localWrite && !failed.has(p.item.id));
    const localRevs = new Map<string, string>();
    if (localPlans.length > 0) {
      const results = await this.local.write(localPlans.map((p) => p.localWrite as LocalWrite));
      for (let i = 0; i < results.length; i++) {
        const res = results[i];
        const p = localPlans[i];
        if (res.ok) localRevs.set(p.item.id, res.rev);
        else {
          failed.add(p.item.id);
          if (!res.conflict) await this.recordConflict(p.item, res.code);
        }
      }
    }
    const audits: LocalWrite[] = [];
    const resolved: ResolutionReport[] = [];
    let docs = 0;
    for (const p of plans) {
      if (failed.has(p.item.id)) continue;
      const localDoc = p.localWrite ? ({ ...p.localWrite.doc, _rev: localRevs.get(p.item.id) } as LocalDoc) : p.item.local;
      const remoteDoc = p.remoteWrite ? ({ ...p.remoteWrite, _rev: remoteRevs.get(p.item.id) } as RemoteDoc) : p.item.remote;
      docs += (p.localWrite ? 1 : 0) + (p.remoteWrite ? 1 : 0);
      newBases.push([p.item.id, this.agreedBase(p.item.tp, localDoc, remoteDoc, p.result)]);
      if (p.audit) {
        audits.push({ doc: p.audit as LocalWrite['doc'], current: null });
        resolved.push({ type: p.item.tp.type, strategy: String(p.audit.strategy) });
      }
    }
    if (audits.length > 0) await this.writeAudits(audits);
    await this.bk.putBases(newBases);
    for (const r of resolved) this.resolutionSubject.next(r);
    return { docs, conflicts };
  }

  private auditBody(docId: string, strategy: string, local: Content | null, remote: Content | null, base: Content | null, result: Content | null, taken: 'local' | 'remote' | 'merged', extra: Record<string, unknown> = {}): Record<string, unknown> {
    let ms = this.clock().getTime();
    if (ms <= this.lastAuditMs) ms = this.lastAuditMs + 1;
    this.lastAuditMs = ms;
    const at = new Date(ms).toISOString();
    const overwritten: Record<string, unknown> = {};
    const ol = overwrittenBy(local, result);
    const or = overwrittenBy(remote, result);
    if (ol !== undefined) overwritten.local = ol;
    if (or !== undefined) overwritten.remote = or;
    return {
      _id: auditId(at, docId),
      type: 'audit',
      doc_id: docId,
      strategy,
      resolved_at: at,
      created_at: at,
      updated_at: at,
      taken,
      local,
      remote,
      base,
      result,
      overwritten,
      ...extra,
    };
  }

  private async writeAudits(writes: LocalWrite[]): Promise<void> {
    const results = await this.local.write(writes);
    results.forEach((r) => {
      if (!r.ok) this.log.error(`cannot write audit record ${r.id}`, { event: 'sync.error', doc_id: r.id, code: r.conflict ? 'STORE_CONFLICT' : r.code });
    });
  }

  private async recordConflict(item: Item, reason: string, leaves?: string[]): Promise<void> {
    const existing = await this.bk.conflict(item.id);
    const c: OpenConflict = {
      doc_id: item.id,
      type: item.tp.type,
      reason,
      detected_at: existing?.detected_at ?? this.clock().toISOString(),
      local: live(item.local) ? { ...(item.local as LocalDoc) } : null,
      remote: live(item.remote) ? { ...(item.remote as RemoteDoc) } : null,
      base: item.base?.shared ?? null,
      ...(leaves && leaves.length > 0 ? { remote_leaves: leaves } : {}),
    };
    await this.bk.putConflict(c);
    this.openConflictIds.add(item.id);
    this.patchStatus({ open_conflicts: this.openConflictIds.size });
    this.log.warn(`conflict on ${item.id} needs an admin (${reason})`, { event: 'sync.conflict', doc_id: item.id, strategy: 'manual', reason });
  }

  private async openConflictsAmong(ids: readonly string[]): Promise<Map<string, OpenConflict>> {
    if (this.openConflictIds.size === 0) return new Map();
    return this.bk.conflictsAmong(ids.filter((id) => this.openConflictIds.has(id)));
  }

  private async loadConflictIds(): Promise<void> {
    this.openConflictIds = new Set((await this.bk.conflicts()).map((c) => c.doc_id));
    this.patchStatus({ open_conflicts: this.openConflictIds.size });
  }

  /** Open conflicts (for `booksync conflicts`), by document id. */
  async listConflicts(): Promise<OpenConflict[]> {
    const all = await this.bk.conflicts();
    this.openConflictIds = new Set(all.map((c) => c.doc_id));
    return all;
  }

  /** Audit records of resolutions (for `booksync conflicts --resolved`), oldest first. */
  async listResolved(): Promise<AuditRecord[]> {
    const page = await this.allAudits();
    return page;
  }

  private async allAudits(): Promise<AuditRecord[]> {
    return (await this.local.withPrefix('audit:')) as unknown as AuditRecord[];
  }

  /**
   * Resolves an open conflict: take the books' version, the cloud's, or an edited document. Both
   * sides get the result (excluded fields keep each side's own values), cloud conflict leaves are
   * deleted, an audit record is written and the base moves on. A posted move may be replaced only
   * here (an explicit admin override, logged).
   */
  async resolveConflict(id: string, choice: ConflictChoice): Promise<AuditRecord> {
    const c = await this.bk.conflict(id);
    if (!c) throw new SyncConflictError(`no open conflict for ${id}`, { details: { doc_id: id } });
    const tp = this.projection.forType(c.type);
    const release = await this.lock.acquire([id]);
    try {
      const [localMap, remoteMap] = await Promise.all([this.local.current([id]), this.remote.current([id])]);
      const l = localMap.get(id) ?? null;
      const cur = remoteMap.get(id);
      const r = cur && cur.exists ? (cur.doc ?? ({ _id: id, _rev: cur.rev, _deleted: cur.deleted } as RemoteDoc)) : null;
      const lShared = live(l) ? tp.shared(l as LocalDoc) : null;
      const rShared = live(r) ? tp.shared(r as RemoteDoc) : null;
      let result: Content | null;
      let source: Record<string, unknown> | null;
      let taken: 'local' | 'remote' | 'merged';
      if ('take' in choice) {
        taken = choice.take;
        result = choice.take === 'local' ? lShared : rShared;
        source = choice.take === 'local' ? live(l) : live(r);
      } else {
        if (!choice.doc || typeof choice.doc !== 'object' || (choice.doc._id !== undefined && choice.doc._id !== id)) {
          throw new SyncConflictError(`the resolved document must be an object with _id ${id}`, { details: { doc_id: id } });
        }
        const doc: Record<string, unknown> & { _id: string } = { ...choice.doc, _id: id };
        result = doc._deleted ? null : tp.shared(doc);
        source = doc._deleted ? null : doc;
        taken = 'merged';
      }
      // A one-way type is written only on the side it goes to: resolving a pull-only conflict with
      // `take: local` keeps the books and moves the base past this cloud version, nothing more.
      const toCloud = tp.goes('push');
      const toBooks = tp.goes('pull') || !toCloud;
      const leaves = toCloud ? (r?._conflicts ?? c.remote_leaves ?? []).filter((rev) => rev !== r?._rev) : [];
      const remoteWrites: RemoteWrite[] = [];
      if (toCloud && !sameContent(rShared, result) && !(result === null && !live(r))) {
        remoteWrites.push(
          result === null
            ? { _id: id, _rev: (r as RemoteDoc)._rev, _deleted: true }
            : ({ ...tp.compose(result, live(r), source, 'push'), _id: id, ...(live(r) ? { _rev: (r as RemoteDoc)._rev } : {}) } as RemoteWrite),
        );
      }
      for (const rev of leaves) remoteWrites.push({ _id: id, _rev: rev, _deleted: true });
      const wroteBody = remoteWrites.length > leaves.length;
      let remoteRev = r?._rev;
      if (remoteWrites.length > 0) {
        const results = await this.remote.write(remoteWrites);
        const bad = results.find((x) => !x.ok);
        if (bad) throw new SyncConflictError(`the cloud copy of ${id} changed while resolving; list the conflicts again and retry`, { details: { doc_id: id } });
        if (wroteBody) remoteRev = (results[0] as { rev: string }).rev;
      }
      let localRev = l?._rev;
      const localBody: Record<string, unknown> =
        'doc' in choice && source ? { ...source } : result === null ? { _id: id, _deleted: true } : tp.compose(result, live(l), live(r) ?? source, 'pull');
      delete localBody._rev;
      if (toBooks && canonicalJson(bodyOf(live(l))) !== canonicalJson(bodyOf(result === null ? null : localBody))) {
        if (!(result === null && !live(l))) {
          const [res] = await this.local.write([{ doc: localBody as LocalWrite['doc'], current: l, override: { reason: `sync conflict on ${id} resolved by an admin` } }]);
          if (!res.ok) {
            throw new SyncConflictError(
              res.conflict ? `the local copy of ${id} changed while resolving; retry` : `the books refused the resolution of ${id}: ${res.message}`,
              { details: { doc_id: id, ...(res.conflict ? {} : { code: res.code }) } },
            );
          }
          localRev = res.rev;
          this.log.warn(`override: admin resolution written over ${id}`, { event: 'ledger.override', doc_id: id, reason: 'sync conflict resolved by an admin' });
        }
      }
      const audit = this.auditBody(id, 'manual', lShared, rShared, c.base, result, taken, { reason: c.reason });
      await this.writeAudits([{ doc: audit as LocalWrite['doc'], current: null }]);
      const localAfter = result === null ? (l ? { _id: id, _rev: localRev, _deleted: true } : null) : { ...(localBody as Record<string, unknown>), _rev: localRev };
      const remoteAfter = !toCloud
        ? r
        : result === null
          ? r
            ? ({ _id: id, _rev: remoteRev, _deleted: true } as RemoteDoc)
            : null
          : ({ ...tp.compose(result, live(r), source, 'push'), _id: id, _rev: remoteRev } as RemoteDoc);
      const booksAfter = toBooks ? localAfter : l;
      await this.bk.putBases([[id, this.agreedBase(tp, booksAfter as LocalDoc | null, remoteAfter, toBooks ? result : live(l) ? tp.shared(l as LocalDoc) : null)]]);
      await this.bk.deleteConflict(id);
      this.openConflictIds.delete(id);
      this.patchStatus({ open_conflicts: this.openConflictIds.size });
      this.log.info(`conflict on ${id} resolved by an admin (took ${taken})`, { event: 'sync.conflict', doc_id: id, strategy: 'manual', taken });
      return audit as unknown as AuditRecord;
    } finally {
      release();
    }
  }
}

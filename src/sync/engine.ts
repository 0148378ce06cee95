import type { Observable } from 'rxjs';
import type { BooksyncError } from '../shared/errors';
import type { OpenConflict } from './bookkeeping';
import { strategyNamed, type ConflictStrategy } from './conflicts';
import { ConflictAdmin } from './conflict-admin';
import { Projection, type Way } from './projection';
import { rulesSnapshot } from './rules';
import type { ResolutionReport } from './reconcile';
import { SyncRunner } from './runner';
import type {
  AuditRecord,
  ConflictChoice,
  CycleReport,
  SyncEngineOptions,
  SyncStatus,
} from './types';

export * from './types';
export type { ResolutionReport } from './reconcile';

/**
 * The replication engine. The cloud is the master, the books the fork. Per document the
 * bookkeeping store keeps the last agreed base; a change is real only if its projection differs
 * from the base. Write order everywhere: data, then bases, then checkpoint, so
 * a hard kill at any point replays at most the batches in flight, and a replayed document that
 * both sides already agree on only gets its base patched (RxDB #7804).
 *
 * This class is the facade: runner.ts (lifecycle, loops, state), push.ts, pull.ts, pipeline.ts,
 * cloud-leaves.ts, reconcile.ts (slow path, audit), conflict-admin.ts, identity.ts and rewalk.ts
 * (which cloud this is, and re-walking both sides when it changed).
 */
export class SyncEngine {
  private readonly runner: SyncRunner;
  private readonly admin: ConflictAdmin;

  constructor(options: SyncEngineOptions) {
    const types = options.types ?? {};
    const fallback = options.default ?? { direction: 'none' };
    const projection = new Projection(types, fallback);
    const strategies = new Map<string, ConflictStrategy>();
    for (const [type, rule] of Object.entries(types)) {
      projection.forType(type); // validates direction and paths now, not on first use
      strategies.set(type, strategyNamed(rule.conflict ?? 'remote-wins', rule.tie_breaker));
    }
    const defaultStrategy = strategyNamed(fallback.conflict ?? 'remote-wins', fallback.tie_breaker);
    this.runner = new SyncRunner(
      options,
      projection,
      (type) => strategies.get(type) ?? defaultStrategy,
      rulesSnapshot(types, fallback),
    );
    this.admin = new ConflictAdmin(this.runner.ctx, this.runner.rec);
  }

  /** Status changes (a BehaviorSubject: subscribers get the current value first). */
  get status$(): Observable<SyncStatus> {
    return this.runner.status$;
  }

  /** Every finished cycle, per direction. */
  get cycle$(): Observable<CycleReport> {
    return this.runner.cycle$;
  }

  /** Every failed cycle (the engine retries by itself; this is for observers). */
  get error$(): Observable<BooksyncError> {
    return this.runner.error$;
  }

  /** Every automatic conflict resolution, once its result and audit record are written. */
  get resolution$(): Observable<ResolutionReport> {
    return this.runner.resolution$;
  }

  status(): SyncStatus {
    return this.runner.status();
  }

  /** Starts live following or the interval schedule. Resolves once the first cycles are under way. */
  start(): Promise<void> {
    return this.runner.start();
  }

  /**
   * Stops following, lets the batches in flight finish (data, bases, checkpoint), closes the
   * feeds and completes the observables. Does not close the stores (the daemon owns them).
   */
  stop(): Promise<void> {
    return this.runner.stop();
  }

  /**
   * One push cycle then one pull cycle (or only the `directions` given), now, until caught up
   * (joins a cycle already running). Throws what the cycles throw. For tests and `booksync sync now`.
   */
  syncOnce(
    directions: readonly Way[] = ['push', 'pull'],
  ): Promise<{ push: CycleReport; pull: CycleReport }> {
    return this.runner.syncOnce(directions);
  }

  /** Removes fields newly excluded from push from the cloud copies that still hold them (`status().excluded_in_cloud`). */
  stripExcluded(): Promise<{ docs: number }> {
    return this.runner.stripExcluded();
  }

  /** Id of this site's identity marker on the cloud (`_local/<id>`), for backups and tests. */
  cloudMarkerId(): Promise<string> {
    return this.runner.cloudMarkerId();
  }

  /** Open conflicts (for `booksync conflicts`), by document id. */
  listConflicts(): Promise<OpenConflict[]> {
    return this.admin.listConflicts();
  }

  /** Audit records of resolutions (for `booksync conflicts --resolved`), oldest first. */
  listResolved(): Promise<AuditRecord[]> {
    return this.admin.listResolved();
  }

  /** Resolves an open conflict (see ConflictAdmin.resolveConflict). */
  resolveConflict(id: string, choice: ConflictChoice): Promise<AuditRecord> {
    return this.admin.resolveConflict(id, choice);
  }
}

import { sameContent } from '../shared/canonical-json';
import type { Base } from './bookkeeping';
import type { SyncContext } from './context';
import { live, revGeneration, revOver } from './doc-helpers';
import type { LocalDoc, LocalWrite } from './local-store';
import { runPipeline } from './pipeline';
import { TypeProjection, type Content } from './projection';
import type { Reconciler } from './reconcile';
import type { RemoteDoc, RemoteWrite } from './remote-store';
import type { BatchResult, Item, RewalkProgress } from './types';

/** A re-walk as stored in the bookkeeping (it survives a restart and resumes where it stood). */
export interface RewalkPlan {
  reason: string;
  /** The cloud is new, replaced or restored: every type is walked and the pull starts from the cloud's beginning. */
  cloudReset: boolean;
  /** Types walked (null = all that replicate). */
  types: string[] | null;
  /** Types whose exclusions changed: fields only one side has are kept, never dropped (see `decide`). */
  reproject: string[];
  /** Per type: newly push-excluded fields to count in the cloud copies. */
  countExcluded: Record<string, string[]>;
  /** Types that gain pull (or pull fields): the pull reads the cloud's feed again from its beginning. */
  pullFromStart?: boolean;
}

/** What to do with one document the books hold, given what the cloud holds. */
type Decision =
  | { kind: 'agree' }
  | { kind: 'skip' }
  | { kind: 'write'; result: Content | null; toCloud: boolean; toBooks: boolean }
  | { kind: 'reconcile' };

/**
 * Compares every document of the books (of the types walked) with the cloud's current copy
 * (`_all_docs` by keys) and brings the two in line (identity.ts decides when). A document the
 * cloud does not hold is pushed again, never taken as deleted: only a cloud tombstone is a
 * deletion. A cloud copy older than the agreed one (a restore) is overwritten by the books'.
 * The place is kept in the `rewalk` checkpoint, so a killed re-walk resumes.
 */
export class Rewalker {
  readonly progress: RewalkProgress;
  /** Per type: cloud copies that still hold a newly push-excluded field. */
  readonly excludedHeld = new Map<string, number>();

  constructor(
    private readonly ctx: SyncContext,
    private readonly rec: Reconciler,
    private readonly plan: RewalkPlan,
  ) {
    this.progress = {
      reason: plan.reason,
      types: plan.types,
      checked: 0,
      books_docs: null,
      pushed: 0,
      pulled: 0,
    };
  }

  async run(): Promise<BatchResult> {
    this.progress.books_docs = await this.ctx.local.docCount();
    this.report();
    return runPipeline(
      this.ctx,
      'push',
      async (since) => {
        const page = await this.ctx.local.changesSince(since, this.ctx.batchSize);
        return { changes: page.changes.map((c) => c.doc), lastSeq: page.lastSeq, more: page.more };
      },
      (docs) => this.batch(docs),
      'rewalk',
    );
  }

  private report(): void {
    this.ctx.patchStatus({ rewalk: { ...this.progress } });
  }

  private walked(doc: LocalDoc): TypeProjection | null {
    const tp = this.ctx.projection.forDoc(live(doc), doc._id);
    if (tp.direction === 'none') return null;
    if (this.plan.types && !this.plan.types.includes(tp.type)) return null;
    return tp;
  }

  private async batch(docs: LocalDoc[]): Promise<BatchResult> {
    const wanted = docs
      .map((d) => ({ doc: d, tp: this.walked(d) }))
      .filter((w): w is { doc: LocalDoc; tp: TypeProjection } => w.tp !== null);
    this.progress.checked += docs.filter((d) => !d._deleted).length;
    if (wanted.length === 0) {
      this.report();
      return { docs: 0, conflicts: 0 };
    }
    const ids = wanted.map((w) => w.doc._id);
    const release = await this.ctx.lock.acquire(ids);
    try {
      const [bases, cloud, books] = await Promise.all([
        this.ctx.bk.bases(ids),
        this.ctx.remote.current(ids),
        this.ctx.local.current(ids),
      ]);
      const newBases: Array<[string, Base]> = [];
      const slow: Item[] = [];
      const plans: Array<{
        id: string;
        tp: TypeProjection;
        l: LocalDoc | null;
        r: RemoteDoc | null;
        result: Content | null;
        remote: RemoteWrite | null;
        local: LocalWrite | null;
      }> = [];
      for (const { doc, tp } of wanted) {
        const l = books.get(doc._id) ?? doc; // the page may be older than the books
        const cur = cloud.get(doc._id);
        const r =
          cur && cur.exists
            ? (cur.doc ?? { _id: doc._id, _rev: cur.rev, _deleted: cur.deleted })
            : null;
        const base = bases.get(doc._id);
        this.countExcluded(tp, r);
        const d = this.decide(tp, l, r, base);
        if (d.kind === 'skip') continue;
        if (d.kind === 'agree') newBases.push([doc._id, this.rec.agreedBase(tp, l, r)]);
        else if (d.kind === 'reconcile') slow.push({ id: doc._id, tp, local: l, remote: r, base });
        else
          plans.push({ id: doc._id, tp, l, r, result: d.result, ...this.writesFor(tp, l, r, d) });
      }
      const written = await this.write(plans, newBases);
      await this.ctx.bk.putBases(newBases);
      const resolved = await this.rec.reconcile(slow, 'push');
      this.report();
      return { docs: written + resolved.docs, conflicts: resolved.conflicts };
    } finally {
      release();
    }
  }

  /**
   * `r` null: the cloud has no such document at all (not even a tombstone).
   * Which side changed since the agreed base decides; a side whose revision is the base's did not.
   */
  private decide(
    tp: TypeProjection,
    l: LocalDoc,
    r: RemoteDoc | null,
    base: Base | undefined,
  ): Decision {
    const lShared = live(l) ? tp.shared(l) : null;
    if (r === null) {
      // Absent from the cloud: never a deletion. The books' copy goes up again (if this type pushes).
      return lShared !== null && tp.goes('push')
        ? { kind: 'write', result: lShared, toCloud: true, toBooks: false }
        : { kind: 'skip' };
    }
    const rShared = live(r) ? tp.shared(r) : null;
    if (sameContent(lShared, rShared)) return { kind: 'agree' };
    const reproject = this.plan.reproject.includes(tp.type);
    const cloudOlder =
      this.plan.cloudReset &&
      !!base?.remoteRev &&
      revGeneration(r._rev) < revGeneration(base.remoteRev);
    const cloudUnchanged = cloudOlder || (!!base && base.remoteRev === r._rev);
    const booksUnchanged = !!base && !!base.localRev && base.localRev === l._rev;
    if (cloudUnchanged && booksUnchanged && reproject) {
      // Only the rules moved: each side keeps every field it has, fields one side lacks come from the other.
      const result =
        lShared && rShared
          ? tp.goes('push')
            ? { ...rShared, ...lShared }
            : { ...lShared, ...rShared }
          : (lShared ?? rShared);
      return { kind: 'write', result, toCloud: tp.goes('push'), toBooks: tp.goes('pull') };
    }
    if (cloudUnchanged) {
      const result = reproject && lShared && rShared ? { ...rShared, ...lShared } : lShared;
      return tp.goes('push')
        ? { kind: 'write', result, toCloud: true, toBooks: reproject && tp.goes('pull') }
        : { kind: 'skip' };
    }
    if (booksUnchanged) {
      const result = reproject && lShared && rShared ? { ...lShared, ...rShared } : rShared;
      return tp.goes('pull')
        ? { kind: 'write', result, toCloud: reproject && tp.goes('push'), toBooks: true }
        : { kind: 'skip' };
    }
    return { kind: 'reconcile' };
  }

  private writesFor(
    tp: TypeProjection,
    l: LocalDoc,
    r: RemoteDoc | null,
    d: { result: Content | null; toCloud: boolean; toBooks: boolean },
  ): { remote: RemoteWrite | null; local: LocalWrite | null } {
    const { result } = d;
    const rShared = live(r) ? tp.shared(r as RemoteDoc) : null;
    const lShared = live(l) ? tp.shared(l) : null;
    let remote: RemoteWrite | null = null;
    if (d.toCloud && !sameContent(rShared, result) && !(result === null && !live(r))) {
      remote =
        result === null
          ? { _id: l._id, _rev: (r as RemoteDoc)._rev, _deleted: true }
          : {
              ...tp.compose(result, live(r), live(l), 'push'),
              _id: l._id,
              ...revOver(r),
            };
    }
    let local: LocalWrite | null = null;
    if (d.toBooks && !sameContent(lShared, result) && !(result === null && !live(l))) {
      local = {
        doc:
          result === null
            ? { _id: l._id, _deleted: true }
            : (tp.compose(result, live(l), live(r), 'pull') as LocalWrite['doc']),
        current: l,
      };
    }
    return { remote, local };
  }

  private async write(
    plans: Array<{
      id: string;
      tp: TypeProjection;
      l: LocalDoc | null;
      r: RemoteDoc | null;
      result: Content | null;
      remote: RemoteWrite | null;
      local: LocalWrite | null;
    }>,
    newBases: Array<[string, Base]>,
  ): Promise<number> {
    const failed = new Set<string>();
    const remoteRevs = new Map<string, string>();
    const remotePlans = plans.filter((p) => p.remote);
    if (remotePlans.length > 0) {
      const results = await this.ctx.remote.write(
        remotePlans.map((p) => p.remote as RemoteWrite),
        { maxBytes: this.ctx.batchBytes },
      );
      results.forEach((res, i) => {
        const p = remotePlans[i];
        if (res.ok) remoteRevs.set(p.id, res.rev);
        else {
          failed.add(p.id); // moved meanwhile: the next pull or push sees it
          if (!res.conflict)
            this.ctx.log.warn(`cloud refused ${p.id}: ${res.error} ${res.reason}`, {
              event: 'sync.reject',
              direction: 'push',
              doc_id: p.id,
              error: res.error,
            });
        }
      });
    }
    const localPlans = plans.filter((p) => p.local && !failed.has(p.id));
    const localRevs = new Map<string, string>();
    if (localPlans.length > 0) {
      const results = await this.ctx.local.write(localPlans.map((p) => p.local as LocalWrite));
      for (let i = 0; i < results.length; i++) {
        const res = results[i];
        const p = localPlans[i];
        if (res.ok) localRevs.set(p.id, res.rev);
        else {
          failed.add(p.id);
          if (!res.conflict)
            await this.rec.recordConflict(
              { id: p.id, tp: p.tp, local: p.l, remote: p.r, base: undefined },
              res.code,
            );
        }
      }
    }
    let docs = 0;
    for (const p of plans) {
      if (failed.has(p.id)) continue;
      const localDoc = p.local ? ({ ...p.local.doc, _rev: localRevs.get(p.id) } as LocalDoc) : p.l;
      const remoteDoc = p.remote ? ({ ...p.remote, _rev: remoteRevs.get(p.id) } as RemoteDoc) : p.r;
      if (p.remote) this.progress.pushed++;
      if (p.local) this.progress.pulled++;
      docs += (p.remote ? 1 : 0) + (p.local ? 1 : 0);
      // A one-way write leaves the other side as it was: the base is what that side then holds.
      const agreed =
        p.local || !p.tp.goes('pull') ? p.result : p.l && live(p.l) ? p.tp.shared(p.l) : p.result;
      newBases.push([p.id, this.rec.agreedBase(p.tp, localDoc, remoteDoc ?? null, agreed)]);
    }
    return docs;
  }

  private countExcluded(tp: TypeProjection, r: RemoteDoc | null): void {
    const fields = this.plan.countExcluded[tp.type];
    if (!fields || !live(r)) return;
    if (holdsAny(tp.type, r as RemoteDoc, fields))
      this.excludedHeld.set(tp.type, (this.excludedHeld.get(tp.type) ?? 0) + 1);
  }
}

/** Whether `doc` has a value at any of the exclusion `paths`. */
export function holdsAny(
  type: string,
  doc: Record<string, unknown> & { _id: string },
  paths: readonly string[],
): boolean {
  const all = new TypeProjection(type, { direction: 'both' });
  const without = new TypeProjection(type, { direction: 'both', exclude: { push: paths } });
  return !sameContent(all.project(doc, 'push'), without.project(doc, 'push'));
}

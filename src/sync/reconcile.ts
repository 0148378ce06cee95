import { Subject } from 'rxjs';
import { sameContent } from '../shared/canonical-json';
import { auditId } from '../ledger';
import type { Base, OpenConflict } from './bookkeeping';
import type { SyncContext } from './context';
import { isPostedMove, live, overwrittenBy, revOver } from './doc-helpers';
import type { LocalDoc, LocalWrite } from './local-store';
import { projectionHash, type Content, type TypeProjection, type Way } from './projection';
import type { RemoteDoc, RemoteWrite } from './remote-store';
import type { BatchResult, Item } from './types';

/** A conflict a strategy resolved without an admin (its audit record is written). */
export interface ResolutionReport {
  /** Document type (`move`, `partner`, ...). */
  type: string;
  strategy: string;
}

/** A strategy's decision on one item: the result and the writes (null where a side already has it). */
interface ResolutionPlan {
  item: Item;
  result: Content | null;
  localWrite: LocalWrite | null;
  remoteWrite: RemoteWrite | null;
  audit: Record<string, unknown> | null;
}

/** The writes that bring each side the direction reaches to `result` (none where it already holds it). */
function resolutionWrites(
  item: Item,
  lShared: Content | null,
  rShared: Content | null,
  result: Content | null,
): { localWrite: LocalWrite | null; remoteWrite: RemoteWrite | null } {
  const { tp, local: l, remote: r } = item;
  const localWrite: LocalWrite | null =
    tp.goes('pull') && !sameContent(lShared, result) && !(result === null && !live(l))
      ? {
          doc:
            result === null
              ? { _id: item.id, _deleted: true }
              : (tp.compose(result, live(l), live(r), 'pull') as LocalWrite['doc']),
          current: l,
        }
      : null;
  const remoteWrite: RemoteWrite | null =
    tp.goes('push') && !sameContent(rShared, result) && !(result === null && !live(r))
      ? result === null
        ? { _id: item.id, _rev: (r as RemoteDoc)._rev, _deleted: true }
        : {
            ...tp.compose(result, live(r), live(l), 'push'),
            _id: item.id,
            ...revOver(r),
          }
      : null;
  return { localWrite, remoteWrite };
}

/**
 * The slow path both directions share, and its records: agreed bases, strategy resolutions with
 * their audit records, and the open conflicts an admin has to decide.
 */
export class Reconciler {
  /** Every automatic conflict resolution, once its result and audit record are written. */
  readonly resolutions = new Subject<ResolutionReport>();
  /** Ids of the open conflicts (mirrors the bookkeeping store; a cheap filter for every batch). */
  private openConflictIds = new Set<string>();
  private lastAuditMs = 0;

  constructor(private readonly ctx: SyncContext) {}

  get openConflicts(): number {
    return this.openConflictIds.size;
  }

  /** An admin resolved `id`. */
  forgetConflict(id: string): void {
    this.openConflictIds.delete(id);
    this.ctx.patchStatus({ open_conflicts: this.openConflictIds.size });
  }

  /** Re-reads the open conflicts (after an admin listed them). */
  resetConflictIds(ids: Iterable<string>): void {
    this.openConflictIds = new Set(ids);
  }

  /**
   * Base after both sides were seen to agree (or were just made to agree on `agreed`). Without
   * exclusions every projection of agreeing documents is the same content, so one hash serves all.
   * `composed`: which side's document was just composed from the other's shared content and
   * nothing else (`compose(shared(x), null, x)`, no target): its shared content is that of the
   * other side, so it need not be stripped and hashed again (property-tested in sync-projection).
   */
  agreedBase(
    tp: TypeProjection,
    localDoc: LocalDoc | Record<string, unknown> | null,
    remoteDoc: RemoteDoc | null,
    agreed?: Content | null,
    composed?: Way,
  ): Base {
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
    const localIsShared =
      oneContent ||
      (composed !== undefined && shared !== null && !!lLive && tp.projectsToShared('push'));
    const remoteIsShared =
      oneContent ||
      (composed !== undefined && shared !== null && !!rLive && tp.projectsToShared('pull'));
    const pushHash =
      !tp.goes('push') || !l
        ? ''
        : localIsShared
          ? sharedHash
          : projectionHash(tp.project(l, 'push'));
    const pullHash =
      !tp.goes('pull') || !remoteDoc
        ? ''
        : remoteIsShared
          ? sharedHash
          : projectionHash(tp.project(remoteDoc, 'pull'));
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
  keepsBaseContent(type: string): boolean {
    return this.ctx.strategyFor(type).name === 'merge';
  }

  /**
   * The slow path of both directions: each item has the current local and cloud documents and the
   * base. Equal content → only the base is patched. Otherwise the type's strategy decides (posted
   * moves always go to manual); the result is written to each side that differs, with an audit
   * record of what was overwritten, then the base. A cloud that lacks the document entirely
   * (`remote` null) never deletes the books' copy.
   */
  async reconcile(items: Item[], way: Way): Promise<BatchResult> {
    if (items.length === 0) return { docs: 0, conflicts: 0 };
    // Items from a push carry no current local read; the page's doc is current enough (its rev is checked on write).
    const newBases: Array<[string, Base]> = [];
    const { plans, conflicts } = await this.planResolutions(items, way, newBases);
    const { remoteRevs, failed } = await this.writeRemotePlans(plans);
    const localRevs = await this.writeLocalPlans(plans, failed);
    const { docs, audits, resolved } = this.settlePlans(
      plans,
      { remoteRevs, localRevs, failed },
      newBases,
    );
    if (audits.length > 0) await this.writeAudits(audits);
    await this.ctx.bk.putBases(newBases);
    this.announce(resolved);
    return { docs, conflicts };
  }

  /**
   * Decides each item: agreeing content only patches the base (pushed to `newBases`), a document
   * missing from the cloud goes up again, the rest go to the type's strategy (posted moves and
   * `manual` are recorded as open conflicts). Returns the writes to make.
   */
  private async planResolutions(
    items: Item[],
    way: Way,
    newBases: Array<[string, Base]>,
  ): Promise<{ plans: ResolutionPlan[]; conflicts: number }> {
    const plans: ResolutionPlan[] = [];
    let conflicts = 0;
    for (const item of items) {
      const { tp, local: l, remote: r } = item;
      const lShared = live(l) ? tp.shared(l as LocalDoc) : null;
      const rShared = live(r) ? tp.shared(r as RemoteDoc) : null;
      const strategy = this.ctx.strategyFor(tp.type);
      if (strategy.isEqual(lShared, rShared)) {
        newBases.push([item.id, this.agreedBase(tp, l, r)]);
        continue;
      }
      if (r === null && lShared !== null) {
        // The cloud has no such document at all, not even a tombstone: that is no deletion. The
        // books' copy goes up again (a one-way pull type keeps it and waits).
        if (item.base?.remoteRev) this.ctx.suspectCloud(`${item.id} is gone from the cloud`);
        if (tp.goes('push'))
          plans.push({
            item,
            result: lShared,
            localWrite: null,
            remoteWrite: { ...tp.compose(lShared, null, l, 'push'), _id: item.id },
            audit: null,
          });
        continue;
      }
      conflicts++;
      const baseShared = item.base?.shared ?? null;
      const posted = isPostedMove(lShared) || isPostedMove(rShared) || isPostedMove(baseShared);
      const res = posted
        ? ({ kind: 'manual' } as const)
        : strategy.resolve({ id: item.id, local: lShared, remote: rShared, base: baseShared });
      if (res.kind === 'manual') {
        await this.recordConflict(item, posted ? 'posted_move' : 'manual');
        continue;
      }
      const result = res.result;
      const audit = this.auditBody(
        item.id,
        strategy.name,
        lShared,
        rShared,
        baseShared,
        result,
        res.taken,
      );
      plans.push({ item, result, ...resolutionWrites(item, lShared, rShared, result), audit });
      this.ctx.log.info(`conflict on ${item.id} resolved by ${strategy.name} (took ${res.taken})`, {
        event: 'sync.conflict',
        doc_id: item.id,
        strategy: strategy.name,
        taken: res.taken,
        direction: way,
      });
    }
    return { plans, conflicts };
  }

  /** Cloud writes first; a refused one (moved again) is marked failed: the next pull brings it back here. */
  private async writeRemotePlans(
    plans: ResolutionPlan[],
  ): Promise<{ remoteRevs: Map<string, string>; failed: Set<string> }> {
    const remotePlans = plans.filter((p) => p.remoteWrite);
    const remoteRevs = new Map<string, string>();
    const failed = new Set<string>();
    if (remotePlans.length > 0) {
      const results = await this.ctx.remote.write(
        remotePlans.map((p) => p.remoteWrite as RemoteWrite),
        { maxBytes: this.ctx.batchBytes },
      );
      results.forEach((res, i) => {
        if (res.ok) remoteRevs.set(remotePlans[i].item.id, res.rev);
        else failed.add(remotePlans[i].item.id); // moved again: the next pull brings it back here
      });
    }
    return { remoteRevs, failed };
  }

  /** Books writes of the plans whose cloud write did not fail; a refusal by the ledger is recorded as a conflict. */
  private async writeLocalPlans(
    plans: ResolutionPlan[],
    failed: Set<string>,
  ): Promise<Map<string, string>> {
    const localPlans = plans.filter((p) => p.localWrite && !failed.has(p.item.id));
    const localRevs = new Map<string, string>();
    if (localPlans.length > 0) {
      const results = await this.ctx.local.write(localPlans.map((p) => p.localWrite as LocalWrite));
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
    return localRevs;
  }

  /** After the data writes: the new bases (pushed to `newBases`), the audit records to write and the resolutions to announce. */
  private settlePlans(
    plans: ResolutionPlan[],
    written: {
      remoteRevs: Map<string, string>;
      localRevs: Map<string, string>;
      failed: Set<string>;
    },
    newBases: Array<[string, Base]>,
  ): { docs: number; audits: LocalWrite[]; resolved: ResolutionReport[] } {
    const { remoteRevs, localRevs, failed } = written;
    const audits: LocalWrite[] = [];
    const resolved: ResolutionReport[] = [];
    let docs = 0;
    for (const p of plans) {
      if (failed.has(p.item.id)) {
        // The books moved (or refused) after the cloud took the result: what the cloud held is
        // overwritten all the same, so the resolution is audited; the base stays, and the next
        // push reconciles the books' change with the result.
        if (p.audit && remoteRevs.has(p.item.id)) {
          audits.push({ doc: p.audit as LocalWrite['doc'], current: null });
          resolved.push({ type: p.item.tp.type, strategy: String(p.audit.strategy) });
        }
        continue;
      }
      const localDoc = p.localWrite
        ? ({ ...p.localWrite.doc, _rev: localRevs.get(p.item.id) } as LocalDoc)
        : p.item.local;
      const remoteDoc = p.remoteWrite
        ? ({ ...p.remoteWrite, _rev: remoteRevs.get(p.item.id) } as RemoteDoc)
        : p.item.remote;
      docs += (p.localWrite ? 1 : 0) + (p.remoteWrite ? 1 : 0);
      newBases.push([p.item.id, this.agreedBase(p.item.tp, localDoc, remoteDoc, p.result)]);
      if (p.audit) {
        audits.push({ doc: p.audit as LocalWrite['doc'], current: null });
        resolved.push({ type: p.item.tp.type, strategy: String(p.audit.strategy) });
      }
    }
    return { docs, audits, resolved };
  }

  auditBody(
    docId: string,
    strategy: string,
    local: Content | null,
    remote: Content | null,
    base: Content | null,
    result: Content | null,
    taken: 'local' | 'remote' | 'merged',
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> {
    let ms = this.ctx.clock().getTime();
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

  /** Tells `resolutions` about automatic resolutions whose result and audit record are written. */
  announce(resolved: readonly ResolutionReport[]): void {
    for (const r of resolved) this.resolutions.next(r);
  }

  async writeAudits(writes: LocalWrite[]): Promise<void> {
    const results = await this.ctx.local.write(writes);
    results.forEach((r) => {
      if (!r.ok)
        this.ctx.log.error(`cannot write audit record ${r.id}`, {
          event: 'sync.error',
          doc_id: r.id,
          code: r.conflict ? 'STORE_CONFLICT' : r.code,
        });
    });
  }

  async recordConflict(item: Item, reason: string, leaves?: string[]): Promise<void> {
    const existing = await this.ctx.bk.conflict(item.id);
    const c: OpenConflict = {
      doc_id: item.id,
      type: item.tp.type,
      reason,
      detected_at: existing?.detected_at ?? this.ctx.clock().toISOString(),
      local: live(item.local) ? { ...(item.local as LocalDoc) } : null,
      remote: live(item.remote) ? { ...(item.remote as RemoteDoc) } : null,
      base: item.base?.shared ?? null,
      ...(leaves && leaves.length > 0 ? { remote_leaves: leaves } : {}),
    };
    await this.ctx.bk.putConflict(c);
    this.openConflictIds.add(item.id);
    this.ctx.patchStatus({ open_conflicts: this.openConflictIds.size });
    this.ctx.log.warn(`conflict on ${item.id} needs an admin (${reason})`, {
      event: 'sync.conflict',
      doc_id: item.id,
      strategy: 'manual',
      reason,
    });
  }

  async openConflictsAmong(ids: readonly string[]): Promise<Map<string, OpenConflict>> {
    if (this.openConflictIds.size === 0) return new Map();
    return this.ctx.bk.conflictsAmong(ids.filter((id) => this.openConflictIds.has(id)));
  }

  async loadConflictIds(): Promise<void> {
    this.openConflictIds = new Set((await this.ctx.bk.conflicts()).map((c) => c.doc_id));
    this.ctx.patchStatus({ open_conflicts: this.openConflictIds.size });
  }
}

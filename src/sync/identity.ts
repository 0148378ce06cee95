import { randomUUID } from 'node:crypto';
import type { IdentityRecord } from './bookkeeping';
import type { SyncContext } from './context';
import { live } from './doc-helpers';
import type { Reconciler } from './reconcile';
import type { RemoteDoc, RemoteWrite } from './remote-store';
import { Rewalker, holdsAny, type RewalkPlan } from './rewalk';
import {
  describeRuleChange,
  diffRules,
  typesToWalk,
  type RulesSnapshot,
  type TypeRuleChange,
} from './rules';
import { TypeProjection } from './projection';

/** The marker on the cloud: `_local/booksync-<site>` (a `_local` document never replicates). */
interface CloudMarker {
  site: string;
  replication: string;
  generation: number;
}

/** The marker as read from the cloud (null: there is none; undefined: not read). */
type MarkerRead = (CloudMarker & { _rev?: string }) | null | undefined;

/** The rules record plus what is still to report about newly excluded push fields. */
interface StoredRules {
  snapshot: RulesSnapshot;
  /** Per type: push-excluded fields cloud copies may still hold, and how many did at the last count. */
  excludedInCloud?: Record<string, { fields: string[]; docs: number }>;
}

/**
 * Which cloud database the bookkeeping belongs to, and under which rules it was built. Like
 * PouchDB's replicator checkpoints, a marker document lives on the cloud and a record in the
 * bookkeeping; they are compared before the first cycle and again after the cloud went away.
 * A missing marker (a new or recreated database), another replication id (a different cloud)
 * or a lower generation (a cloud restored from an older copy) starts a re-walk of both sides
 * (rewalk.ts); changed rules re-walk the types concerned. The generation goes up after every push
 * that wrote something: the marker goes first, then the record, so a crash in between leaves a
 * marker ahead of the record, which counts as the same cloud.
 * @link https://docs.couchdb.org/en/stable/replication/protocol.html#retrieve-replication-logs-from-source-and-target
 */
export class CloudIdentity {
  private record: IdentityRecord | null = null;
  /** The marker's revision on the cloud, as last read or written. */
  private markerRev: string | undefined;
  private site: Promise<string> | null = null;

  constructor(
    private readonly ctx: SyncContext,
    private readonly rec: Reconciler,
    private readonly rules: RulesSnapshot,
  ) {}

  private markerId(site: string): string {
    return `booksync-${site}`;
  }

  /** This site's id, made once (concurrent callers share the one read or write of it). */
  private siteOnce(): Promise<string> {
    this.site ??= this.ctx.bk.siteId(randomUUID).catch((err: unknown) => {
      this.site = null;
      throw err;
    });
    return this.site;
  }

  async markerIdOfSite(): Promise<string> {
    return this.markerId(await this.siteOnce());
  }

  /**
   * Reads the cloud's marker for `check`, so that the read can go out together with the request
   * that makes sure the database exists (one round trip instead of two). Undefined when the read
   * failed: `check` reads it again then.
   */
  async readMarker(): Promise<MarkerRead> {
    try {
      return (await this.ctx.remote.getLocal(await this.markerIdOfSite())) as MarkerRead;
    } catch {
      return undefined;
    }
  }

  /**
   * Compares the cloud's marker and the rules with the record; re-walks when they differ.
   * `prefetched`: the marker as `readMarker` read it after the database was known to exist, or
   * while it was being made sure of (a database created then holds no marker, and that read said so).
   */
  async check(prefetched?: MarkerRead): Promise<void> {
    const { bk, remote, log } = this.ctx;
    const site = await this.siteOnce();
    const pending = await bk.rewalk<RewalkPlan & { replication: string; generation: number }>();
    if (pending) {
      log.warn(`resuming the re-walk of both sides (${pending.reason})`, {
        event: 'sync.reset',
        reason: pending.reason,
        resumed: true,
      });
      await this.walk(site, pending, pending.replication, pending.generation);
      return;
    }
    const record = (await bk.identity()) ?? null;
    const marker =
      prefetched !== undefined
        ? prefetched
        : ((await remote.getLocal(this.markerId(site))) as MarkerRead);
    this.markerRev = marker?._rev;
    const reason = await this.resetReason(record, marker ?? null);
    const before = (record?.rules as StoredRules | undefined)?.snapshot;
    const changes = before ? diffRules(before, this.rules) : [];
    if (changes.length > 0) this.logRuleChanges(changes);
    const plan = this.planFor(reason, changes);
    const generation =
      Math.max(
        record?.generation ?? 0,
        typeof marker?.generation === 'number' ? marker.generation : 0,
      ) + 1;
    const replication = reason || !record ? randomUUID() : record.replication;
    if (plan) {
      log.warn(`re-walking both sides: ${plan.reason}`, {
        event: 'sync.reset',
        reason: plan.reason,
        types: plan.types ?? 'all',
        cloud: remote.url,
      });
      const stored = { ...plan, replication, generation };
      await bk.setRewalk(stored);
      if (plan.cloudReset) await bk.clearCheckpoint('pull');
      await this.walk(site, stored, replication, generation);
      return;
    }
    this.record = record;
    if (!record || changes.length > 0 || remote.url !== record.cloud)
      await this.commit(
        site,
        replication,
        record ? record.generation : generation,
        this.storedRules(record, new Map(), []),
      );
    this.ctx.patchStatus({ excluded_in_cloud: this.reportable(this.record) });
  }

  /** Why the cloud is not the one the bookkeeping belongs to, or null when it is. */
  private async resetReason(
    record: IdentityRecord | null,
    marker: CloudMarker | null,
  ): Promise<string | null> {
    if (!record) {
      // Bookkeeping from before markers existed: checkpoints with no record. A fresh site has neither.
      const synced =
        (await this.ctx.bk.checkpoint('push')) !== undefined ||
        (await this.ctx.bk.checkpoint('pull')) !== undefined;
      return synced ? 'no identity record for the checkpoints' : null;
    }
    if (!marker) return 'cloud marker missing (a new or recreated cloud database)';
    if (marker.replication !== record.replication)
      return 'different cloud (its marker names another replication)';
    if (typeof marker.generation !== 'number' || marker.generation < record.generation)
      return 'cloud restored from an older copy (its marker is older)';
    return null;
  }

  private planFor(reason: string | null, changes: readonly TypeRuleChange[]): RewalkPlan | null {
    const countExcluded: Record<string, string[]> = {};
    for (const c of changes)
      if (c.newlyPushExcluded.length > 0) countExcluded[c.type] = c.newlyPushExcluded;
    const reproject = changes.filter((c) => c.reproject).map((c) => c.type);
    if (reason) return { reason, cloudReset: true, types: null, reproject, countExcluded };
    const types = [...new Set([...typesToWalk(changes), ...Object.keys(countExcluded)])];
    if (types.length === 0) return null;
    const pullFromStart = changes.some(
      (c) => c.gains.includes('pull') || (c.reproject && c.to.direction !== 'push'),
    );
    return {
      reason: `rules changed for ${types.join(', ')}`,
      cloudReset: false,
      types,
      reproject,
      countExcluded,
      pullFromStart,
    };
  }

  private logRuleChanges(changes: readonly TypeRuleChange[]): void {
    const types: Record<string, string> = {};
    for (const c of changes) types[c.type] = describeRuleChange(c);
    this.ctx.log.warn(`sync rules changed for ${Object.keys(types).join(', ')}`, {
      event: 'sync.rules_changed',
      types,
    });
  }

  private async walk(
    site: string,
    plan: RewalkPlan,
    replication: string,
    generation: number,
  ): Promise<void> {
    const { bk } = this.ctx;
    // A type that gains pull: its cloud documents the books lack come in with a pull from the start.
    if (plan.pullFromStart) await bk.clearCheckpoint('pull');
    const walker = new Rewalker(this.ctx, this.rec, plan);
    const done = await walker.run();
    const record = (await bk.identity()) ?? null;
    await this.commit(
      site,
      replication,
      generation,
      this.storedRules(record, walker.excludedHeld, Object.keys(plan.countExcluded)),
    );
    await bk.endRewalk();
    this.ctx.patchStatus({ rewalk: null, excluded_in_cloud: this.reportable(this.record) });
    this.ctx.log.warn(
      `re-walk done: ${walker.progress.pushed} document(s) pushed, ${walker.progress.pulled} pulled, ${done.conflicts} conflict(s)`,
      {
        event: 'sync.reset',
        phase: 'done',
        reason: plan.reason,
        checked: walker.progress.checked,
        pushed: walker.progress.pushed,
        pulled: walker.progress.pulled,
        conflicts: done.conflicts,
      },
    );
  }

  private storedRules(
    record: IdentityRecord | null,
    held: ReadonlyMap<string, number>,
    counted: readonly string[],
  ): StoredRules {
    const previous = (record?.rules as StoredRules | undefined)?.excludedInCloud ?? {};
    const excludedInCloud: Record<string, { fields: string[]; docs: number }> = {};
    for (const [type, e] of Object.entries(previous)) {
      const still = e.fields.filter((f) =>
        (this.rules.types[type] ?? this.rules.default).exclude.push.includes(f),
      );
      if (still.length > 0 && !counted.includes(type))
        excludedInCloud[type] = { fields: still, docs: e.docs };
    }
    for (const type of counted) {
      const docs = held.get(type) ?? 0;
      const fields = (this.rules.types[type] ?? this.rules.default).exclude.push.filter(
        (f) =>
          !(
            (record?.rules as StoredRules | undefined)?.snapshot.types[type]?.exclude.push ?? []
          ).includes(f),
      );
      if (docs > 0)
        excludedInCloud[type] = {
          fields: [...new Set([...(previous[type]?.fields ?? []), ...fields])],
          docs,
        };
    }
    for (const [type, e] of Object.entries(excludedInCloud)) {
      this.ctx.log.warn(
        `${e.docs} cloud cop${e.docs === 1 ? 'y' : 'ies'} of ${type} still hold ${e.fields.join(', ')}, now excluded from push; \`booksync sync strip-excluded\` removes them`,
        {
          event: 'sync.excluded_in_cloud',
          type,
          fields: e.fields,
          docs: e.docs,
        },
      );
    }
    return {
      snapshot: this.rules,
      ...(Object.keys(excludedInCloud).length > 0 ? { excludedInCloud } : {}),
    };
  }

  private reportable(
    record: IdentityRecord | null,
  ): Record<string, { fields: string[]; docs: number }> | null {
    const e = (record?.rules as StoredRules | undefined)?.excludedInCloud;
    return e && Object.keys(e).length > 0 ? e : null;
  }

  /** Marker first, then the record (see the class comment). */
  private async commit(
    site: string,
    replication: string,
    generation: number,
    rules: StoredRules,
  ): Promise<void> {
    const marker: CloudMarker = { site, replication, generation };
    this.markerRev = await this.ctx.remote.putLocal(
      this.markerId(site),
      { ...marker, written_at: this.ctx.clock().toISOString() },
      this.markerRev,
    );
    const record: IdentityRecord = {
      site,
      replication,
      generation,
      cloud: this.ctx.remote.url,
      rules: rules as unknown as Record<string, unknown>,
    };
    await this.ctx.bk.setIdentity(record);
    this.record = record;
  }

  /**
   * After a push that wrote documents: the cloud now holds more than a copy taken before it, so
   * the generation goes up. The marker is read first; when it is gone, names another replication
   * or is older (a restore in place), nothing is written and false says the cloud must be checked
   * again.
   */
  async touch(): Promise<boolean> {
    const r = this.record;
    if (!r) return true;
    const marker = (await this.ctx.remote.getLocal(this.markerId(r.site))) as
      (CloudMarker & { _rev?: string }) | null;
    if (
      !marker ||
      marker.replication !== r.replication ||
      typeof marker.generation !== 'number' ||
      marker.generation < r.generation
    )
      return false;
    this.markerRev = marker._rev;
    await this.commit(
      r.site,
      r.replication,
      Math.max(r.generation, marker.generation) + 1,
      r.rules as unknown as StoredRules,
    );
    return true;
  }

  /**
   * Removes the newly push-excluded fields (as reported in `excluded_in_cloud`) from the cloud
   * copies, keeping everything else (attachments too). Asked for explicitly; logged per type.
   */
  async stripExcluded(): Promise<{ docs: number }> {
    const r = this.record;
    const stored = r?.rules as StoredRules | undefined;
    const pending = stored?.excludedInCloud ?? {};
    let total = 0;
    for (const [type, e] of Object.entries(pending)) {
      const docs = await this.stripType(type, e.fields);
      total += docs;
      this.ctx.log.warn(
        `removed ${e.fields.join(', ')} from ${docs} cloud cop${docs === 1 ? 'y' : 'ies'} of ${type}`,
        { event: 'sync.strip_excluded', type, fields: e.fields, docs },
      );
    }
    if (r && stored)
      await this.commit(r.site, r.replication, r.generation + 1, { snapshot: stored.snapshot });
    this.ctx.patchStatus({ excluded_in_cloud: null });
    return { docs: total };
  }

  /** One pass over the cloud's changes feed from the start: every copy of `type` that holds a field loses it. */
  private async stripType(type: string, fields: string[]): Promise<number> {
    const { remote, bk, lock } = this.ctx;
    const strip = new TypeProjection(type, { direction: 'both', exclude: { push: fields } });
    const tp = this.ctx.projection.forType(type);
    let since: unknown = undefined;
    let docs = 0;
    for (;;) {
      const page = await remote.changesSince(since, { limit: this.ctx.batchSize });
      const held = page.changes
        .map((c) => c.doc)
        .filter(
          (d): d is RemoteDoc =>
            !!live(d) &&
            this.ctx.projection.forDoc(d, d._id).type === type &&
            holdsAny(type, d, fields),
        );
      if (held.length > 0) {
        const ids = held.map((d) => d._id);
        const release = await lock.acquire(ids);
        try {
          const writes: RemoteWrite[] = held.map((d) => ({
            ...(strip.project(d, 'push') ?? {}),
            _id: d._id,
            _rev: d._rev,
            ...(d._attachments ? { _attachments: d._attachments } : {}),
          }));
          const results = await remote.write(writes, { maxBytes: this.ctx.batchBytes });
          const bases = await bk.bases(ids);
          const patched: Array<[string, typeof bases extends Map<string, infer B> ? B : never]> =
            [];
          results.forEach((res, i) => {
            if (!res.ok) return; // moved meanwhile: counted again at the next check
            docs++;
            const base = bases.get(res.id);
            if (base) {
              const keep = tp.remoteKeep(writes[i]);
              patched.push([res.id, { ...base, remoteRev: res.rev, keep }]);
            }
          });
          await bk.putBases(patched);
        } finally {
          release();
        }
      }
      since = page.lastSeq;
      if (page.changes.length < this.ctx.batchSize) break;
    }
    return docs;
  }
}

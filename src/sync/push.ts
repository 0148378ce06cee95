import type { Base, OpenConflict } from './bookkeeping';
import type { SyncContext } from './context';
import { live, revGeneration } from './doc-helpers';
import type { LocalDoc } from './local-store';
import { runPipeline } from './pipeline';
import { projectionHash, type TypeProjection } from './projection';
import type { Reconciler } from './reconcile';
import type { RemoteDoc, RemoteWrite } from './remote-store';
import type { BatchResult, Item } from './types';

/**
 * Local → cloud: reads the books' changes feed from the push checkpoint and writes what changed
 * (by projection hash against the base) with `_bulk_docs`; a 409 goes to the slow path.
 */
export class Pusher {
  constructor(
    private readonly ctx: SyncContext,
    private readonly rec: Reconciler,
  ) {}

  async cycle(): Promise<BatchResult> {
    const result = await runPipeline(
      this.ctx,
      'push',
      async (since) => {
        const page = await this.ctx.local.changesSince(since, this.ctx.batchSize);
        return { changes: page.changes, lastSeq: page.lastSeq, more: page.more };
      },
      (changes) => this.batch(changes.map((c) => c.doc)),
    );
    await this.updatePendingPush();
    return result;
  }

  async updatePendingPush(): Promise<void> {
    const [seq, ckpt] = await Promise.all([
      this.ctx.local.updateSeq(),
      this.ctx.bk.checkpoint('push'),
    ]);
    const pending =
      typeof seq === 'number' && typeof ckpt === 'number'
        ? Math.max(0, seq - ckpt)
        : typeof seq === 'number' && ckpt === undefined
          ? seq
          : null;
    this.ctx.patchStatus({ pending_push: pending });
  }

  async batch(docs: LocalDoc[]): Promise<BatchResult> {
    const wanted = docs.filter((d) => this.ctx.projection.forDoc(d, d._id).goes('push'));
    if (wanted.length === 0) return { docs: 0, conflicts: 0 };
    const ids = wanted.map((d) => d._id);
    const release = await this.ctx.lock.acquire(ids);
    try {
      const bases = await this.ctx.bk.bases(ids);
      const open = await this.rec.openConflictsAmong(ids);
      // `pure`: the body is `compose(shared(doc), null, doc)`, no cloud values carried (see agreedBase).
      const writes: Array<{ doc: LocalDoc; tp: TypeProjection; body: RemoteWrite; pure: boolean }> =
        [];
      const unknown: LocalDoc[] = [];
      for (const doc of wanted) {
        const base = bases.get(doc._id);
        const tp = this.ctx.projection.forDoc(doc, doc._id);
        if (open.has(doc._id)) {
          await this.ctx.bk.putConflict({
            ...(open.get(doc._id) as OpenConflict),
            local: live(doc),
          });
          continue;
        }
        if (base) {
          if (base.localRev === doc._rev) continue;
          // A newer local revision is already agreed (this page was read before it): skip the stale one.
          if (revGeneration(base.localRev) >= revGeneration(doc._rev)) continue;
          if (projectionHash(tp.project(doc, 'push')) === base.pushHash) continue;
          const body = doc._deleted
            ? { _id: doc._id, _deleted: true }
            : tp.compose(tp.shared(doc), base.keep ?? null, doc, 'push');
          if (doc._deleted && !base.remoteRev) continue;
          writes.push({
            doc,
            tp,
            body: {
              ...body,
              _id: doc._id,
              ...(base.remoteRev ? { _rev: base.remoteRev } : {}),
            },
            pure: !base.keep,
          });
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
        const tp = this.ctx.projection.forDoc(doc, doc._id);
        writes.push({
          doc,
          tp,
          body: { ...tp.compose(tp.shared(doc), null, doc, 'push'), _id: doc._id },
          pure: true,
        });
      }
      let written = 0;
      const rejected: Item[] = [];
      const results = await this.ctx.remote.write(
        writes.map((w) => w.body),
        { maxBytes: this.ctx.batchBytes },
      );
      results.forEach((res, i) => {
        const w = writes[i];
        if (res.ok) {
          written++;
          const remoteDoc = { ...w.body, _rev: res.rev } as RemoteDoc;
          newBases.push([
            w.doc._id,
            this.rec.agreedBase(w.tp, w.doc, remoteDoc, undefined, w.pure ? 'push' : undefined),
          ]);
        } else if (res.conflict) {
          rejected.push({
            id: w.doc._id,
            tp: w.tp,
            local: w.doc,
            remote: null,
            base: bases.get(w.doc._id),
          });
        } else {
          this.ctx.log.warn(`cloud refused ${w.doc._id}: ${res.error} ${res.reason}`, {
            event: 'sync.reject',
            direction: 'push',
            doc_id: w.doc._id,
            error: res.error,
          });
        }
      });
      // 409: the cloud moved since the base. Read it once for all of them and reconcile.
      if (rejected.length > 0) {
        const current = await this.ctx.remote.current(rejected.map((r) => r.id));
        for (const r of rejected) {
          const cur = current.get(r.id);
          r.remote =
            cur && cur.exists
              ? (cur.doc ?? { _id: r.id, _rev: cur.rev, _deleted: cur.deleted })
              : null;
          slow.push(r);
        }
      }
      await this.ctx.bk.putBases(newBases);
      const resolved = await this.rec.reconcile(slow, 'push');
      return { docs: written + resolved.docs, conflicts: resolved.conflicts };
    } finally {
      release();
    }
  }
}

import { sameContent } from '../shared/canonical-json';
import type { Base, OpenConflict } from './bookkeeping';
import { settleCloudLeaves } from './cloud-leaves';
import type { SyncContext } from './context';
import { live, revGeneration } from './doc-helpers';
import type { LocalDoc, LocalWrite } from './local-store';
import { runPipeline } from './pipeline';
import { projectionHash, type TypeProjection } from './projection';
import { ChangesReadAhead } from './read-ahead';
import type { Reconciler } from './reconcile';
import type { RemoteChange, RemoteDoc } from './remote-store';
import type { BatchResult, Item } from './types';

/** A cloud document that needs a look at (or a write into) the books. */
interface PendingPull {
  r: RemoteDoc;
  tp: TypeProjection;
  base: Base | undefined;
}

/** A fast-path write: over the agreed local revision, or a create. */
interface FastWrite extends PendingPull {
  write: LocalWrite;
}

/** A careful-path write, over the books' copy as read. */
interface CarefulWrite {
  write: LocalWrite;
  r: RemoteDoc;
  tp: TypeProjection;
}

/** What a page has done so far; the bases are written in one go after all data writes. */
interface PullTally {
  docs: number;
  conflicts: number;
  newBases: Array<[string, Base]>;
}

/** A pull reads up to this many batches in one `_changes` request (and at most batchBytes): larger reads gained little at 50 ms and cost peak RSS. */
const READ_AHEAD_PAGES = 3;

/**
 * Cloud → local: follows the cloud's `_changes` from the pull checkpoint (long-polling when live),
 * settles cloud conflict leaves, and writes what changed into the books through the ledger checks.
 */
export class Puller {
  /** The cloud's `update_seq` from its database info (read-ahead.ts uses it when an integer). */
  cloudUpdateSeq: unknown = null;
  private longpollAbort: AbortController | null = null;

  constructor(
    private readonly ctx: SyncContext,
    private readonly rec: Reconciler,
  ) {}

  /** Cuts a waiting long-poll short (stop(), or a caller that wants a cycle now). */
  abortLongpoll(): void {
    this.longpollAbort?.abort();
  }

  /** Reads through a ChangesReadAhead (one round trip per large read, not per page); see read-ahead.ts. */
  async cycle(waitMs: number): Promise<BatchResult> {
    const reader = new ChangesReadAhead(this.ctx.remote, {
      pageSize: this.ctx.batchSize,
      maxRead: this.ctx.batchSize * READ_AHEAD_PAGES,
      maxReadBytes: this.ctx.batchBytes,
      cloudUpdateSeq: this.cloudUpdateSeq,
    });
    try {
      return await runPipeline(
        this.ctx,
        'pull',
        async (since, first) => {
          const wait = first && waitMs > 0 && !this.ctx.stopping() ? waitMs : 0;
          let signal: AbortSignal | undefined;
          if (wait > 0) {
            this.longpollAbort = new AbortController();
            signal = this.longpollAbort.signal;
          }
          try {
            const page = await reader.next(since, wait, signal);
            this.ctx.patchStatus({ pending_pull: page.pending });
            if (page.heldOpen) this.ctx.recheckCloud();
            return page;
          } catch (err) {
            if (signal?.aborted) return null; // cut short by stop() or syncOnce(): not a failure
            throw err;
          } finally {
            if (wait > 0) this.longpollAbort = null;
          }
        },
        (changes) => this.batch(changes),
      );
    } finally {
      reader.close();
    }
  }

  /** One page: settle cloud leaves, classify, fast-path writes, careful writes, then bases (data → bases; the pipeline writes the checkpoint after). */
  async batch(changes: RemoteChange[]): Promise<BatchResult> {
    const wanted = changes.filter((c) =>
      this.ctx.projection.forDoc(live(c.doc), c.id).goes('pull'),
    );
    if (wanted.length === 0) return { docs: 0, conflicts: 0 };
    const ids = [...new Set(wanted.map((c) => c.id))];
    const release = await this.ctx.lock.acquire(ids);
    try {
      const bases = await this.ctx.bk.bases(ids);
      const open = await this.rec.openConflictsAmong(ids);
      const tally: PullTally = { docs: 0, conflicts: 0, newBases: [] };
      const remoteDocs = await this.settleLeaves(wanted, bases, open, tally);
      const needLocal = await this.classify(remoteDocs, bases, open, tally);
      const { fast, careful } = this.splitFast(needLocal);
      careful.push(...(await this.writeFast(fast, tally)));
      const { writes, slow } = await this.planCareful(careful, tally);
      await this.writeCareful(writes, bases, tally);
      await this.ctx.bk.putBases(tally.newBases);
      const resolved = await this.rec.reconcile(slow, 'pull');
      return {
        docs: tally.docs + resolved.docs,
        conflicts: tally.conflicts + resolved.conflicts,
      };
    } finally {
      release();
    }
  }

  /** Cloud-side conflicts made by other writers: settle the leaves first; returns the page's docs by id as settled. */
  private async settleLeaves(
    wanted: RemoteChange[],
    bases: Map<string, Base>,
    open: Map<string, OpenConflict>,
    tally: PullTally,
  ): Promise<Map<string, RemoteDoc>> {
    const remoteDocs = new Map<string, RemoteDoc>();
    for (const c of wanted) remoteDocs.set(c.id, c.doc);
    const leafy = [...remoteDocs.values()].filter(
      (d) => (d._conflicts?.length ?? 0) > 0 && !open.has(d._id),
    );
    if (leafy.length > 0) {
      const settled = await settleCloudLeaves(this.ctx, this.rec, leafy, bases);
      tally.conflicts += settled.conflicts;
      tally.docs += settled.docs;
      for (const [id, doc] of settled.docsById) {
        if (doc) remoteDocs.set(id, doc);
        else remoteDocs.delete(id);
      }
    }
    return remoteDocs;
  }

  /**
   * Drops what needs no local write: open conflicts get the new cloud side, revisions already
   * agreed or older are skipped, and a cloud change outside the pulled projection only moves the
   * base. Returns the rest.
   */
  private async classify(
    remoteDocs: Map<string, RemoteDoc>,
    bases: Map<string, Base>,
    open: Map<string, OpenConflict>,
    tally: PullTally,
  ): Promise<PendingPull[]> {
    const needLocal: PendingPull[] = [];
    for (const r of remoteDocs.values()) {
      const tp = this.ctx.projection.forDoc(live(r), r._id);
      const base = bases.get(r._id);
      if (open.has(r._id)) {
        await this.ctx.bk.putConflict({ ...(open.get(r._id) as OpenConflict), remote: live(r) });
        continue;
      }
      if (base) {
        if (base.remoteRev === r._rev) continue;
        if (base.remoteRev && revGeneration(base.remoteRev) > revGeneration(r._rev)) continue; // stale page
        if (projectionHash(tp.project(r, 'pull')) === base.pullHash) {
          tally.newBases.push([
            r._id,
            {
              ...base,
              remoteRev: r._rev,
              ...(tp.remoteKeep(live(r)) ? { keep: tp.remoteKeep(live(r)) } : {}),
            },
          ]);
          continue;
        }
      }
      needLocal.push({ r, tp, base });
    }
    return needLocal;
  }

  /**
   * Fast path, no read of the books: a document new to this engine is created without `_rev`;
   * one whose books copy is still the agreed revision is written over `base.localRev`. Updates of
   * types with exclusions need the books' own excluded values, and posted moves need the stored
   * doc for the ledger check, so those take the careful path.
   */
  private splitFast(needLocal: PendingPull[]): { fast: FastWrite[]; careful: PendingPull[] } {
    const careful: PendingPull[] = [];
    const fast: FastWrite[] = [];
    for (const n of needLocal) {
      const { r, tp, base } = n;
      const rShared = live(r) ? tp.shared(r) : null;
      if (rShared === null || (base && (tp.hasExclusions || base.posted || !base.localRev)))
        careful.push(n);
      else
        fast.push({
          write: {
            doc: tp.compose(rShared, null, r, 'pull') as LocalWrite['doc'],
            current: base ? { _id: r._id, _rev: base.localRev } : null,
          },
          r,
          tp,
          base,
        });
    }
    return { fast, careful };
  }

  /** Writes the fast path; a 409 (the books have it, or moved) is returned for the careful path. */
  private async writeFast(fast: FastWrite[], tally: PullTally): Promise<PendingPull[]> {
    const careful: PendingPull[] = [];
    if (fast.length === 0) return careful;
    const results = await this.ctx.local.write(fast.map((w) => w.write));
    for (let i = 0; i < results.length; i++) {
      const res = results[i];
      const w = fast[i];
      if (res.ok) {
        tally.docs++;
        tally.newBases.push([
          w.r._id,
          this.rec.agreedBase(w.tp, withRev(w.write.doc, res.rev), w.r, w.tp.shared(w.r), 'pull'),
        ]);
      } else if (res.conflict) careful.push({ r: w.r, tp: w.tp, base: w.base });
      else {
        tally.conflicts++;
        await this.rec.recordConflict(
          { id: w.r._id, tp: w.tp, local: null, remote: w.r, base: w.base },
          res.code,
        );
      }
    }
    return careful;
  }

  /**
   * Careful path: reads the books' copies; where both sides agree only the base moves, where the
   * books changed too the item goes to reconcile, otherwise the cloud's version is written.
   */
  private async planCareful(
    careful: PendingPull[],
    tally: PullTally,
  ): Promise<{ writes: CarefulWrite[]; slow: Item[] }> {
    const current = await this.ctx.local.current(careful.map((n) => n.r._id));
    const writes: CarefulWrite[] = [];
    const slow: Item[] = [];
    for (const { r, tp, base } of careful) {
      const l = current.get(r._id) ?? null;
      const lShared = live(l) ? tp.shared(l as LocalDoc) : null;
      const rShared = live(r) ? tp.shared(r) : null;
      const localUnchanged = base
        ? (l?._rev === base.localRev && !!base.localRev) ||
          projectionHash(lShared) === base.sharedHash
        : l === null || (l._deleted === true && rShared === null);
      if (sameContent(lShared, rShared)) {
        tally.newBases.push([r._id, this.rec.agreedBase(tp, l, r)]);
        continue;
      }
      if (!localUnchanged) {
        slow.push({ id: r._id, tp, local: l, remote: r, base });
        continue;
      }
      if (rShared === null) {
        if (!live(l)) {
          tally.newBases.push([r._id, this.rec.agreedBase(tp, l, r)]);
          continue;
        }
        writes.push({ write: { doc: { _id: r._id, _deleted: true }, current: l }, r, tp });
      } else {
        writes.push({
          write: {
            doc: tp.compose(rShared, live(l), r, 'pull') as LocalWrite['doc'],
            current: l,
          },
          r,
          tp,
        });
      }
    }
    return { writes, slow };
  }

  private async writeCareful(
    writes: CarefulWrite[],
    bases: Map<string, Base>,
    tally: PullTally,
  ): Promise<void> {
    if (writes.length === 0) return;
    const results = await this.ctx.local.write(writes.map((w) => w.write));
    for (let i = 0; i < results.length; i++) {
      const res = results[i];
      const w = writes[i];
      if (res.ok) {
        tally.docs++;
        tally.newBases.push([
          w.r._id,
          this.rec.agreedBase(w.tp, withRev(w.write.doc, res.rev), w.r),
        ]);
      } else if (!res.conflict) {
        // The ledger refused it (an edit to a posted move, an unbalanced move): an admin decides.
        tally.conflicts++;
        await this.rec.recordConflict(
          {
            id: w.r._id,
            tp: w.tp,
            local: w.write.current,
            remote: w.r,
            base: bases.get(w.r._id),
          },
          res.code,
        );
      }
      // res.conflict: the books moved meanwhile; the next push sees both changes and reconciles.
    }
  }
}

/**
 * The written document as the books now hold it. Every `write.doc` of a pull is the page's own
 * object (`compose` makes a fresh top level, a deletion a fresh stub), so it takes its new `_rev`
 * in place instead of a copy of every written document.
 */
function withRev(doc: LocalWrite['doc'], rev: string): LocalDoc {
  doc._rev = rev;
  return doc as LocalDoc;
}

import { canonicalJson, sameContent } from '../shared/canonical-json';
import type { OpenConflict } from './bookkeeping';
import type { SyncContext } from './context';
import { bodyOf, live, revOver } from './doc-helpers';
import { SyncConflictError } from './errors';
import type { LocalDoc, LocalWrite } from './local-store';
import type { Content, TypeProjection } from './projection';
import type { Reconciler } from './reconcile';
import type { RemoteDoc, RemoteWrite } from './remote-store';
import type { AuditRecord, ConflictChoice } from './types';

/** What an admin does about conflicts: list the open ones and the resolved ones, resolve one. */
export class ConflictAdmin {
  constructor(
    private readonly ctx: SyncContext,
    private readonly rec: Reconciler,
  ) {}

  /** Open conflicts (for `booksync conflicts`), by document id. */
  async listConflicts(): Promise<OpenConflict[]> {
    const all = await this.ctx.bk.conflicts();
    this.rec.resetConflictIds(all.map((c) => c.doc_id));
    return all;
  }

  /** Audit records of resolutions (for `booksync conflicts --resolved`), oldest first. */
  async listResolved(): Promise<AuditRecord[]> {
    return (await this.ctx.local.withPrefix('audit:')) as unknown as AuditRecord[];
  }

  /**
   * Resolves an open conflict: take the books' version, the cloud's, or an edited document. Both
   * sides get the result (excluded fields keep each side's own values), cloud conflict leaves are
   * deleted, an audit record is written and the base moves on. A posted move may be replaced only
   * here (an explicit admin override, logged).
   */
  async resolveConflict(id: string, choice: ConflictChoice): Promise<AuditRecord> {
    const c = await this.ctx.bk.conflict(id);
    if (!c) throw new SyncConflictError(`no open conflict for ${id}`, { details: { doc_id: id } });
    const tp = this.ctx.projection.forType(c.type);
    const release = await this.ctx.lock.acquire([id]);
    try {
      const { l, r } = await this.readSides(id);
      const lShared = live(l) ? tp.shared(l as LocalDoc) : null;
      const rShared = live(r) ? tp.shared(r as RemoteDoc) : null;
      const { result, source, taken } = chosenResult(id, choice, tp, lShared, rShared, l, r);
      // A one-way type is written only on the side it goes to: resolving a pull-only conflict with
      // `take: local` keeps the books and moves the base past this cloud version, nothing more.
      const toCloud = tp.goes('push');
      const toBooks = tp.goes('pull') || !toCloud;
      const resolution: Resolution = { id, tp, l, r, rShared, result, source, toCloud, toBooks };
      const remoteRev = await this.writeCloud(resolution, c);
      const { localBody, localRev } = await this.writeBooks(resolution, 'doc' in choice);
      const audit = this.rec.auditBody(id, 'manual', lShared, rShared, c.base, result, taken, {
        reason: c.reason,
      });
      await this.rec.writeAudits([{ doc: audit as LocalWrite['doc'], current: null }]);
      await this.moveBase(resolution, localBody, localRev, remoteRev);
      await this.ctx.bk.deleteConflict(id);
      this.rec.forgetConflict(id);
      this.ctx.log.info(`conflict on ${id} resolved by an admin (took ${taken})`, {
        event: 'sync.conflict',
        doc_id: id,
        strategy: 'manual',
        taken,
      });
      return audit as unknown as AuditRecord;
    } finally {
      release();
    }
  }

  /** The books' and the cloud's current copies (null where a side has none). */
  private async readSides(id: string): Promise<{ l: LocalDoc | null; r: RemoteDoc | null }> {
    const [localMap, remoteMap] = await Promise.all([
      this.ctx.local.current([id]),
      this.ctx.remote.current([id]),
    ]);
    const l = localMap.get(id) ?? null;
    const cur = remoteMap.get(id);
    const r =
      cur && cur.exists ? (cur.doc ?? { _id: id, _rev: cur.rev, _deleted: cur.deleted }) : null;
    return { l, r };
  }

  /** Writes the result to the cloud (when the type goes there) and deletes its conflict leaves; returns the cloud revision after. */
  private async writeCloud(resolution: Resolution, c: OpenConflict): Promise<string | undefined> {
    const { id, tp, r, rShared, result, source, toCloud } = resolution;
    const leaves = toCloud
      ? (r?._conflicts ?? c.remote_leaves ?? []).filter((rev) => rev !== r?._rev)
      : [];
    const remoteWrites: RemoteWrite[] = [];
    if (toCloud && !sameContent(rShared, result) && !(result === null && !live(r))) {
      remoteWrites.push(
        result === null
          ? { _id: id, _rev: (r as RemoteDoc)._rev, _deleted: true }
          : {
              ...tp.compose(result, live(r), source, 'push'),
              _id: id,
              ...revOver(r),
            },
      );
    }
    for (const rev of leaves) remoteWrites.push({ _id: id, _rev: rev, _deleted: true });
    const wroteBody = remoteWrites.length > leaves.length;
    let remoteRev = r?._rev;
    if (remoteWrites.length > 0) {
      const results = await this.ctx.remote.write(remoteWrites);
      const bad = results.find((x) => !x.ok);
      if (bad)
        throw new SyncConflictError(
          `the cloud copy of ${id} changed while resolving; list the conflicts again and retry`,
          { details: { doc_id: id } },
        );
      if (wroteBody) remoteRev = (results[0] as { rev: string }).rev;
    }
    return remoteRev;
  }

  /** Writes the result into the books (an explicit, logged ledger override) when it differs there; returns the body and revision after. */
  private async writeBooks(
    resolution: Resolution,
    edited: boolean,
  ): Promise<{ localBody: Record<string, unknown>; localRev: string | undefined }> {
    const { id, tp, l, r, result, source, toBooks } = resolution;
    let localRev = l?._rev;
    const localBody: Record<string, unknown> =
      edited && source
        ? { ...source }
        : result === null
          ? { _id: id, _deleted: true }
          : tp.compose(result, live(l), live(r) ?? source, 'pull');
    delete localBody._rev;
    if (
      toBooks &&
      canonicalJson(bodyOf(live(l))) !== canonicalJson(bodyOf(result === null ? null : localBody))
    ) {
      if (!(result === null && !live(l))) {
        const [res] = await this.ctx.local.write([
          {
            doc: localBody as LocalWrite['doc'],
            current: l,
            override: { reason: `sync conflict on ${id} resolved by an admin` },
          },
        ]);
        if (!res.ok) {
          throw new SyncConflictError(
            res.conflict
              ? `the local copy of ${id} changed while resolving; retry`
              : `the books refused the resolution of ${id}: ${res.message}`,
            { details: { doc_id: id, ...(res.conflict ? {} : { code: res.code }) } },
          );
        }
        localRev = res.rev;
        this.ctx.log.warn(`override: admin resolution written over ${id}`, {
          event: 'ledger.override',
          doc_id: id,
          reason: 'sync conflict resolved by an admin',
        });
      }
    }
    return { localBody, localRev };
  }

  /** Moves the base to what both sides hold after the resolution (after the data writes). */
  private async moveBase(
    resolution: Resolution,
    localBody: Record<string, unknown>,
    localRev: string | undefined,
    remoteRev: string | undefined,
  ): Promise<void> {
    const { id, tp, l, r, result, source, toCloud, toBooks } = resolution;
    const localAfter =
      result === null
        ? l
          ? { _id: id, _rev: localRev, _deleted: true }
          : null
        : { ...localBody, _rev: localRev };
    const remoteAfter = !toCloud
      ? r
      : result === null
        ? r
          ? ({ _id: id, _rev: remoteRev, _deleted: true } as RemoteDoc)
          : null
        : ({
            ...tp.compose(result, live(r), source, 'push'),
            _id: id,
            _rev: remoteRev,
          } as RemoteDoc);
    const booksAfter = toBooks ? localAfter : l;
    await this.ctx.bk.putBases([
      [
        id,
        this.rec.agreedBase(
          tp,
          booksAfter,
          remoteAfter,
          toBooks ? result : live(l) ? tp.shared(l as LocalDoc) : null,
        ),
      ],
    ]);
  }
}

/** One conflict being resolved: both sides as read, the chosen result, and where it goes. */
interface Resolution {
  id: string;
  tp: TypeProjection;
  l: LocalDoc | null;
  r: RemoteDoc | null;
  rShared: Content | null;
  result: Content | null;
  source: Record<string, unknown> | null;
  toCloud: boolean;
  toBooks: boolean;
}

/** The admin's choice as shared content (null = deleted), the document it came from, and which side was taken. */
function chosenResult(
  id: string,
  choice: ConflictChoice,
  tp: TypeProjection,
  lShared: Content | null,
  rShared: Content | null,
  l: LocalDoc | null,
  r: RemoteDoc | null,
): {
  result: Content | null;
  source: Record<string, unknown> | null;
  taken: 'local' | 'remote' | 'merged';
} {
  if ('take' in choice) {
    return {
      taken: choice.take,
      result: choice.take === 'local' ? lShared : rShared,
      source: choice.take === 'local' ? live(l) : live(r),
    };
  }
  if (
    !choice.doc ||
    typeof choice.doc !== 'object' ||
    (choice.doc._id !== undefined && choice.doc._id !== id)
  ) {
    throw new SyncConflictError(`the resolved document must be an object with _id ${id}`, {
      details: { doc_id: id },
    });
  }
  const doc: Record<string, unknown> & { _id: string } = { ...choice.doc, _id: id };
  return {
    result: doc._deleted ? null : tp.shared(doc),
    source: doc._deleted ? null : doc,
    taken: 'merged',
  };
}

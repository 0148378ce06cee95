import { sameContent } from '../shared/canonical-json';
import type { Base } from './bookkeeping';
import { remoteWins, type Resolution } from './conflicts';
import type { SyncContext } from './context';
import { isPostedMove, live } from './doc-helpers';
import type { LocalWrite } from './local-store';
import type { Content } from './projection';
import type { Reconciler, ResolutionReport } from './reconcile';
import type { RemoteDoc, RemoteWrite } from './remote-store';

/**
 * Settles cloud documents that have conflict leaves: the CouchDB recipe (read the leaves, merge
 * with the type's strategy, update the winner, delete the losers). `local-wins` / `remote-wins`
 * keep CouchDB's winner (no leaf is the books').
 * @link https://docs.couchdb.org/en/stable/replication/conflicts.html
 */
export async function settleCloudLeaves(
  ctx: SyncContext,
  rec: Reconciler,
  docs: RemoteDoc[],
  bases: Map<string, Base>,
): Promise<{ docs: number; conflicts: number; docsById: Map<string, RemoteDoc | null> }> {
  const refs = docs.flatMap((d) => (d._conflicts ?? []).map((rev) => ({ id: d._id, rev })));
  const leaves = await ctx.remote.revisions(refs);
  const byId = new Map<string, RemoteDoc[]>();
  for (const leaf of leaves) byId.set(leaf._id, [...(byId.get(leaf._id) ?? []), leaf]);
  const out = new Map<string, RemoteDoc | null>();
  const plans: SettlePlan[] = [];
  let conflicts = 0;
  for (const winner of docs) {
    const tp = ctx.projection.forDoc(winner, winner._id);
    const losers = byId.get(winner._id) ?? [];
    const base = bases.get(winner._id);
    let strategy = ctx.strategyFor(tp.type);
    if (strategy.name === 'local-wins' || strategy.name === 'remote-wins') strategy = remoteWins;
    let acc: Content | null = tp.shared(winner);
    const audits: Record<string, unknown>[] = [];
    let manual = false;
    for (const loser of losers) {
      const loserShared = live(loser) ? tp.shared(loser) : null;
      if (strategy.isEqual(loserShared, acc)) continue;
      conflicts++;
      const res: Resolution =
        isPostedMove(acc) || isPostedMove(loserShared)
          ? { kind: 'manual' }
          : strategy.resolve({
              id: winner._id,
              local: loserShared,
              remote: acc,
              base: base?.shared ?? null,
            });
      if (res.kind === 'manual') {
        manual = true;
        break;
      }
      audits.push(
        rec.auditBody(
          winner._id,
          strategy.name,
          loserShared,
          acc,
          base?.shared ?? null,
          res.result,
          res.taken === 'local' ? 'local' : res.taken === 'remote' ? 'remote' : 'merged',
          { scope: 'cloud', leaf_rev: loser._rev },
        ),
      );
      acc = res.result;
    }
    if (manual) {
      await rec.recordConflict(
        { id: winner._id, tp, local: null, remote: winner, base },
        isPostedMove(tp.shared(winner)) ? 'posted_move' : 'manual',
        losers.map((l) => l._rev),
      );
      out.set(winner._id, null);
      continue;
    }
    const body: RemoteWrite | null = sameContent(acc, tp.shared(winner))
      ? null
      : acc === null
        ? { _id: winner._id, _rev: winner._rev, _deleted: true }
        : {
            ...tp.compose(acc, winner, winner, 'push'),
            _id: winner._id,
            _rev: winner._rev,
          };
    plans.push({ winner, body, losers, audits });
  }
  const { bodyRevs, deleted, failed } = await writeSettlements(ctx, plans);
  const auditDocs: LocalWrite[] = [];
  const resolved: ResolutionReport[] = [];
  for (const p of plans) {
    const id = p.winner._id;
    const bodyRev = bodyRevs.get(id);
    // A resolution that changed the cloud at all (the merged winner, or a loser deleted) has
    // overwritten something: its audit is written even when another of its writes failed.
    if (bodyRev !== undefined || (deleted.has(id) && !p.body)) {
      for (const a of p.audits) {
        auditDocs.push({ doc: a as LocalWrite['doc'], current: null });
        resolved.push({
          type: ctx.projection.forDoc(p.winner, id).type,
          strategy: String(a.strategy),
        });
      }
    }
    if (bodyRev !== undefined) {
      // A loser whose deletion failed stays a leaf of the new winner: the write just made puts the
      // document in the feed again, and the next pull settles it against this result.
      out.set(id, { ...p.body, _rev: bodyRev } as RemoteDoc);
      continue;
    }
    if (failed.has(id)) {
      out.set(id, null); // moved meanwhile: a later change brings it back
      continue;
    }
    const settled: RemoteDoc = { ...p.winner };
    delete settled._conflicts; // its leaves are gone
    out.set(id, settled);
  }
  if (auditDocs.length > 0) await rec.writeAudits(auditDocs);
  rec.announce(resolved);
  return { docs: bodyRevs.size, conflicts, docsById: out };
}

interface SettlePlan {
  winner: RemoteDoc;
  /** The winner rewritten with the merged content, or null when the winner's content stands. */
  body: RemoteWrite | null;
  losers: RemoteDoc[];
  audits: Record<string, unknown>[];
}

/**
 * Writes the merged winners first and deletes the losing leaves only of documents whose winner
 * now holds the result (or needed no change): a loser is never deleted before its values are in
 * the winner. CouchDB's `_bulk_docs` is not atomic across documents or revisions, and on a
 * cluster one revision of a document can be refused while another is taken (a leaf that has
 * reached only some shard copies), so one request for both could delete a loser whose merge was
 * refused, or merge into the winner and then lose the record of it.
 * @link https://docs.couchdb.org/en/stable/api/database/bulk-api.html#api-db-bulk-docs
 */
async function writeSettlements(
  ctx: SyncContext,
  plans: readonly SettlePlan[],
): Promise<{ bodyRevs: Map<string, string>; deleted: Set<string>; failed: Set<string> }> {
  const bodyRevs = new Map<string, string>();
  const failed = new Set<string>();
  const withBody = plans.filter((p) => p.body);
  const bodyResults =
    withBody.length > 0
      ? await ctx.remote.write(
          withBody.map((p) => p.body as RemoteWrite),
          { maxBytes: ctx.batchBytes },
        )
      : [];
  bodyResults.forEach((r, i) => {
    if (r.ok) bodyRevs.set(withBody[i].winner._id, r.rev);
    else failed.add(withBody[i].winner._id);
  });
  const deletions: RemoteWrite[] = plans
    .filter((p) => !failed.has(p.winner._id))
    .flatMap((p) => p.losers.map((l) => ({ _id: l._id, _rev: l._rev, _deleted: true })));
  const results =
    deletions.length > 0 ? await ctx.remote.write(deletions, { maxBytes: ctx.batchBytes }) : [];
  const deleted = new Set<string>();
  for (const r of results) {
    if (r.ok) deleted.add(r.id);
    else failed.add(r.id);
  }
  return { bodyRevs, deleted, failed };
}

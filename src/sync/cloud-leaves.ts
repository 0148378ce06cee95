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
 * with the type's strategy, then one `_bulk_docs` that updates the winner and deletes the
 * losers). `local-wins` / `remote-wins` keep CouchDB's winner (no leaf is the books').
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
  const writes: RemoteWrite[] = [];
  const plans: Array<{
    winner: RemoteDoc;
    body: RemoteWrite | null;
    at: number;
    audits: Record<string, unknown>[];
  }> = [];
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
    const at = writes.length;
    if (body) writes.push(body);
    for (const loser of losers) writes.push({ _id: loser._id, _rev: loser._rev, _deleted: true });
    plans.push({ winner, body, at, audits });
  }
  const results =
    writes.length > 0 ? await ctx.remote.write(writes, { maxBytes: ctx.batchBytes }) : [];
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
    out.set(
      p.winner._id,
      p.body ? { ...p.body, _rev: revOf.get(p.winner._id) ?? p.winner._rev } : rest,
    );
    for (const a of p.audits) {
      auditDocs.push({ doc: a as LocalWrite['doc'], current: null });
      resolved.push({
        type: ctx.projection.forDoc(p.winner, p.winner._id).type,
        strategy: String(a.strategy),
      });
    }
  }
  if (auditDocs.length > 0) await rec.writeAudits(auditDocs);
  rec.announce(resolved);
  return { docs: plans.filter((p) => p.body).length, conflicts, docsById: out };
}

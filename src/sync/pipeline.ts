import { canonicalJson } from '../shared/canonical-json';
import type { SyncContext } from './context';
import type { CheckpointName } from './bookkeeping';
import type { Way } from './projection';
import type { BatchResult } from './types';

/** One page as a direction's reader hands it over. */
export interface PipelinePage<C> {
  changes: C[];
  lastSeq: unknown;
  more: boolean;
}

/**
 * Reads pages one after another and processes up to `depth` of them at once; checkpoints are
 * written strictly in page order, each after its page's data and bases. `checkpoint` names the
 * bookkeeping entry that holds the place (a direction, or a re-walk of the books).
 */
export async function runPipeline<C>(
  ctx: SyncContext,
  way: Way,
  read: (since: unknown, first: boolean) => Promise<PipelinePage<C> | null>,
  process: (changes: C[]) => Promise<BatchResult>,
  checkpoint: CheckpointName = way,
): Promise<BatchResult> {
  const total: BatchResult = { docs: 0, conflicts: 0 };
  let since = await ctx.bk.checkpoint(checkpoint);
  let committed: Promise<void> = Promise.resolve();
  const window: Promise<unknown>[] = [];
  let readError: { cause: unknown } | undefined;
  let first = true;
  try {
    while (!ctx.stopping() || first) {
      const page = await read(since, first);
      first = false;
      if (!page) break;
      const seq = page.lastSeq;
      const moved = canonicalJson(seq) !== canonicalJson(since);
      since = seq;
      if (page.changes.length > 0) ctx.markBusy(way);
      const work =
        page.changes.length > 0
          ? process(page.changes)
          : Promise.resolve({ docs: 0, conflicts: 0 });
      work.catch(() => undefined);
      const prev = committed;
      committed = (async () => {
        const r = await work;
        await prev;
        if (moved) await ctx.bk.setCheckpoint(checkpoint, seq);
        total.docs += r.docs;
        total.conflicts += r.conflicts;
      })();
      committed.catch(() => undefined);
      window.push(committed);
      if (window.length >= ctx.depth) await window.shift();
      if (!page.more) break;
    }
  } catch (err) {
    readError = { cause: err };
  }
  await committed;
  if (readError) throw readError.cause;
  return total;
}

import type { BankTransaction } from './provider';

/**
 * OFX corrections inside one feed (OFX 1.6 §11.4.2.3.1, STMTTRN CORRECTFITID / CORRECTACTION; docs/FORMATS.md
 * §OFX "Corrections"): a DELETE line is an instruction, not a line; a REPLACE line is a line plus
 * an instruction; the corrected original, when it is in the same feed, is superseded and dropped.
 * The import (dedup.ts) and the `parse` preview both go through {@link applyFeedCorrections}, so
 * the preview shows what the import stores.
 */

export interface FeedCorrection {
  /** The provider id (FITID) the correction targets, trimmed. */
  target: string;
  action: 'REPLACE' | 'DELETE';
  /** The provider id of the correcting line, when it has one. */
  by?: string;
  /** Whether the corrected original was in this feed (and so was dropped from it). */
  inFeed: boolean;
}

/** The feed's lines after its corrections, and the corrections it holds. */
export function applyFeedCorrections(txs: readonly BankTransaction[]): {
  lines: BankTransaction[];
  corrections: FeedCorrection[];
} {
  const corrections: FeedCorrection[] = [];
  for (const t of txs) {
    const target = t.corrects?.providerId.trim();
    if (target)
      corrections.push({
        target,
        action: t.corrects!.action,
        ...(t.providerId?.trim() ? { by: t.providerId.trim() } : {}),
        inFeed: false,
      });
  }
  if (corrections.length === 0) return { lines: txs as BankTransaction[], corrections };
  const targets = new Set(corrections.map((c) => c.target));
  const present = new Set<string>();
  const lines = txs.filter((t) => {
    if (t.corrects) return t.corrects.action === 'REPLACE';
    const id = t.providerId?.trim();
    if (id && targets.has(id)) {
      present.add(id);
      return false;
    }
    return true;
  });
  for (const c of corrections) c.inFeed = present.has(c.target);
  return { lines, corrections };
}

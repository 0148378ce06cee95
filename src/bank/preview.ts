import type { ParsedStatementFile } from './formats';
import { applyFeedCorrections, type FeedCorrection } from './corrections';
import type { BankAccountStatement } from './provider';

/** A statement as the import would store it, with the corrections it applied. */
export type PreviewStatement = BankAccountStatement & { corrections?: FeedCorrection[] };

export interface StatementPreview extends Omit<ParsedStatementFile, 'statements'> {
  statements: PreviewStatement[];
}

/**
 * What importing a parsed file would store, for `booksync parse`: each statement's lines after
 * its CORRECTFITID / CORRECTACTION corrections, through the same function the import uses
 * (corrections.ts), with the corrections listed so the preview can mark them.
 */
export function previewStatements(parsed: ParsedStatementFile): StatementPreview {
  const statements = parsed.statements.map((st): PreviewStatement => {
    const { lines, corrections } = applyFeedCorrections(st.transactions);
    return corrections.length === 0 ? st : { ...st, transactions: lines, corrections };
  });
  return { ...parsed, statements };
}

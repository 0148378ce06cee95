import { randomUUID } from 'node:crypto';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { StoreError, idPrefix, type BooksStore, type StagedImport } from '../ledger';
import type { BankConnectionState } from './status';

/**
 * The bank side of staged imports (src/ledger/staged-imports.ts): a run names its import on the
 * status document before it writes a line, its new lines carry the import id, and one status
 * write clears the name once every line is stored. Until then the lines are invisible; a run that
 * failed leaves them to {@link rollbackStaged}, here or at the next start.
 */

/** Lines read and deleted per request while rolling an import back. */
const ROLLBACK_PAGE = 1_000;

/** A fresh staging record for a run starting at `now`. */
export function newStagedImport(now: Date): StagedImport {
  return { id: randomUUID(), started_at: now.toISOString() };
}

/** `doc` without its staging record: written, it is the commit record of the import. */
export function withoutStaged(doc: BankConnectionState): BankConnectionState {
  if (!doc.staged_import) return doc;
  const next = { ...doc };
  delete next.staged_import;
  return next;
}

/** What rolling back needs of the books: reads through `db`, deletions through the store. */
export type RollbackBooks = Pick<BooksStore, 'db' | 'putMany'>;

/**
 * Deletes the lines of `connection` that carry `importId`, page by page (memory holds one page).
 * Staged lines were never visible, so their deletion is not pushed (the cloud never had them).
 * Returns how many lines were deleted.
 */
export async function deleteImportLines(
  books: RollbackBooks,
  connection: string,
  importId: string,
): Promise<number> {
  const prefix = `${idPrefix('statement_line')}${connection}:`;
  let startkey = prefix;
  let deleted = 0;
  for (;;) {
    let rows: Array<{ id: string; doc?: { _rev?: string; import_id?: unknown } | null }>;
    try {
      const res = await books.db.allDocs({
        include_docs: true,
        startkey,
        endkey: `${prefix}\uffff`,
        limit: ROLLBACK_PAGE,
      });
      rows = res.rows;
    } catch (err) {
      throw new StoreError(
        'STORE_IO',
        `cannot read the staged lines of ${connection}: ${describeError(err).message}`,
        { cause: err },
      );
    }
    if (rows.length === 0) return deleted;
    const stubs = rows.flatMap((r) =>
      r.doc && r.doc.import_id === importId && r.doc._rev
        ? [{ _id: r.id, _rev: r.doc._rev, _deleted: true as const }]
        : [],
    );
    if (stubs.length > 0) {
      try {
        await books.putMany(stubs);
      } catch (err) {
        const ids = (err as { details?: { ids?: unknown } }).details?.ids;
        const count = Array.isArray(ids) ? ids.length : stubs.length;
        throw new StoreError(
          'STORE_WRITE',
          `cannot delete ${count} staged line(s) of ${connection}`,
          {
            cause: err,
            details: { connection, count },
          },
        );
      }
      deleted += stubs.length;
    }
    if (rows.length < ROLLBACK_PAGE) return deleted;
    // The key right after the page's last: that row may be deleted now, so `skip: 1` would skip a live one.
    startkey = `${rows[rows.length - 1].id}\u0000`;
  }
}

/**
 * Rolls back the staged import recorded on `doc`, if any: its lines are deleted, then the record
 * is cleared with `save`. Returns the status document as saved (or `doc` unchanged).
 */
export async function rollbackStaged(
  books: RollbackBooks,
  doc: BankConnectionState,
  save: (next: BankConnectionState) => Promise<BankConnectionState>,
  log: Logger,
): Promise<BankConnectionState> {
  const staged = doc.staged_import;
  if (!staged) return doc;
  const deleted = await deleteImportLines(books, doc.name, staged.id);
  const saved = await save(withoutStaged(doc));
  log.warn(
    `${doc.name}: an import started at ${staged.started_at} did not finish; its ${deleted} staged line(s) were removed and its input is read again`,
    {
      event: 'bank.import_rollback',
      connection: doc.name,
      import_id: staged.id,
      started_at: staged.started_at,
      lines: deleted,
    },
  );
  return saved;
}

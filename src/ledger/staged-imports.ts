import { bankConnectionId, type StatementLineDoc } from './model';

/**
 * Staged bank imports: a file imports whole or not at all (README, Bank connections).
 *
 * A bank run writes its new statement lines with `import_id` set to the run's import id, after
 * the connection's status document (`bankconn:<name>`) has named that id in `staged_import`. Until
 * one write of the status document clears `staged_import` (the commit record) those lines are
 * staged: the ledger automation, the reports and the push to the cloud pass them by. A run that
 * dies half-way leaves them staged, and the connection's next run deletes them before it reads
 * its input again. A line without `import_id`, or whose import is no longer staged, is visible.
 */

/** The staging record on a connection's status document. */
export interface StagedImport {
  /** The import id its lines carry as `import_id`. */
  id: string;
  started_at: string;
}

/** What the staging check needs of the books: the PouchDB handle. */
export interface StagingBooks {
  db: PouchDB.Database;
}

interface MaybeStagedLine {
  _id: string;
  type?: unknown;
  connection?: unknown;
  import_id?: unknown;
  _deleted?: boolean;
}

function importOf(doc: MaybeStagedLine): { connection: string; importId: string } | undefined {
  if (
    doc._deleted ||
    doc.type !== 'statement_line' ||
    typeof doc.import_id !== 'string' ||
    typeof doc.connection !== 'string'
  )
    return undefined;
  return { connection: doc.connection, importId: doc.import_id };
}

/** Connection name → the id of its staged import, for the connections named (those with one). */
export async function stagedImportsOf(
  books: StagingBooks,
  connections: Iterable<string>,
): Promise<Map<string, string>> {
  const names = [...new Set(connections)];
  const out = new Map<string, string>();
  if (names.length === 0) return out;
  const res = await books.db.allDocs({ keys: names.map(bankConnectionId), include_docs: true });
  res.rows.forEach((row, i) => {
    const doc = (row as { doc?: { staged_import?: Partial<StagedImport> } | null }).doc;
    const id = doc?.staged_import?.id;
    if (typeof id === 'string') out.set(names[i], id);
  });
  return out;
}

/** Ids of the documents among `docs` that are lines of a staged import. */
export async function stagedAmong(
  books: StagingBooks,
  docs: readonly MaybeStagedLine[],
): Promise<Set<string>> {
  const held = new Set<string>();
  const connections = new Set<string>();
  for (const doc of docs) {
    const at = importOf(doc);
    if (at) connections.add(at.connection);
  }
  if (connections.size === 0) return held;
  const staged = await stagedImportsOf(books, connections);
  for (const doc of docs) {
    const at = importOf(doc);
    if (at && staged.get(at.connection) === at.importId) held.add(doc._id);
  }
  return held;
}

/** `lines` without the lines of staged imports, in their order. */
export async function visibleLines<T extends Pick<StatementLineDoc, '_id'>>(
  books: StagingBooks,
  lines: T[],
): Promise<T[]> {
  const held = await stagedAmong(books, lines);
  return held.size === 0 ? lines : lines.filter((l) => !held.has(l._id));
}

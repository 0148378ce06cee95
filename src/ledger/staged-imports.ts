import { bankConnectionId, idPrefix, type StatementLineDoc } from './model';

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

/**
 * Every connection with a staged import → its import id: one range read of the status documents
 * (a handful). Read it after the documents it judges, as {@link stagedIds} does: an import names
 * itself on its status document before it writes a line, so a line read first is judged right.
 */
export async function allStagedImports(books: StagingBooks): Promise<Map<string, string>> {
  const prefix = idPrefix('bank_connection');
  const res = await books.db.allDocs({
    include_docs: true,
    startkey: prefix,
    endkey: `${prefix}\uffff`,
  });
  const out = new Map<string, string>();
  for (const row of res.rows) {
    const doc = (row as { doc?: { name?: unknown; staged_import?: Partial<StagedImport> } }).doc;
    const id = doc?.staged_import?.id;
    if (typeof id === 'string') out.set(row.id.slice(prefix.length), id);
  }
  return out;
}

/** An id, and its document when the caller has read it already. */
export interface IdAndDoc {
  id: string;
  doc?: unknown;
}

/**
 * The ids among `entries` that are lines of a staged import, for readers that hold ids (a
 * changes feed, `_all_docs` rows) rather than documents: the lines of connections with a staged
 * import whose document the entry lacks are read in one request.
 */
export async function stagedIds(
  books: StagingBooks,
  entries: readonly IdAndDoc[],
): Promise<Set<string>> {
  const held = new Set<string>();
  const lineIds = entries.filter((e) => e.id.startsWith(idPrefix('statement_line')));
  if (lineIds.length === 0) return held;
  const staged = await allStagedImports(books);
  if (staged.size === 0) return held;
  const prefixes = [...staged.keys()].map((c) => `${idPrefix('statement_line')}${c}:`);
  const candidates = lineIds.filter((e) => prefixes.some((p) => e.id.startsWith(p)));
  const docs = new Map<string, MaybeStagedLine>();
  const toRead: string[] = [];
  for (const e of candidates) {
    if (isLineLike(e.doc)) docs.set(e.id, e.doc);
    else toRead.push(e.id);
  }
  if (toRead.length > 0) {
    const res = await books.db.allDocs({ keys: [...new Set(toRead)], include_docs: true });
    for (const row of res.rows as Array<{ id?: string; doc?: unknown }>)
      if (row.id !== undefined && isLineLike(row.doc)) docs.set(row.id, row.doc);
  }
  for (const e of candidates) {
    const at = importOf(docs.get(e.id) ?? { _id: e.id });
    if (at && staged.get(at.connection) === at.importId) held.add(e.id);
  }
  return held;
}

function isLineLike(doc: unknown): doc is MaybeStagedLine {
  return (
    typeof doc === 'object' && doc !== null && typeof (doc as { _id?: unknown })._id === 'string'
  );
}

/** `lines` without the lines of staged imports, in their order. */
export async function visibleLines<T extends Pick<StatementLineDoc, '_id'>>(
  books: StagingBooks,
  lines: T[],
): Promise<T[]> {
  const held = await stagedAmong(books, lines);
  return held.size === 0 ? lines : lines.filter((l) => !held.has(l._id));
}

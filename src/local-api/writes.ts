import { randomUUID } from 'node:crypto';
import {
  LedgerError,
  docType,
  idPrefix,
  isDocType,
  stampDoc,
  validateWrite,
  type BooksDoc,
  type DeletionStub,
} from '../ledger';
import type { Logger } from '../shared/logger';
import {
  badRequest,
  conflict,
  forbidden,
  ledgerRefusal,
  toCouchError,
  type CouchError,
} from './errors';

/** A document as a client sends it: any JSON object. */
export type IncomingDoc = Record<string, unknown>;

/** One entry of a `_bulk_docs` answer, in CouchDB's shape. */
export type WriteResult =
  | { ok: true; id: string; rev: string }
  | {
      id: string;
      rev?: string;
      error: string;
      reason: string;
      code?: string;
      /** HTTP status for a single-document request. */ status: number;
    };

interface Winner {
  rev: string;
  /** The live winning document; `undefined` when the winner is a tombstone. */
  doc: BooksDoc | undefined;
}

/**
 * Every write that reaches the books through the local API: checks each ledger document with
 * `validateWrite` against the document it would replace (the current winner), as CouchDB's
 * validate_doc_update would, and writes the accepted ones in one `bulkDocs`.
 *
 * - `_local/` documents (replication checkpoints) are written as given: they are not books.
 * - `_design/` documents are refused: the books run no views or validation functions, and a design
 *   document replicated from a client would only travel on to the cloud.
 * - With `new_edits` (an edit) the document is stamped (`updated_at`, `created_at`, `posted_at`)
 *   so `newest-wins` sees the edit; without (replication) the revision is stored exactly as sent.
 *
 * Writes run one batch at a time, so a check and its write see the same winner.
 */
export class LedgerWriter {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: PouchDB.Database,
    private readonly clock: () => Date,
    private readonly log: Logger,
  ) {}

  /** Writes `docs`; one result per document, in order. Throws only when the store fails. */
  write(docs: readonly IncomingDoc[], newEdits: boolean): Promise<WriteResult[]> {
    const run = this.queue.then(() => this.writeNow(docs, newEdits));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeNow(docs: readonly IncomingDoc[], newEdits: boolean): Promise<WriteResult[]> {
    const results = new Array<WriteResult | undefined>(docs.length);
    const prepared = docs.map((doc) =>
      newEdits && typeof doc._id !== 'string' ? { ...doc, _id: generateId(doc) } : doc,
    );
    const ledgerIds = [
      ...new Set(prepared.flatMap((d) => (isLedgerId(d._id) ? [d._id as string] : []))),
    ];
    const winners = await this.winners(ledgerIds);
    const now = this.clock();
    const toWrite: IncomingDoc[] = [];
    const slots: number[] = [];

    prepared.forEach((doc, i) => {
      const id = doc._id;
      if (typeof id !== 'string') {
        results[i] = failure('', badRequest('Document id must be a string'));
        return;
      }
      if (id.startsWith('_design/')) {
        results[i] = failure(id, forbidden('design documents cannot be written to the books'));
        return;
      }
      if (id.startsWith('_') && !id.startsWith('_local/')) {
        results[i] = {
          id,
          error: 'illegal_docid',
          reason: 'Only reserved document ids may start with underscore.',
          status: 400,
        };
        return;
      }
      let next = doc;
      if (isLedgerId(id)) {
        const winner = winners.get(id);
        const deletion = doc._deleted === true;
        if (newEdits && !deletion)
          next = stampDoc(doc as unknown as BooksDoc, winner?.doc, now) as unknown as IncomingDoc;
        if (!deletion || touchesWinner(doc, winner, newEdits)) {
          try {
            validateWrite(next as unknown as BooksDoc | DeletionStub, winner?.doc);
          } catch (err) {
            if (!(err instanceof LedgerError)) throw err;
            this.log.info(`local API refused a write: ${err.message}`, {
              event: 'local_api.refused',
              doc_id: id,
              code: err.code,
              new_edits: newEdits,
            });
            results[i] = failure(id, ledgerRefusal(err), revOf(doc));
            return;
          }
        }
      }
      toWrite.push(next);
      slots.push(i);
    });

    if (toWrite.length > 0) {
      const written = await this.db.bulkDocs(
        toWrite as unknown as PouchDB.Core.PutDocument<object>[],
        { new_edits: newEdits },
      );
      slots.forEach((slot, j) => {
        const r = written[j] as (PouchDB.Core.Response & PouchDB.Core.Error) | undefined;
        const id = toWrite[j]._id as string;
        if (r === undefined || r.ok) {
          results[slot] = { ok: true, id, rev: r?.rev ?? revOf(toWrite[j]) ?? '' };
        } else {
          const err = r.status === 409 ? conflict() : toCouchError(r);
          results[slot] = err
            ? failure(id, err, revOf(toWrite[j]))
            : { id, error: 'unknown_error', reason: String(r.message ?? r.name), status: 500 };
        }
      });
    }
    return results as WriteResult[];
  }

  private async winners(ids: string[]): Promise<Map<string, Winner>> {
    const out = new Map<string, Winner>();
    if (ids.length === 0) return out;
    const res = await this.db.allDocs({ keys: ids, include_docs: true });
    for (const row of res.rows as Array<{
      key: string;
      value?: { rev: string; deleted?: boolean };
      doc?: object | null;
    }>) {
      if (!row.value) continue;
      out.set(row.key, {
        rev: row.value.rev,
        doc: row.value.deleted || !row.doc ? undefined : (row.doc as BooksDoc),
      });
    }
    return out;
  }
}

/** Ids of the books' own documents (`account:…`, `move:…`), and any other id a client makes up. */
function isLedgerId(id: unknown): boolean {
  return typeof id === 'string' && !id.startsWith('_');
}

/**
 * Whether a deletion would take away the visible document. A tombstone never outranks a live
 * leaf, so deleting another leaf (resolving a conflict) leaves the winner as it is and needs no
 * ledger check; deleting the winner itself (or a path through it) does.
 */
function touchesWinner(doc: IncomingDoc, winner: Winner | undefined, newEdits: boolean): boolean {
  if (winner === undefined || winner.doc === undefined) return false;
  if (newEdits) return doc._rev === undefined || doc._rev === winner.rev;
  const path = revisionPath(doc);
  return path === undefined || path.includes(winner.rev);
}

/** The revisions a replicated document carries (`_revisions`), newest first; `undefined` when absent. */
function revisionPath(doc: IncomingDoc): string[] | undefined {
  const revs = doc._revisions as { start?: unknown; ids?: unknown } | undefined;
  if (!revs || typeof revs.start !== 'number' || !Array.isArray(revs.ids)) return undefined;
  const start = revs.start;
  return revs.ids.map((hash, i) => `${start - i}-${String(hash)}`);
}

function revOf(doc: IncomingDoc): string | undefined {
  return typeof doc._rev === 'string' ? doc._rev : undefined;
}

function failure(id: string, err: CouchError, rev?: string): WriteResult {
  return { id, ...(rev ? { rev } : {}), ...err.body(), status: err.status } as WriteResult;
}

/**
 * A server-made id for `POST /books`. A document that names its type gets the books' id shape,
 * so the ledger can accept it: the natural key where the type has one (`account:<code>`,
 * `journal:<code>`, `invoice:<number>`), else a uuid under the type's prefix (`partner:<uuid>`,
 * `move:<journal>:<uuid>`, `stl:<connection>:<uuid>`). Anything else gets a bare uuid, which the
 * ledger then refuses with a message saying why.
 */
export function generateId(doc: IncomingDoc): string {
  const uuid = randomUUID().replace(/-/g, '');
  const type = doc.type;
  if (!isDocType(type)) return uuid;
  const natural =
    type === 'account' || type === 'journal'
      ? doc.code
      : type === 'invoice'
        ? doc.number
        : undefined;
  const scope =
    type === 'move' ? doc.journal : type === 'statement_line' ? doc.connection : undefined;
  let id = `${idPrefix(type)}${uuid}`;
  if (natural !== undefined)
    id = typeof natural === 'string' && natural !== '' ? `${idPrefix(type)}${natural}` : uuid;
  else if (scope !== undefined)
    id =
      typeof scope === 'string' && scope !== '' && !scope.includes(':')
        ? `${idPrefix(type)}${scope}:${uuid}`
        : uuid;
  return docType(id) === type ? id : uuid;
}

import { randomUUID } from 'node:crypto';
import { docType, idPrefix, isDocType, type BooksStore, type WrittenDoc } from '../ledger';
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

/** What the writer needs of the books. */
export type WritableBooks = Pick<BooksStore, 'writeRevisions'>;

/**
 * Every write that reaches the books through the local API, as CouchDB's `_bulk_docs` answers
 * it: `BooksStore.writeRevisions` checks each ledger document against the document it would
 * replace (the current winner), as CouchDB's validate_doc_update would, stamps edits, and writes
 * the accepted ones in one `bulkDocs`, holding their ids so no other write lands in between.
 *
 * - `_local/` documents (replication checkpoints) are written as given: they are not books.
 * - `_design/` documents are refused: the books run no views or validation functions, and a design
 *   document replicated from a client would only travel on to the cloud.
 * - With `new_edits` (an edit) the document is stamped (`updated_at`, `created_at`, `posted_at`)
 *   so `newest-wins` sees the edit; without (replication) the revision is stored exactly as sent.
 */
export class LedgerWriter {
  constructor(
    private readonly books: WritableBooks,
    private readonly clock: () => Date,
    private readonly log: Logger,
  ) {}

  /** Writes `docs`; one result per document, in order. Throws only when the store fails. */
  async write(docs: readonly IncomingDoc[], newEdits: boolean): Promise<WriteResult[]> {
    const results = new Array<WriteResult | undefined>(docs.length);
    const prepared = docs.map((doc) =>
      newEdits && typeof doc._id !== 'string' ? { ...doc, _id: generateId(doc) } : doc,
    );
    const toWrite: WrittenDoc[] = [];
    const slots: number[] = [];
    prepared.forEach((doc, i) => {
      const refusal = idRefusal(doc._id);
      if (refusal) results[i] = refusal;
      else {
        toWrite.push(doc as WrittenDoc);
        slots.push(i);
      }
    });
    if (toWrite.length === 0) return results as WriteResult[];
    const written = await this.books.writeRevisions(toWrite, { newEdits, now: this.clock() });
    written.forEach((r, j) => {
      const doc = toWrite[j];
      if (r.ok) results[slots[j]] = { ok: true, id: r.id, rev: r.rev };
      else if ('refused' in r) {
        this.log.info(`local API refused a write: ${r.refused.message}`, {
          event: 'local_api.refused',
          doc_id: r.id,
          code: r.refused.code,
          new_edits: newEdits,
        });
        results[slots[j]] = failure(r.id, ledgerRefusal(r.refused), revOf(doc));
      } else {
        const err = r.error.status === 409 ? conflict() : toCouchError(r.error);
        results[slots[j]] = err
          ? failure(r.id, err, revOf(doc))
          : {
              id: r.id,
              error: 'unknown_error',
              reason: String(r.error.message ?? r.error.name),
              status: 500,
            };
      }
    });
    return results as WriteResult[];
  }
}

/** Why an id cannot be written through the API (CouchDB's answer), or `undefined` when it can. */
function idRefusal(id: unknown): WriteResult | undefined {
  if (typeof id !== 'string') return failure('', badRequest('Document id must be a string'));
  if (id.startsWith('_design/'))
    return failure(id, forbidden('design documents cannot be written to the books'));
  if (id.startsWith('_') && !id.startsWith('_local/'))
    return {
      id,
      error: 'illegal_docid',
      reason: 'Only reserved document ids may start with underscore.',
      status: 400,
    };
  return undefined;
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

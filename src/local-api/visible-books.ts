import { allStagedImports, stagedIds, type IdAndDoc } from '../ledger';
import { notFound } from './errors';

/**
 * Changes read per request while a staged import exists: a feed that stops at a staged line
 * reads this many past its checkpoint, not the whole rest of the import.
 */
const CHANGES_PAGE = 500;
/** `_all_docs` rows read per request while topping up a page that lost staged rows. */
const ROWS_PAGE = 1_000;

type Options = object;

interface ChangeRow {
  id: string;
  seq: number | string;
  doc?: unknown;
}

interface ChangesAnswer {
  results: ChangeRow[];
  last_seq: number | string;
}

interface AllDocsRow {
  id?: string;
  key: string;
  doc?: unknown;
  error?: string;
}

interface AllDocsAnswer {
  rows: AllDocsRow[];
  offset?: number;
  total_rows: number;
}

/**
 * The books as every read of the local API sees them: the lines of a bank import that has not
 * committed are not there (README, Bank connections: a file imports whole or not at all;
 * src/ledger/staged-imports.ts decides which lines those are). A document read answers 404, an
 * `_all_docs` row is left out (or is `not_found` for a key asked for), and a `_changes` feed
 * stops before the first staged line with `last_seq` just before it, so a client following the
 * feed reads the lines, at their own seqs, once the import commits — as the push to the cloud
 * does. Everything else passes straight to PouchDB.
 */
export class VisibleBooks {
  constructor(readonly db: PouchDB.Database) {}

  private staged(entries: readonly IdAndDoc[]): Promise<Set<string>> {
    return stagedIds(this, entries);
  }

  /** `db.get` (one revision, or `open_revs`): a staged line is missing. */
  async get(id: string, opts: Options = {}): Promise<unknown> {
    const found = (await this.db.get(id, opts as PouchDB.Core.GetOptions)) as unknown;
    if (!Array.isArray(found)) {
      if ((await this.staged([{ id, doc: found }])).size > 0) throw notFound('missing');
      return found;
    }
    const list = found as Array<{ ok?: { _rev?: string }; missing?: string }>;
    const entries = list.flatMap((r) => (r.ok ? [{ id, doc: r.ok }] : []));
    if ((await this.staged(entries)).size === 0) return found;
    // As for a document that is not there: `open_revs=all` is a 404, named revisions are missing.
    if ((opts as { open_revs?: unknown }).open_revs === 'all') throw notFound('missing');
    return list.map((r) => (r.ok ? { missing: r.ok._rev ?? '' } : r));
  }

  async getAttachment(id: string, name: string, opts: Options = {}): Promise<unknown> {
    if ((await this.staged([{ id }])).size > 0) throw notFound('missing');
    return this.db.getAttachment(id, name, opts as { rev?: string });
  }

  /** `_all_docs`: staged rows left out; a page cut short by them is topped up from after it. */
  async allDocs(opts: Options): Promise<AllDocsAnswer> {
    const first = (await this.db.allDocs(
      opts as PouchDB.Core.AllDocsOptions,
    )) as unknown as AllDocsAnswer;
    const held = await this.staged(rowEntries(first.rows));
    if (held.size === 0) return first;
    if ((opts as { keys?: unknown }).keys !== undefined)
      return {
        ...first,
        rows: first.rows.map((r) => (held.has(r.key) ? { key: r.key, error: 'not_found' } : r)),
      };
    const { skip: skipAsked, limit } = opts as { skip?: number; limit?: number };
    const skip = skipAsked ?? 0;
    const rows = await this.visibleRows(opts, limit === undefined ? undefined : skip + limit);
    return {
      ...first,
      rows: rows.slice(skip),
      ...(first.offset !== undefined ? { offset: skip } : {}),
    };
  }

  /** The first `want` visible rows of the range `opts` names (all of them without `want`). */
  private async visibleRows(opts: Options, want: number | undefined): Promise<AllDocsRow[]> {
    const out: AllDocsRow[] = [];
    const range: Record<string, unknown> = { ...opts };
    delete range.skip;
    let after: string | undefined;
    for (;;) {
      const page = want === undefined ? undefined : Math.max(want - out.length, 1) + ROWS_PAGE;
      const res = (await this.db.allDocs({
        ...(range as PouchDB.Core.AllDocsOptions),
        ...(after !== undefined ? { startkey: after } : {}),
        ...(page !== undefined ? { limit: page } : {}),
      })) as unknown as AllDocsAnswer;
      // The page starts at the last row already taken (a key, not `skip`: rows may go meanwhile).
      const rows = after === undefined ? res.rows : res.rows.filter((r) => r.id !== after);
      const held = await this.staged(rowEntries(rows));
      for (const r of rows) if (!held.has(r.key)) out.push(r);
      if (want !== undefined && out.length >= want) return out.slice(0, want);
      if (page === undefined || res.rows.length < page || rows.length === 0) return out;
      after = res.rows[res.rows.length - 1].id;
    }
  }

  /**
   * `_changes`: a feed in seq order ends before the first staged line (its `last_seq` is the
   * seq before that line), so nothing after it is skipped; a descending read leaves them out.
   */
  async changes(opts: Options): Promise<ChangesAnswer> {
    const { since, descending } = opts as { since: number | string; descending?: boolean };
    // While an import is staged, read in pages: a feed waiting at its first line re-reads little.
    if (descending !== true && (await allStagedImports(this)).size > 0)
      return this.changesUntilStaged(opts, since);
    const first = (await this.db.changes(opts)) as unknown as ChangesAnswer;
    const held = await this.staged(first.results);
    if (held.size === 0) return first;
    if (descending === true)
      return { ...first, results: first.results.filter((r) => !held.has(r.id)) };
    return this.changesUntilStaged(opts, since);
  }

  /** The changes from `since` up to the first staged line, read a page at a time. */
  private async changesUntilStaged(opts: Options, since: number | string): Promise<ChangesAnswer> {
    const results: ChangeRow[] = [];
    let left = (opts as { limit?: number }).limit ?? Infinity;
    let from = since;
    for (;;) {
      const limit = Math.min(CHANGES_PAGE, left);
      const page = (await this.db.changes({
        ...(opts as PouchDB.Core.ChangesOptions),
        since: from,
        limit,
      })) as unknown as ChangesAnswer;
      const held = await this.staged(page.results);
      const cut = page.results.findIndex((r) => held.has(r.id));
      if (cut >= 0) {
        results.push(...page.results.slice(0, cut));
        return { results, last_seq: cut === 0 ? from : page.results[cut - 1].seq };
      }
      results.push(...page.results);
      left -= page.results.length;
      from = page.last_seq;
      if (page.results.length < limit || left <= 0) return { results, last_seq: from };
    }
  }

  /** `_revs_diff`: the revisions of a staged line are missing, as for any document not there. */
  async revsDiff(query: Record<string, string[]>): Promise<Record<string, unknown>> {
    const diff = (await this.db.revsDiff(query)) as Record<string, unknown>;
    const held = await this.staged(Object.keys(query).map((id) => ({ id })));
    for (const id of held) diff[id] = { missing: query[id] };
    return diff;
  }

  info(): Promise<PouchDB.Core.DatabaseInfo> {
    return this.db.info();
  }
}

function rowEntries(rows: readonly AllDocsRow[]): IdAndDoc[] {
  return rows.flatMap((r) => (r.id !== undefined && !r.error ? [{ id: r.id, doc: r.doc }] : []));
}

import type { LocalDoc, LocalStore, LocalWrite, LocalWriteResult } from './local-store';
import { ATTACHMENTS, type AttachmentSummary } from './projection';
import type { RemoteStore, RemoteWrite, RemoteWriteResult } from './remote-store';

/** Default cap of one attachment synced either way (`sync.max_attachment_bytes`). */
export const DEFAULT_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024;

/** An attachment as a write body carries it: a stub (the revision written over has it) or the data, base64. */
type WireAttachment = ({ stub: true } & AttachmentSummary) | { content_type: string; data: string };

/** Attachment data of one document by name, base64, as a store reads it. */
export type AttachmentData = Record<string, { content_type: string; data: string }>;

/** Summary entries (content, from projection.ts) still to be turned into stubs or data. */
function summaries(body: Record<string, unknown>): Array<[string, AttachmentSummary]> {
  const atts = body[ATTACHMENTS];
  if (!atts || typeof atts !== 'object') return [];
  return Object.entries(atts as Record<string, Record<string, unknown>>).filter(
    ([, a]) => a && a.stub === undefined && a.data === undefined && typeof a.digest === 'string',
  ) as unknown as Array<[string, AttachmentSummary]>;
}

function holds(
  doc: Record<string, unknown> | null | undefined,
  name: string,
  digest: string,
): boolean {
  const a = (doc?.[ATTACHMENTS] as Record<string, { digest?: string }> | undefined)?.[name];
  return !!a && a.digest === digest;
}

function tooLarge(id: string, name: string, length: number, max: number): string {
  return `attachment '${name}' of ${id} is ${length} bytes, over sync.max_attachment_bytes (${max}); it is not synced`;
}

/**
 * Turns the attachment summaries a composed body carries into what a write needs: a stub when the
 * revision written over already holds that attachment (same digest), else the data read from the
 * other side. One over `maxBytes` refuses that document's write with a clear error (nothing is
 * written half).
 */
async function materialise<W extends { id: string; body: Record<string, unknown> }>(
  writes: readonly W[],
  max: number,
  has: (w: W, name: string, digest: string) => boolean,
  read: (w: W) => Promise<AttachmentData>,
): Promise<Map<W, string>> {
  const refused = new Map<W, string>();
  for (const w of writes) {
    const wanted = summaries(w.body);
    if (wanted.length === 0) continue;
    const out: Record<string, WireAttachment> = {};
    let data: AttachmentData | null = null;
    for (const [name, s] of wanted) {
      if (has(w, name, s.digest)) {
        out[name] = { stub: true, ...s }; // PouchDB finds a stub's data by its digest
        continue;
      }
      if (s.length > max) {
        refused.set(w, tooLarge(w.id, name, s.length, max));
        break;
      }
      data ??= await read(w);
      const d = data[name];
      if (!d) {
        refused.set(w, `attachment '${name}' of ${w.id} cannot be read from the other side`);
        break;
      }
      out[name] = { content_type: d.content_type, data: d.data };
    }
    // Entries that were already stubs (carried from the target) stay as they are.
    if (!refused.has(w))
      w.body[ATTACHMENTS] = { ...(w.body[ATTACHMENTS] as Record<string, unknown>), ...out };
  }
  return refused;
}

/**
 * The cloud as the engine's parts see it: writes carry attachments (stubs for what the cloud's
 * revision has, data from the books for the rest).
 */
export class CloudWithAttachments implements RemoteStore {
  constructor(
    private readonly inner: RemoteStore,
    private readonly books: LocalStore,
    private readonly maxBytes: number,
  ) {}

  get url(): string {
    return this.inner.url;
  }
  ensureDb: RemoteStore['ensureDb'] = () => this.inner.ensureDb();
  changesSince: RemoteStore['changesSince'] = (since, options) =>
    this.inner.changesSince(since, options);
  current: RemoteStore['current'] = (ids) => this.inner.current(ids);
  revisions: RemoteStore['revisions'] = (refs) => this.inner.revisions(refs);
  getLocal: RemoteStore['getLocal'] = (id) => this.inner.getLocal(id);
  putLocal: RemoteStore['putLocal'] = (id, body, rev) => this.inner.putLocal(id, body, rev);
  attachments: RemoteStore['attachments'] = (id, rev) => this.inner.attachments(id, rev);

  async write(
    docs: readonly RemoteWrite[],
    options?: { maxBytes?: number },
  ): Promise<RemoteWriteResult[]> {
    // Most writes carry no attachment: pass them through untouched (no copy per document).
    if (!docs.some((d) => summaries(d).length > 0)) return this.inner.write(docs, options);
    const withAtts = docs.map((d) => ({ id: d._id, body: { ...d } as Record<string, unknown> }));
    const need = withAtts.filter((w) => summaries(w.body).length > 0);
    const current = await this.inner.current(need.map((w) => w.id));
    const refused = await materialise(
      need,
      this.maxBytes,
      (w, name, digest) => {
        const cur = current.get(w.id);
        return !!cur && cur.exists && cur.rev === w.body._rev && holds(cur.doc, name, digest);
      },
      async (w) => this.books.attachments(w.id),
    );
    const sent = withAtts.filter((w) => !refused.has(w));
    const results =
      sent.length > 0
        ? await this.inner.write(
            sent.map((w) => w.body as RemoteWrite),
            options,
          )
        : [];
    const byWrite = new Map(sent.map((w, i) => [w, results[i]]));
    return withAtts.map(
      (w) =>
        byWrite.get(w) ?? {
          id: w.id,
          ok: false,
          conflict: false,
          error: 'attachment_refused',
          reason: refused.get(w) ?? '',
        },
    );
  }
}

/**
 * The books as the engine's parts see them: writes carry attachments (stubs for what the books'
 * revision has, data from the cloud for the rest).
 */
export class BooksWithAttachments implements LocalStore {
  constructor(
    private readonly inner: LocalStore,
    private readonly cloud: RemoteStore,
    private readonly maxBytes: number,
  ) {}

  changesSince: LocalStore['changesSince'] = (since, limit) =>
    this.inner.changesSince(since, limit);
  watch: LocalStore['watch'] = (onChange) => this.inner.watch(onChange);
  current: LocalStore['current'] = (ids) => this.inner.current(ids);
  updateSeq: LocalStore['updateSeq'] = () => this.inner.updateSeq();
  docCount: LocalStore['docCount'] = () => this.inner.docCount();
  withPrefix: LocalStore['withPrefix'] = (prefix) => this.inner.withPrefix(prefix);
  attachments: LocalStore['attachments'] = (id) => this.inner.attachments(id);

  async write(writes: readonly LocalWrite[]): Promise<LocalWriteResult[]> {
    if (!writes.some((w) => summaries(w.doc).length > 0)) return this.inner.write(writes);
    const items = writes.map((w) => ({
      id: w.doc._id,
      body: { ...w.doc } as Record<string, unknown>,
      w,
    }));
    const need = items.filter((i) => summaries(i.body).length > 0);
    // A fast-path write knows only the revision it replaces: read what the books hold.
    const unknown = need
      .filter((i) => i.w.current && i.w.current[ATTACHMENTS] === undefined)
      .map((i) => i.id);
    const books =
      unknown.length > 0 ? await this.inner.current(unknown) : new Map<string, LocalDoc>();
    const refused = await materialise(
      need,
      this.maxBytes,
      (i, name, digest) => {
        const cur =
          i.w.current && i.w.current[ATTACHMENTS] === undefined ? books.get(i.id) : i.w.current;
        return !!cur && !cur._deleted && cur._rev === i.w.current?._rev && holds(cur, name, digest);
      },
      async (i) => this.cloud.attachments(i.id),
    );
    const sent = items.filter((i) => !refused.has(i));
    const results =
      sent.length > 0
        ? await this.inner.write(sent.map((i) => ({ ...i.w, doc: i.body as LocalWrite['doc'] })))
        : [];
    const byItem = new Map(sent.map((i, k) => [i, results[k]]));
    return items.map(
      (i) =>
        byItem.get(i) ?? {
          id: i.id,
          ok: false,
          conflict: false,
          code: 'SYNC_ATTACHMENT',
          message: refused.get(i) ?? '',
        },
    );
  }
}

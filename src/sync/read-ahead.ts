import type { RemoteChange, RemoteChangesPage, RemoteStore } from './remote-store';

export interface ReadAheadOptions {
  /** Changes per page handed to the pipeline (the batch size), and the size of a cycle's first read. */
  pageSize: number;
  /** Largest read, in changes. */
  maxRead: number;
  /** Largest read, in bytes on the wire: the next read's size follows the last one's bytes per change. */
  maxReadBytes: number;
}

export interface PullPage {
  changes: RemoteChange[];
  /** A valid checkpoint: the seq of the page's last change, or the read's `last_seq` for its last page. */
  lastSeq: unknown;
  more: boolean;
  /** Changes the server still has after this page (as it last reported). */
  pending: number;
}

/**
 * Reads one pull cycle's `_changes` ahead of the pipeline. `_changes` pages form a chain (each read
 * starts at the previous one's `last_seq`), so page after page costs one round trip each: over a
 * 50 ms link the page-by-page pull ran at two thirds of its LAN speed (4,320 vs 6,378 docs/s,
 * BENCHMARKS.md), below even the server's sequential read ceiling. Here, as soon as a read
 * arrives with more pending, the next one is already asked for, and large reads (up to `maxRead`
 * changes or `maxReadBytes`) are handed on in pages of `pageSize`: the server produces the next
 * read while the books store this one, and the round trip is paid once per large read.
 *
 * Every page's `lastSeq` can be stored as the checkpoint: a change's own `seq` is a valid `since`
 * in CouchDB 2+ clusters (opaque, never compared here) and in PouchDB-based servers alike.
 * @link https://docs.couchdb.org/en/stable/api/database/changes.html
 */
export class ChangesReadAhead {
  private read: { page: RemoteChangesPage; offset: number } | null = null;
  /** Reads asked for (in flight or arrived) that the pipeline has not taken yet, oldest first. */
  private readonly waiting: Array<Promise<RemoteChangesPage>> = [];
  /** The last read asked for, with its page once it arrived and until its successor is asked for. */
  private tail: { page: RemoteChangesPage | null } | null = null;
  private readonly cancel = new AbortController();

  constructor(
    private readonly remote: RemoteStore,
    private readonly options: ReadAheadOptions,
  ) {}

  /**
   * The next page after `since` (used only when nothing is buffered or asked for: the cycle's
   * first read, which may long-poll for `waitMs` with `signal`).
   */
  async next(since: unknown, waitMs = 0, signal?: AbortSignal): Promise<PullPage> {
    if (!this.read || this.read.offset >= this.read.page.changes.length) {
      let page: RemoteChangesPage;
      const ahead = this.waiting.shift();
      if (ahead) {
        page = await ahead;
      } else {
        page = await this.remote.changesSince(since ?? 0, { limit: this.options.pageSize, waitMs, signal });
        this.tail = { page };
      }
      this.read = { page, offset: 0 };
      this.askNext(); // taking a read freed a place for the next one
    }
    const { page, offset } = this.read;
    const end = Math.min(offset + this.options.pageSize, page.changes.length);
    const changes = offset === 0 && end === page.changes.length ? page.changes : page.changes.slice(offset, end);
    // The read no longer holds what it handed out: a stored page can be collected while the rest waits.
    if (changes !== page.changes) page.changes.fill(undefined as unknown as RemoteChange, offset, end);
    this.read.offset = end;
    const last = end === page.changes.length;
    return {
      changes,
      lastSeq: last ? page.lastSeq : changes[changes.length - 1].seq,
      more: !last || (page.pending > 0 && page.changes.length > 0),
      pending: page.pending + (page.changes.length - end),
    };
  }

  /** Drops what was read ahead and cancels the reads in flight (the cycle ended, failed or stops). */
  close(): void {
    this.cancel.abort();
    this.waiting.length = 0;
    this.tail = null;
    this.read = null;
  }

  /**
   * Asks for the read after the last one asked for, as soon as that one arrived with more pending,
   * while fewer than READS_WAITING reads wait for the pipeline. Two, not one: with a single read
   * ahead the server idles from the moment that read arrives until the pipeline has taken the one
   * before, so reading and storing took turns instead of overlapping (over a 50 ms link each read
   * costs the round trip plus the server's own time, as long as storing it).
   */
  private askNext(): void {
    const tail = this.tail;
    if (!tail?.page || this.cancel.signal.aborted) return;
    const page = tail.page;
    if (!(page.pending > 0 && page.changes.length > 0) || this.waiting.length >= READS_WAITING) return;
    const slot: { page: RemoteChangesPage | null } = { page: null };
    this.tail = slot;
    const read = this.remote.changesSince(page.lastSeq, { limit: this.nextReadSize(page), signal: this.cancel.signal });
    this.waiting.push(read);
    read.then(
      (arrived) => {
        if (this.tail !== slot) return; // closed meanwhile
        slot.page = arrived;
        this.askNext();
      },
      () => undefined, // reported when the pipeline takes this read
    );
  }

  /** As many changes as fit `maxReadBytes` at the last read's bytes per change, within [pageSize, maxRead]. */
  private nextReadSize(page: RemoteChangesPage): number {
    const { pageSize, maxRead, maxReadBytes } = this.options;
    if (!page.bytes) return pageSize;
    const perChange = page.bytes / page.changes.length;
    return Math.max(pageSize, Math.min(maxRead, Math.floor(maxReadBytes / perChange)));
  }
}

/** Reads asked for ahead of the pipeline at most (in flight or arrived, not yet taken). */
const READS_WAITING = 2;

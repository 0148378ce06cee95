import type { RemoteChange, RemoteChangesPage, RemoteStore } from './remote-store';

export interface ReadAheadOptions {
  /** Changes per page handed to the pipeline (the batch size), and the size of a cycle's first read. */
  pageSize: number;
  /** Largest read, in changes. */
  maxRead: number;
  /** Largest read, in bytes on the wire: the next read's size follows the last one's bytes per change. */
  maxReadBytes: number;
  /**
   * The cloud's `update_seq` as its database info last gave it (null when unknown). When it is an
   * integer (CouchDB 1.x, PouchDB Server), a cycle that starts at an integer `since` it lies more
   * than one read beyond (and does not long-poll) asks for its second read at once, not when the
   * first arrives.
   */
  cloudUpdateSeq?: unknown;
}

export interface PullPage {
  changes: RemoteChange[];
  /** A valid checkpoint: the seq of the page's last change, or the read's `last_seq` for its last page. */
  lastSeq: unknown;
  more: boolean;
  /** Changes the server still has after this page (as it last reported). */
  pending: number;
  /** See RemoteChangesPage.heldOpen. */
  heldOpen?: boolean;
}

/**
 * Reads one pull cycle's `_changes` ahead of the pipeline. `_changes` pages form a chain (each read
 * starts at the previous one's `last_seq`), so page after page costs one round trip each: over a
 * 50 ms link the page-by-page pull ran well below its LAN speed (BENCHMARKS.md, Sync), below even the server's sequential read ceiling. Here, as soon as a read
 * arrives with more pending, the next one is already asked for, and large reads (each twice the
 * one before, up to `maxRead` changes or `maxReadBytes`) are handed on in pages of `pageSize`: the
 * server produces the next read while the books store this one, and the round trip is paid once
 * per large read.
 *
 * Every page's `lastSeq` can be stored as the checkpoint: a change's own `seq` is a valid `since`
 * in CouchDB 2+ clusters (opaque, never compared here) and in PouchDB-based servers alike.
 * @link https://docs.couchdb.org/en/stable/api/database/changes.html
 *
 * Integer sequences (CouchDB 1.x, PouchDB Server) allow one more step, taken only when the server
 * has answered with one: the next read need not wait for this one's `last_seq`. A read of `limit`
 * changes after integer `s` ends at `s + limit` or later (each change holds its own integer seq),
 * so the read after it is asked for at `since = s + limit` while it is still in flight: two reads
 * in flight instead of one, each costing the server its own time and the link one round trip
 * (BENCHMARKS.md, Sync). Such a read is used only when the reads before it
 * reach its start (if not, it is dropped and read again from where they end), and the changes
 * they already handed on are left out of it, so the pipeline sees every change once, in order.
 * A cycle's first read has one asked for alongside it when the cloud's database info gave an
 * integer `update_seq` more than one read ahead (`cloudUpdateSeq`). CouchDB 2+ sequences are
 * strings and never take this path; a read asked for ahead that the server refuses is read again
 * from the seq it gave.
 */
export class ChangesReadAhead {
  /** The read the pipeline is taking pages from. */
  private read: TakenRead | null = null;
  /** Reads asked for (in flight or arrived) that the pipeline has not taken yet, oldest first. */
  private readonly waiting: AskedRead[] = [];
  /** The last read asked for, until the reader closes. */
  private tail: AskedRead | null = null;
  /**
   * With integer sequences: where the changes handed on so far end (every change up to it was in
   * a read taken). Null until the server answers with an integer `last_seq`, and for opaque ones.
   */
  private covered: number | null = null;
  /** A read arrived with nothing after it: no more reads are asked for ahead of their predecessor. */
  private reachedEnd = false;
  /** The most changes one read asks for: `maxRead`, or fewer when the last read's changes were large. */
  private largestRead: number;
  private closed = false;

  constructor(
    private readonly remote: RemoteStore,
    private readonly options: ReadAheadOptions,
  ) {
    this.largestRead = options.maxRead;
  }

  /**
   * The next page after `since` (used only when nothing is buffered or asked for: the cycle's
   * first read, which may long-poll for `waitMs` with `signal`).
   */
  async next(since: unknown, waitMs = 0, signal?: AbortSignal): Promise<PullPage> {
    if (!this.read || this.read.offset >= this.read.changes.length) {
      if (this.waiting.length === 0) {
        const from = since ?? 0;
        this.waiting.push(this.ask(from, this.options.pageSize, false, { waitMs, signal }));
        // Everything up to an integer `since` was handed on in earlier cycles. With the cloud's
        // seqs known to be integers and more than this read behind its update_seq (an initial
        // sync), the second read need not wait for the first one's `last_seq`: over 50 ms the
        // second read of a 20,000-document pull arrived at 500 instead of 723 ms (BENCHMARKS.md).
        // Otherwise (a cycle in steady state) one read is asked for, and no empty one ahead of it.
        const start = integerSeq(from);
        const known = integerSeq(this.options.cloudUpdateSeq);
        if (
          start !== null &&
          known !== null &&
          known > start + this.options.pageSize &&
          waitMs === 0
        ) {
          this.covered = start;
          this.askNext();
        }
      }
      this.read = await this.take();
      this.askNext(); // taking a read freed a place for the next one
    }
    const read = this.read;
    const { offset } = read;
    const end = pageEnd(read.changes, offset, this.options.pageSize);
    const changes =
      offset === 0 && end === read.changes.length ? read.changes : read.changes.slice(offset, end);
    // The read no longer holds what it handed out: a stored page can be collected while the rest waits.
    if (changes !== read.changes)
      read.changes.fill(undefined as unknown as RemoteChange, offset, end);
    read.offset = end;
    const last = end === read.changes.length;
    return {
      changes,
      lastSeq: last ? read.lastSeq : changes[changes.length - 1].seq,
      more: !last || read.more,
      pending: read.pending + (read.changes.length - end),
      ...(read.heldOpen ? { heldOpen: true } : {}),
    };
  }

  /** Drops what was read ahead and cancels the reads in flight (the cycle ended, failed or stops). */
  close(): void {
    this.closed = true;
    for (const r of this.waiting) r.cancel.abort();
    this.waiting.length = 0;
    this.tail = null;
    this.read = null;
  }

  /**
   * The oldest read waiting, once it arrived, as the pipeline takes it. A read asked for ahead of
   * its predecessor's arrival that the taken reads do not reach, or whose seqs are not integers
   * after all, is dropped with every read after it, and read again from where they end.
   */
  private async take(): Promise<TakenRead> {
    let asked = this.waiting.shift() as AskedRead;
    for (;;) {
      // A read asked for ahead that failed is read again like one that does not reach (a server
      // that turned out not to take integer seqs may refuse one with 400).
      const page = asked.computed ? await asked.arrived.catch(() => null) : await asked.arrived;
      const covered = this.covered;
      if (page === null || (asked.computed && !this.reaches(asked.since as number, page))) {
        for (const r of this.waiting) r.cancel.abort();
        this.waiting.length = 0;
        // Read again from where the last read taken ended (a computed read always has one before it).
        asked = this.ask((this.read as TakenRead).lastSeq, asked.limit, false);
        continue;
      }
      const more = hasMore(page);
      let changes = page.changes;
      let lastSeq = page.lastSeq;
      const end = integerSeq(lastSeq);
      if (covered !== null && end !== null) {
        // Integer seqs: leave out what an earlier read already handed on, never step back.
        if (changes.length > 0 && (changes[0].seq as number) <= covered)
          changes = changes.filter((c) => (c.seq as number) > covered);
        lastSeq = Math.max(covered, end);
      }
      this.covered =
        end !== null && (covered !== null || integerSeq(asked.since) !== null)
          ? (lastSeq as number)
          : null;
      return {
        changes,
        lastSeq,
        pending: page.pending,
        more,
        offset: 0,
        ...(page.heldOpen ? { heldOpen: true } : {}),
      };
    }
  }

  /** The reads taken reach `since` (a computed one), and `page` has integer seqs throughout. */
  private reaches(since: number, page: RemoteChangesPage): boolean {
    return (
      this.covered !== null &&
      since <= this.covered &&
      integerSeq(page.lastSeq) !== null &&
      page.changes.every((c) => integerSeq(c.seq) !== null)
    );
  }

  /**
   * The cloud's seqs are opaque strings (CouchDB 2+): only then does a read ask for seqs on every
   * page-th change alone (`seqInterval`). Integer seqs keep one per change, which the reads asked
   * for ahead need to leave out what was handed on.
   */
  private opaqueSeqs(since: unknown): boolean {
    return typeof since === 'string' || typeof this.options.cloudUpdateSeq === 'string';
  }

  /** Asks the server for `limit` changes after `since`; `computed`: `since` was not handed by the server. */
  private ask(
    since: unknown,
    limit: number,
    computed: boolean,
    longpoll: { waitMs?: number; signal?: AbortSignal } = {},
  ): AskedRead {
    const cancel = new AbortController();
    const signal = longpoll.signal
      ? AbortSignal.any([cancel.signal, longpoll.signal])
      : cancel.signal;
    const read: AskedRead = {
      since,
      limit,
      computed,
      cancel,
      page: null,
      arrived: this.remote.changesSince(since, {
        limit,
        waitMs: longpoll.waitMs,
        signal,
        ...(this.opaqueSeqs(since) ? { seqInterval: this.options.pageSize } : {}),
      }),
    };
    this.tail = read;
    read.arrived.then(
      (page) => {
        read.page = page;
        if (page.bytes && page.changes.length > 0) {
          const bytesPerChange = page.bytes / page.changes.length;
          this.largestRead = Math.min(
            this.options.maxRead,
            Math.floor(this.options.maxReadBytes / bytesPerChange),
          );
        }
        if (!hasMore(page)) this.reachedEnd = true;
        if (this.tail === read) this.askNext();
      },
      () => undefined, // reported when the pipeline takes this read
    );
    return read;
  }

  /**
   * Asks for the reads after the last one asked for, while fewer than READS_WAITING reads wait for
   * the pipeline: at its `last_seq` once it arrived with more pending, or (integer seqs) at its
   * start plus its size while it is in flight. Two, not one: with a single read ahead the server
   * idles from the moment that read arrives until the pipeline has taken the one before, so
   * reading and storing took turns instead of overlapping (over a 50 ms link each read costs the
   * round trip plus the server's own time, as long as storing it).
   */
  private askNext(): void {
    while (!this.closed && this.tail && this.waiting.length < READS_WAITING) {
      const tail = this.tail;
      if (tail.page) {
        if (!hasMore(tail.page)) return;
        this.waiting.push(this.ask(tail.page.lastSeq, this.nextReadSize(tail.limit), false));
      } else {
        const start = integerSeq(tail.since);
        if (this.covered === null || start === null || this.reachedEnd) return; // opaque seqs: wait for its last_seq
        this.waiting.push(this.ask(start + tail.limit, this.nextReadSize(tail.limit), true));
      }
    }
  }

  /**
   * Twice the read before, within [pageSize, the largest read], the largest read being as many
   * changes as fit `maxReadBytes` at the last read's bytes per change (never more than `maxRead`).
   * Doubling, not the largest read at once: the books have nothing to store until a read arrives,
   * and the cycle's first read holds one page, so the next reads arrive sooner while small
   * (BENCHMARKS.md, Sync).
   */
  private nextReadSize(previous: number): number {
    return Math.max(this.options.pageSize, Math.min(this.largestRead, 2 * previous));
  }
}

interface AskedRead {
  since: unknown;
  limit: number;
  /** Asked for at a `since` computed from its predecessor's start, before that one arrived. */
  computed: boolean;
  cancel: AbortController;
  arrived: Promise<RemoteChangesPage>;
  page: RemoteChangesPage | null;
}

interface TakenRead {
  changes: RemoteChange[];
  lastSeq: unknown;
  pending: number;
  /** The server had more after this read. */
  more: boolean;
  offset: number;
  heldOpen?: boolean;
}

/**
 * Where the page from `offset` ends: after `pageSize` changes when its last change has a seq to
 * resume from, else at the next change that has one (with `seqInterval` the server gives a seq on
 * every page-th change only), else at the read's end (its `last_seq`).
 */
function pageEnd(changes: readonly RemoteChange[], offset: number, pageSize: number): number {
  let end = Math.min(offset + pageSize, changes.length);
  while (end < changes.length && isMissingSeq(changes[end - 1].seq)) end++;
  return end;
}

function isMissingSeq(seq: unknown): boolean {
  return seq === null || seq === undefined;
}

/** The server had changes after this read (it was not the end of the feed). */
function hasMore(page: RemoteChangesPage): boolean {
  return page.pending > 0 && page.changes.length > 0;
}

/** A sequence as an integer when it is one (CouchDB 1.x, PouchDB Server), else null (CouchDB 2+: opaque strings). */
function integerSeq(seq: unknown): number | null {
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
}

/** Reads asked for ahead of the pipeline at most (in flight or arrived, not yet taken). */
const READS_WAITING = 2;

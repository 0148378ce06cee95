import { hasMore, type PullPage } from './read-ahead';
import type { RemoteStore, StreamedChanges } from './remote-store';

export interface FeedReadAheadOptions {
  /** Changes per page handed to the pipeline (the batch size), and the size of a cycle's first read. */
  pageSize: number;
  /** Changes the feed reads ahead of the pipeline at most… */
  bufferChanges: number;
  /** …and bytes of them. */
  bufferBytes: number;
}

/**
 * Reads one pull cycle's `_changes` from a server that streams its continuous feed (Apache
 * CouchDB): a first read of one page (a long-poll when the cycle waits for changes), and when it
 * says more are pending, one continuous feed from its `last_seq` to the end, opened as soon as
 * the first read arrives. The server then produces changes while the books store the ones taken,
 * with no round trip between reads: the page-by-page reader (read-ahead.ts) can only ask for the
 * next read once the previous one arrived when seqs are opaque, as CouchDB 2+ seqs are.
 *
 * Every page's `lastSeq` is a valid checkpoint: a change's own `seq` is a valid `since` in CouchDB
 * 2+, and a feed's last page carries the feed's `last_seq`. The pipeline stores a page's
 * checkpoint only after its documents and bases (pipeline.ts).
 * @link https://docs.couchdb.org/en/stable/api/database/changes.html#continuous-feed
 */
export class FeedReadAhead {
  private feed: Promise<StreamedChanges> | null = null;
  /** Changes pending after the first read, less those handed on since (the feed gives no count). */
  private pendingGuess = 0;
  private closed = false;

  constructor(
    private readonly remote: RemoteStore,
    private readonly openFeed: NonNullable<RemoteStore['changesFeed']>,
    private readonly options: FeedReadAheadOptions,
  ) {}

  async next(since: unknown, waitMs = 0, signal?: AbortSignal): Promise<PullPage> {
    if (this.feed) return this.fromFeed(this.feed);
    const page = await this.remote.changesSince(since, {
      limit: this.options.pageSize,
      waitMs,
      signal,
    });
    const more = hasMore(page);
    if (more && !this.closed) {
      const feed = this.openFeed(page.lastSeq, {
        bufferChanges: this.options.bufferChanges,
        bufferBytes: this.options.bufferBytes,
      });
      feed.catch(() => undefined); // reported when the pipeline takes its first page
      this.feed = feed;
      this.pendingGuess = page.pending;
    }
    return {
      changes: page.changes,
      lastSeq: page.lastSeq,
      more,
      pending: page.pending,
      ...(page.heldOpen ? { heldOpen: true } : {}),
    };
  }

  /** Closes the feed (the cycle ended, failed or stops). */
  close(): void {
    this.closed = true;
    const feed = this.feed;
    this.feed = null;
    feed?.then(
      (f) => f.close(),
      () => undefined,
    );
  }

  private async fromFeed(feed: Promise<StreamedChanges>): Promise<PullPage> {
    const taken = await (await feed).take(this.options.pageSize);
    if (!taken.ended) {
      this.pendingGuess = Math.max(0, this.pendingGuess - taken.changes.length);
      return {
        changes: taken.changes,
        lastSeq: taken.lastSeq,
        more: true,
        pending: this.pendingGuess,
      };
    }
    // The feed ended: changes still pending (it stopped short) are read by the next call, as a
    // cycle's first read is.
    this.feed = null;
    (await feed).close();
    const pending = taken.pending ?? 0;
    return { changes: taken.changes, lastSeq: taken.lastSeq, more: pending > 0, pending };
  }
}

import { SyncUnavailableError } from './errors';
import { hasMore, type PullPage, type PullReader } from './read-ahead';
import type { RemoteStore, StreamedChanges, StreamOptions } from './remote-store';

/**
 * Reads one pull cycle from a cloud that streams `_changes` (Apache CouchDB 2+): a first read of
 * one page (a long-poll when the cycle waits for changes) and, when the server says more are
 * pending, one answer with every change after it, opened as soon as the first read arrives and
 * handed out page by page while it arrives. With opaque seqs a paged reader can ask for its next
 * read only once the one before arrived, so each read cost a round trip during which the server
 * read nothing; here the server reads on while the books store (docs/PROTOCOLS.md, "Streaming the
 * changes feed").
 *
 * Every page's `lastSeq` is a valid checkpoint (a change's own seq, or the answer's `last_seq`),
 * and the pipeline stores it only after the page's documents. A stream that breaks midway (a
 * node gone, a connection cut) is not a failed cycle: the pull goes on page by page from the last
 * page handed out, through the client's node failover, and streams again after that page.
 * @link https://docs.couchdb.org/en/stable/api/database/changes.html
 */
export class StreamedReadAhead implements PullReader {
  private stream: Promise<StreamedChanges> | null = null;
  /** Changes pending after the first read, less those handed out since (a stream gives no count until it ends). */
  private pendingGuess = 0;
  private closed = false;

  constructor(
    private readonly remote: RemoteStore,
    private readonly openStream: NonNullable<RemoteStore['changesStream']>,
    private readonly options: StreamOptions,
  ) {}

  async next(since: unknown, waitMs = 0, signal?: AbortSignal): Promise<PullPage> {
    if (this.stream) {
      try {
        return await this.fromStream(this.stream);
      } catch (err) {
        if (this.closed || !(err instanceof SyncUnavailableError)) throw err;
        this.dropStream();
      }
    }
    const { pageSize } = this.options;
    const page = await this.remote.changesSince(since, {
      limit: pageSize,
      waitMs,
      signal,
      seqInterval: pageSize,
    });
    const more = hasMore(page);
    if (more && !this.closed) {
      this.stream = this.openStream(page.lastSeq, this.options);
      this.stream.catch(() => undefined); // reported when the pipeline takes its first page
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

  close(): void {
    this.closed = true;
    this.dropStream();
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = null;
    stream?.then(
      (s) => s.close(),
      () => undefined,
    );
  }

  private async fromStream(stream: Promise<StreamedChanges>): Promise<PullPage> {
    const taken = await (await stream).take(this.options.pageSize);
    if (!taken.ended) {
      this.pendingGuess = Math.max(0, this.pendingGuess - taken.changes.length);
      return {
        changes: taken.changes,
        lastSeq: taken.lastSeq,
        more: true,
        pending: this.pendingGuess,
      };
    }
    // The answer ended; changes written meanwhile (still pending) are read by the next call as a
    // cycle's first read is.
    this.dropStream();
    const pending = taken.pending ?? 0;
    return { changes: taken.changes, lastSeq: taken.lastSeq, more: pending > 0, pending };
  }
}

import { SyncProtocolError, SyncUnavailableError } from '../errors';
import type { RemoteChange, RemoteDoc, StreamedChanges, StreamedPage } from '../remote-store';

/** One line of a continuous `_changes` feed: a change, or the last line with `last_seq`. */
interface FeedLine {
  seq?: unknown;
  id?: string;
  doc?: RemoteDoc;
  deleted?: boolean;
  changes?: Array<{ rev: string }>;
  last_seq?: unknown;
  pending?: number;
}

/**
 * A continuous `_changes` feed (`feed=continuous&timeout=0`: one JSON object per line, the
 * changes up to the end of the feed, then `{"last_seq":…,"pending":…}`) read as it arrives. One
 * request carries a whole pull cycle: no round trip between reads, and the server keeps producing
 * while the books store the pages already taken. It is read ahead of `take` up to `bufferChanges`
 * changes or `bufferBytes`; beyond that the body is left unread, so TCP holds the server back and memory stays
 * bounded. A wait for the next bytes longer than `idleTimeoutMs` fails the feed.
 * @link https://docs.couchdb.org/en/stable/api/database/changes.html#continuous-feed
 */
export class ContinuousChangesFeed implements StreamedChanges {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private text = '';
  private readonly buffered: RemoteChange[] = [];
  /** Bytes of the lines `buffered` came from, oldest first (the sum in `bufferedBytes`). */
  private readonly lineBytes: number[] = [];
  private bufferedBytes = 0;
  private lastSeq: unknown;
  private pending = 0;
  private ended = false;
  private failure: Error | null = null;
  private pumping = false;
  /** Wakes a `take` waiting for changes (or the end, or a failure). */
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    body: ReadableStream<Uint8Array>,
    since: unknown,
    private readonly options: {
      bufferChanges: number;
      bufferBytes: number;
      idleTimeoutMs: number;
      /** Names the feed in errors (no credentials). */
      source: string;
      /** Kept reachable while the body is read (see shared/deadline.ts). */
      request?: Request;
    },
  ) {
    this.reader = body.getReader();
    this.lastSeq = since;
    this.pump();
  }

  /** `max` changes, or fewer once the feed ended, failed, or holds as many as it reads ahead. */
  async take(max: number): Promise<StreamedPage> {
    while (
      this.buffered.length < max &&
      !this.full() &&
      !this.ended &&
      !this.failure &&
      !this.closed
    ) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
    if (this.closed)
      throw new SyncUnavailableError(`the changes feed of ${this.options.source} was closed`);
    if (this.failure && this.buffered.length === 0) throw this.failure;
    const changes = this.buffered.splice(0, max);
    for (const bytes of this.lineBytes.splice(0, changes.length)) this.bufferedBytes -= bytes;
    this.pump();
    const done = this.ended && this.buffered.length === 0;
    return {
      changes,
      lastSeq: done ? this.lastSeq : changes[changes.length - 1].seq,
      ended: done,
      ...(done ? { pending: this.pending } : {}),
    };
  }

  /** As many changes wait as the feed reads ahead: the body is left unread until some are taken. */
  private full(): boolean {
    return (
      this.buffered.length >= this.options.bufferChanges ||
      this.bufferedBytes >= this.options.bufferBytes
    );
  }

  /** Stops reading; the connection is closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.cancel().catch(() => undefined);
    this.wake?.();
  }

  /** Reads the body until `bufferChanges` changes wait (or the feed ends); one pump at a time. */
  private pump(): void {
    if (this.pumping || this.ended || this.failure || this.closed) return;
    this.pumping = true;
    void (async () => {
      try {
        while (!this.ended && !this.closed && !this.full()) {
          const chunk = await this.readChunk();
          if (chunk === null) {
            this.text += this.decoder.decode();
            this.parseLines(true);
            if (!this.ended)
              throw new SyncUnavailableError(
                `the changes feed of ${this.options.source} ended without its last_seq`,
              );
            break;
          }
          this.text += this.decoder.decode(chunk, { stream: true });
          this.parseLines(false);
          this.wake?.();
        }
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.reader.cancel().catch(() => undefined);
      } finally {
        this.pumping = false;
        this.wake?.();
      }
    })();
  }

  private async readChunk(): Promise<Uint8Array | null> {
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new SyncUnavailableError(
              `the changes feed of ${this.options.source} sent nothing for ${this.options.idleTimeoutMs} ms`,
              { details: { url: this.options.source, timedOut: true } },
            ),
          ),
        this.options.idleTimeoutMs,
      );
    });
    try {
      const { done, value } = await Promise.race([this.reader.read(), idle]);
      return done ? null : value;
    } catch (err) {
      if (err instanceof SyncUnavailableError) throw err;
      throw new SyncUnavailableError(`reading the changes feed of ${this.options.source} failed`, {
        cause: err instanceof Error ? new Error(err.name) : undefined,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Parses the complete lines held (and, at the end of the body, the rest). */
  private parseLines(final: boolean): void {
    let start = 0;
    for (;;) {
      const nl = this.text.indexOf('\n', start);
      if (nl < 0) break;
      this.parseLine(this.text.slice(start, nl));
      start = nl + 1;
    }
    this.text = this.text.slice(start);
    if (final && this.text.trim().length > 0) {
      this.parseLine(this.text);
      this.text = '';
    }
  }

  private parseLine(line: string): void {
    if (line.trim().length === 0) return; // a heartbeat
    let row: FeedLine;
    try {
      row = JSON.parse(line) as FeedLine;
    } catch {
      throw new SyncProtocolError(`unreadable line in the changes feed of ${this.options.source}`);
    }
    if (row.last_seq !== undefined) {
      this.lastSeq = row.last_seq;
      this.pending = typeof row.pending === 'number' ? row.pending : 0;
      this.ended = true;
      return;
    }
    if (typeof row.id !== 'string')
      throw new SyncProtocolError(`unexpected line in the changes feed of ${this.options.source}`);
    const doc: RemoteDoc = row.doc ?? {
      _id: row.id,
      _rev: row.changes?.[0]?.rev ?? '',
      _deleted: row.deleted === true,
    };
    this.buffered.push({ id: row.id, seq: row.seq, doc });
    this.lineBytes.push(line.length);
    this.bufferedBytes += line.length;
  }
}

/**
 * The root answer (`GET /`) of a server known to stream a continuous feed as it produces it:
 * Apache CouchDB (`{"couchdb":"Welcome","vendor":{…}}`, Cloudant too). express-pouchdb answers
 * `{"express-pouchdb":"Welcome!",…}`; it is read page by page (BENCHMARKS.md, Sync).
 * @link https://docs.couchdb.org/en/stable/api/server/common.html#api-server-root
 */
export function streamsContinuousFeed(root: unknown): boolean {
  if (typeof root !== 'object' || root === null) return false;
  const r = root as Record<string, unknown>;
  return r.couchdb === 'Welcome' && typeof r.vendor === 'object' && !('express-pouchdb' in r);
}

/**
 * A database info answer (`GET /{db}`) from Apache CouchDB 2+ (or Cloudant): it describes the
 * database's shards in `cluster` (`q`, `n`), which PouchDB-based servers leave out. Read at every
 * check of the database, so no request is added to tell the server's kind.
 * @link https://docs.couchdb.org/en/stable/api/database/common.html#get--db
 */
export function dbInfoOfClusteredCouch(info: unknown): boolean {
  if (typeof info !== 'object' || info === null) return false;
  const cluster = (info as Record<string, unknown>).cluster;
  return (
    typeof cluster === 'object' &&
    cluster !== null &&
    typeof (cluster as { q?: unknown }).q === 'number'
  );
}

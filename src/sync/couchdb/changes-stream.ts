import { SyncProtocolError, SyncUnavailableError } from '../errors';
import type { RemoteChange, RemoteDoc, StreamedChanges, StreamedPage } from '../remote-store';

/** One row of `results`. */
interface ChangeRow {
  seq?: unknown;
  id?: unknown;
  doc?: RemoteDoc;
  deleted?: boolean;
  changes?: Array<{ rev: string }>;
}

export interface ChangesStreamOptions {
  /** Changes per page `take` hands out (the batch size); the server's `seq_interval`. */
  pageSize: number;
  /** Changes read ahead of `take` at most… */
  bufferChanges: number;
  /** …and bytes of them. */
  bufferBytes: number;
  /** A wait for the next bytes longer than this fails the stream. */
  idleTimeoutMs: number;
  /** Names the cloud in errors (no credentials). */
  source: string;
}

/** The first line of Apache CouchDB's `_changes` answer when it streams it row by row. */
const HEAD_LINE = '{"results":[';

/**
 * A normal `_changes` answer (`feed=normal`, no limit) read as it arrives. Apache CouchDB sends it
 * as it produces it, one row per line:
 *
 *     {"results":[
 *     {"seq":…,"id":…,"changes":[…],"doc":{…}},
 *     …
 *     ],
 *     "last_seq":…,"pending":0}
 *
 * so a complete line is a complete change, and pages are handed out while the server still reads
 * the rest (docs/PROTOCOLS.md, "Streaming the changes feed"). An answer laid out otherwise (a proxy
 * that re-encodes it) is read whole and parsed at its end. It is read ahead of `take` up to
 * `bufferChanges` changes or `bufferBytes`; beyond that the body is left unread, so TCP holds the
 * server back and memory stays bounded.
 * @link https://docs.couchdb.org/en/stable/api/database/changes.html
 */
export class ChangesStream implements StreamedChanges {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private text = '';
  private layout: 'head' | 'rows' | 'tail' | 'whole' = 'head';
  private readonly rows: RemoteChange[] = [];
  /** Bytes of each row held, oldest first (their sum in `heldBytes`). */
  private readonly rowBytes: number[] = [];
  private heldBytes = 0;
  private lastSeq: unknown;
  private pending = 0;
  private ended = false;
  private failure: Error | null = null;
  private pumping = false;
  /** Wakes a `take` waiting for rows (or the end, or a failure). */
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    body: ReadableStream<Uint8Array>,
    since: unknown,
    private readonly options: ChangesStreamOptions,
  ) {
    this.reader = body.getReader();
    this.lastSeq = since;
    this.pump();
  }

  /**
   * About `max` changes, ending at one that carries a seq (with `seq_interval` the server gives one
   * on every page-th change only), so that the page's `lastSeq` is a valid checkpoint; the rest
   * once the answer ended. A failure comes once no such page is held.
   */
  async take(max: number): Promise<StreamedPage> {
    for (;;) {
      if (this.closed)
        throw new SyncUnavailableError(`the changes stream of ${this.options.source} was closed`);
      const end = this.pageEnd(max);
      if (end !== null) return this.handOut(end);
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  /** Stops reading; the connection is closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.cancel().catch(() => undefined);
    this.wake?.();
  }

  /**
   * Where a page of `max` rows ends (at the first row from the max-th on that has a seq), or null
   * while none can be handed out yet. Once the stream failed, a shorter page ending at the last
   * row with a seq goes too: what follows it is read again from that seq.
   */
  private pageEnd(max: number): number | null {
    const rows = this.rows;
    if (this.ended && rows.length <= max) return rows.length;
    const from = Math.max(0, (this.failure ? Math.min(max, rows.length) : max) - 1);
    for (let i = from; i < rows.length; i++) if (hasSeq(rows[i])) return i + 1;
    if (this.ended) return rows.length;
    if (this.failure) for (let i = from - 1; i >= 0; i--) if (hasSeq(rows[i])) return i + 1;
    return null;
  }

  private handOut(end: number): StreamedPage {
    const changes = this.rows.splice(0, end);
    for (const bytes of this.rowBytes.splice(0, end)) this.heldBytes -= bytes;
    this.pump();
    const done = this.ended && this.rows.length === 0;
    return done
      ? { changes, lastSeq: this.lastSeq, ended: true, pending: this.pending }
      : { changes, lastSeq: changes[changes.length - 1].seq, ended: false };
  }

  /** As much is held as is read ahead, and a page of it can be taken: leave the body unread. */
  private full(): boolean {
    const held =
      this.rows.length >= this.options.bufferChanges || this.heldBytes >= this.options.bufferBytes;
    return held && this.pageEnd(this.options.pageSize) !== null;
  }

  /** Reads the body until enough is held (or it ends); one pump at a time. */
  private pump(): void {
    if (this.pumping || this.ended || this.failure || this.closed) return;
    this.pumping = true;
    void (async () => {
      try {
        while (!this.ended && !this.closed && !this.full()) {
          const chunk = await this.readChunk();
          if (chunk === null) {
            this.text += this.decoder.decode();
            this.finish();
            break;
          }
          this.text += this.decoder.decode(chunk, { stream: true });
          if (this.layout !== 'whole') this.parseLines();
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
              `the changes stream of ${this.options.source} sent nothing for ${this.options.idleTimeoutMs} ms`,
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
      throw new SyncUnavailableError(
        `reading the changes stream of ${this.options.source} failed`,
        {
          details: { url: this.options.source, timedOut: false },
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Takes the complete lines held: the head, rows, and the start of the tail. */
  private parseLines(): void {
    let start = 0;
    for (;;) {
      if (this.layout === 'tail' || this.layout === 'whole') break;
      const nl = this.text.indexOf('\n', start);
      if (nl < 0) break;
      const line = this.text.slice(start, nl).trim();
      // Not CouchDB's row-per-line layout: the answer is read whole, from its start.
      if (this.layout === 'head' && line !== HEAD_LINE) {
        this.layout = 'whole';
        break;
      }
      this.parseLine(line);
      start = nl + 1;
    }
    this.text = this.text.slice(start);
  }

  private parseLine(line: string): void {
    if (this.layout === 'head') {
      this.layout = 'rows';
      return;
    }
    if (line.length === 0) return;
    if (line === '],' || line === ']') {
      this.layout = 'tail';
      return;
    }
    const text = line.endsWith(',') ? line.slice(0, -1) : line;
    let row: ChangeRow;
    try {
      row = JSON.parse(text) as ChangeRow;
    } catch {
      throw this.unreadable();
    }
    this.hold(row, line.length);
  }

  /** The body ended: the tail (`"last_seq":…,"pending":…}`), or the whole answer, is complete. */
  private finish(): void {
    if (this.layout === 'head') this.layout = 'whole'; // not one line break: not CouchDB's layout
    let tail: { last_seq?: unknown; pending?: unknown; results?: unknown } | null = null;
    if (this.layout === 'whole' || this.layout === 'tail') {
      try {
        tail = JSON.parse(this.layout === 'whole' ? this.text : `{${this.text.trim()}`) as {
          last_seq?: unknown;
        };
      } catch {
        tail = null; // cut short: reported below
      }
    }
    if (tail === null || tail.last_seq === undefined)
      throw new SyncUnavailableError(
        `the changes stream of ${this.options.source} ended without its last_seq`,
        { details: { url: this.options.source, timedOut: false } },
      );
    if (this.layout === 'whole') {
      if (!Array.isArray(tail.results)) throw this.unreadable();
      for (const row of tail.results as ChangeRow[]) this.hold(row, 0);
    }
    this.text = '';
    this.lastSeq = tail.last_seq;
    this.pending = typeof tail.pending === 'number' ? tail.pending : 0;
    this.ended = true;
  }

  private hold(row: ChangeRow, bytes: number): void {
    if (typeof row.id !== 'string') throw this.unreadable();
    const doc: RemoteDoc = row.doc ?? {
      _id: row.id,
      _rev: row.changes?.[0]?.rev ?? '',
      _deleted: row.deleted === true,
    };
    this.rows.push({ id: row.id, seq: row.seq ?? null, doc });
    this.rowBytes.push(bytes);
    this.heldBytes += bytes;
  }

  private unreadable(): SyncProtocolError {
    return new SyncProtocolError(`unexpected _changes answer from ${this.options.source}`);
  }
}

function hasSeq(change: RemoteChange): boolean {
  return change.seq !== null && change.seq !== undefined;
}

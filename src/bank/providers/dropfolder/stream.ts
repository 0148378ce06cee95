import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import type { BankTransaction, StatementSink, StatementStream } from '../../provider';
import { BankError, MalformedStatementError } from '../../errors';
import { BooksyncError } from '../../../shared/errors';
import { chooseFormat, malformed, MALFORMED_FILE, parseCamt053Stream, parseOfxStream, type ParseStatementOptions, type StatementFormat } from '../../formats';

/**
 * Statement files at least this large are read as streams (provider.ts, StatementStream) instead
 * of into memory: about 8,000 camt.053 entries or 25,000 OFX transactions. Below it, holding the
 * file and its lines costs a few megabytes and one read is cheaper than the loop's two.
 */
export const STREAM_MIN_BYTES = 4 << 20;

/** Bytes of a file's head that format detection reads (as detectFormat does). */
const HEAD_BYTES = 8192;

/** The formats whose parsers stream; MT940 and CSV files are read into memory whatever their size. */
const STREAMED: ReadonlySet<StatementFormat> = new Set(['ofx1', 'ofx2', 'camt053']);

function head(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    // A Uint8Array view: Buffer's typings clash with lib ES2022's under TS 5.9 (see joinBytes).
    const read = readSync(fd, new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), 0, HEAD_BYTES, 0);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/**
 * A statement file as a stream, when it is large and in a format whose parser streams; otherwise
 * undefined (read it with parseStatement). Throws MalformedStatementError for a file of no format
 * booksync reads, as parseStatement would.
 */
export function statementFileStream(file: string, options: ParseStatementOptions): StatementStream | undefined {
  const stat = statSync(file);
  if (stat.size < STREAM_MIN_BYTES) return undefined;
  const format = chooseFormat(head(file), options);
  if (!STREAMED.has(format)) return undefined;
  return fileStream(file, format, options, { size: stat.size, mtimeMs: stat.mtimeMs });
}

/**
 * Reads `file` with the streaming parser of `format` on each `read`. The file must not change
 * between reads (the loop reads it twice): its size and modification time are compared first.
 */
export function fileStream(file: string, format: StatementFormat, options: ParseStatementOptions, seen?: { size: number; mtimeMs: number }): StatementStream {
  const name = options.fileName;
  return {
    name,
    async read(sink: StatementSink): Promise<{ warnings: string[] }> {
      if (seen) {
        const now = statSync(file);
        if (now.size !== seen.size || now.mtimeMs !== seen.mtimeMs) {
          throw new BankError('BANK_DROPFOLDER_CHANGED', `${name} changed while it was being imported; it is read again on the next run`, { details: { file } });
        }
      }
      // Errors the consumer raised (an aborted run, a failed write) go through unchanged; only the
      // parser's and the file's own are turned into this file's errors.
      let consumerError: unknown;
      const guarded = {
        transaction(tx: BankTransaction, index: number): void {
          try {
            sink.transaction(tx, index);
          } catch (err) {
            consumerError = err;
            throw err;
          }
        },
        statement: (summary: Parameters<StatementSink['statement']>[0], index: number): void => {
          try {
            sink.statement(summary, index);
          } catch (err) {
            consumerError = err;
            throw err;
          }
        },
        drain: async (): Promise<void> => {
          try {
            await sink.drain();
          } catch (err) {
            consumerError = err;
            throw err;
          }
        },
      };
      // 64 KB at a time: the lines of one chunk (about 120 camt.053 entries) are planned before
      // the reader waits for the writes, so the chunk size bounds how many wait in memory. On a
      // 100,000-line camt.053 import, 1 MB chunks peaked at ~310 MB RSS, 256 KB at ~260-285 MB,
      // 64 KB at ~263 MB, at the same speed.
      const readable = createReadStream(file, { highWaterMark: 1 << 16 });
      try {
        const result = format === 'camt053'
          ? await parseCamt053Stream(readable, { fileName: name }, guarded)
          : await parseOfxStream(readable, { fileName: name, defaultCurrency: options.defaultCurrency }, guarded);
        return { warnings: result.warnings };
      } catch (err) {
        if (err === consumerError) throw err;
        if (err instanceof MalformedStatementError && err.code === MALFORMED_FILE) throw err;
        if (err instanceof BooksyncError) throw malformed({ file: name }, 'unreadable value', err);
        if (typeof (err as NodeJS.ErrnoException)?.code === 'string') {
          throw new BankError('BANK_DROPFOLDER_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, { cause: err, details: { file } });
        }
        // A bug or an unexpected runtime error must still leave the file unimported and named.
        throw malformed({ file: name }, `cannot read the file (${(err as Error)?.message ?? String(err)})`, err);
      } finally {
        readable.destroy();
      }
    },
  };
}

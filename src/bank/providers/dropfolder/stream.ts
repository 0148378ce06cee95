import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import type { BankTransaction, StatementSink, StatementStream } from '../../provider';
import { BankError, MalformedStatementError } from '../../errors';
import { BooksyncError } from '../../../shared/errors';
import {
  chooseFormat,
  malformed,
  MALFORMED_FILE,
  parseCamt053Stream,
  parseOfxStream,
  warningText,
  type ParseStatementOptions,
  type StatementFormat,
} from '../../formats';
import { repeatedWarning, StatementFingerprint } from '../../formats/repeats';

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
    const read = readSync(
      fd,
      new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength),
      0,
      HEAD_BYTES,
      0,
    );
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Parses `file` with the streaming parser of `format` into `sink`. */
function parseFile(
  file: string,
  format: StatementFormat,
  options: ParseStatementOptions,
  sink: StatementSink,
) {
  // 64 KB at a time: the lines of one chunk (about 120 camt.053 entries) are planned before
  // the reader waits for the writes, so the chunk size bounds how many wait in memory; larger
  // chunks raised peak RSS at the same speed (BENCHMARKS.md, Bank import).
  const readable = createReadStream(file, { highWaterMark: 1 << 16 });
  const name = options.fileName;
  const parsed =
    format === 'camt053'
      ? parseCamt053Stream(readable, { fileName: name }, sink)
      : parseOfxStream(
          readable,
          { fileName: name, defaultCurrency: options.defaultCurrency },
          sink,
        );
  return parsed.finally(() => readable.destroy());
}

/** Closing tags of a statement: `</STMTRS>`, `</CCSTMTRS>` (OFX), `</Stmt>` with any prefix (camt.053). */
const STATEMENT_END: Readonly<Record<string, RegExp>> = {
  ofx: /<\/(?:CC)?STMTRS>/gi,
  camt053: /<\/(?:[\w-]+:)?Stmt>/g,
};

/**
 * How many statements a file closes, by a byte scan far cheaper than a parse: a file with one
 * statement cannot repeat one, and needs no fingerprinting pass.
 */
async function statementEnds(file: string, format: StatementFormat): Promise<number> {
  const pattern = STATEMENT_END[format === 'camt053' ? 'camt053' : 'ofx'];
  let count = 0;
  let tail = '';
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const text = tail + (chunk as Buffer).toString('latin1');
    count += text.match(pattern)?.length ?? 0;
    // A tag cut by the chunk border (a '<' with no '>' after it) is completed by the next chunk.
    const cut = text.lastIndexOf('<');
    tail =
      cut !== -1 && text.indexOf('>', cut) === -1 && text.length - cut < 64 ? text.slice(cut) : '';
    if (count >= 2) return count;
  }
  return count;
}

/**
 * The statements of a file that repeat an earlier one in it (formats/repeats.ts), found by a
 * reading pass of their own: both of the loop's passes must then leave them out from their first
 * line on, so the counts of the two passes agree.
 */
async function repeatedStatements(
  file: string,
  format: StatementFormat,
  options: ParseStatementOptions,
): Promise<{ skip: Set<number>; warnings: string[] }> {
  if ((await statementEnds(file, format)) < 2) return { skip: new Set(), warnings: [] };
  const prints: StatementFingerprint[] = [];
  const seen = new Set<string>();
  const skip = new Set<number>();
  const warnings: string[] = [];
  await parseFile(file, format, options, {
    transaction: (tx, index) => (prints[index] ??= new StatementFingerprint()).line(tx),
    statement: (summary, index) => {
      const { transactionCount, ...rest } = summary;
      const key = (prints[index] ??= new StatementFingerprint()).finish(rest);
      if (seen.has(key)) {
        skip.add(index);
        warnings.push(
          warningText(repeatedWarning(options.fileName, rest, transactionCount, index)),
        );
      }
      seen.add(key);
    },
    drain: () => Promise.resolve(),
  });
  return { skip, warnings };
}

/**
 * A statement file as a stream, when it is large and in a format whose parser streams; otherwise
 * undefined (read it with parseStatement). Throws MalformedStatementError for a file of no format
 * booksync reads, as parseStatement would.
 */
export function statementFileStream(
  file: string,
  options: ParseStatementOptions,
): StatementStream | undefined {
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
export function fileStream(
  file: string,
  format: StatementFormat,
  options: ParseStatementOptions,
  seen?: { size: number; mtimeMs: number },
): StatementStream {
  const name = options.fileName;
  /** Found on the first read; the file cannot change between reads (checked below). */
  let known: ReturnType<typeof repeatedStatements> | undefined;
  return {
    name,
    async read(sink: StatementSink): Promise<{ warnings: string[] }> {
      if (seen) {
        const now = statSync(file);
        if (now.size !== seen.size || now.mtimeMs !== seen.mtimeMs) {
          throw new BankError(
            'BANK_DROPFOLDER_CHANGED',
            `${name} changed while it was being imported; it is read again on the next run`,
            { details: { file } },
          );
        }
      }
      // Errors the consumer raised (an aborted run, a failed write) go through unchanged; only the
      // parser's and the file's own are turned into this file's errors.
      let consumerError: unknown;
      let repeats = { skip: new Set<number>(), warnings: [] as string[] };
      /** A statement's index among the statements handed on (repeats left out). */
      const handedIndex = (index: number): number => {
        let before = 0;
        for (const i of repeats.skip) if (i < index) before++;
        return index - before;
      };
      const guarded = {
        transaction(tx: BankTransaction, index: number): void {
          if (repeats.skip.size > 0 && repeats.skip.has(index)) return;
          try {
            sink.transaction(tx, repeats.skip.size > 0 ? handedIndex(index) : index);
          } catch (err) {
            consumerError = err;
            throw err;
          }
        },
        statement: (summary: Parameters<StatementSink['statement']>[0], index: number): void => {
          if (repeats.skip.size > 0 && repeats.skip.has(index)) return;
          try {
            sink.statement(summary, repeats.skip.size > 0 ? handedIndex(index) : index);
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
      try {
        known ??= repeatedStatements(file, format, options);
        repeats = await known;
        const result = await parseFile(file, format, options, guarded);
        return { warnings: [...result.warnings.map(warningText), ...repeats.warnings] };
      } catch (err) {
        if (err === consumerError) throw err;
        if (err instanceof MalformedStatementError && err.code === MALFORMED_FILE) throw err;
        if (err instanceof BooksyncError) throw malformed({ file: name }, 'unreadable value', err);
        if (typeof (err as NodeJS.ErrnoException)?.code === 'string') {
          throw new BankError(
            'BANK_DROPFOLDER_UNREADABLE',
            `cannot read ${file}: ${(err as Error).message}`,
            { cause: err, details: { file } },
          );
        }
        // A bug or an unexpected runtime error must still leave the file unimported and named.
        throw malformed(
          { file: name },
          `cannot read the file (${(err as Error)?.message ?? String(err)})`,
          err,
        );
      }
    },
  };
}

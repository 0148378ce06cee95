import type { Readable } from 'node:stream';
import type { BankAccountStatement, BankTransaction } from '../provider';
import {
  asciiHead,
  charsetFromName,
  chooseCharset,
  concatBytes,
  decodeCp1252,
  StreamDecoder,
  type Charset,
} from './charset';
import {
  dropSharedProviderIds,
  malformed,
  statementWarning,
  type ParsedStatementFile,
  type StatementWarning,
} from './common';
import {
  CamtReader,
  type CamtOptions,
  type CamtResult,
  type CamtSink,
  type CamtStatementSummary,
} from './camt053-reader';

export type { CamtOptions, CamtResult, CamtSink, CamtStatementSummary } from './camt053-reader';

/**
 * ISO 20022 camt.053 (bank-to-customer statement), versions .001.02 to .001.08 and later: the
 * parser keys on local element names and ignores the namespace version, reading both the
 * text status of .02–.07 (`<Sts>BOOK</Sts>`) and the nested one of .08 (`<Sts><Cd>BOOK</Cd></Sts>`).
 *
 * Semantics (docs/FORMATS.md §camt.053): the amount is `Amt`, negated for `DBIT`; `RvslInd` does
 * not flip it, it marks the line as a reversal; `RtrInf/Rsn` is the return reason. The provider id
 * is `AcctSvcrRef`, never `NtryRef` (a sequence number) nor `EndToEndId` (often `NOTPROVIDED`). An
 * entry with several `TxDtls` that all carry amounts adding up to the entry amount becomes one
 * line per `TxDtls`; otherwise it is one line. `INFO` entries are not bookings and are skipped
 * with a warning. As for MT940, opening (OPBD/PRCD) + booked entries = closing (CLBD) is checked
 * with a warning, and entries booked outside FrToDt are warned about.
 *
 * The file is read as a stream: the reader keeps the entry being read and the unfinished tail of
 * the input, and hands each line to a sink as soon as its `</Ntry>` closes, so memory does not grow
 * with the file (a 100,000-entry statement is 50 MB of XML).
 *
 * @link https://www.iso20022.org/catalogue-messages/iso-20022-messages-archive?search=camt.053
 */

/** True when the head of a file looks like a camt.053 document. */
export function looksLikeCamt053(head: string): boolean {
  return /camt\.053\.001\.\d\d/.test(head) || /<([\w-]+:)?BkToCstmrStmt[\s>]/.test(head);
}

/** Head bytes kept back until the XML declaration and the namespace can be read. */
const HEAD_BYTES = 4096;
/** Text handed to the tokenizer at a time when parsing a file held in memory. */
const CHUNK_BYTES = 1 << 20;

/**
 * Push parser: `write()` bytes as they come, then `end()`. Throws `MalformedStatementError`
 * (code `BANK_MALFORMED_FILE`) naming file, line and field for anything it cannot read; lines
 * already given to the sink must then be discarded (a bad file imports nothing).
 *
 * The charset is the XML declaration's (UTF-8 by default), checked against the bytes as they come
 * (a BOM wins; a wrong Windows-1252/UTF-8 declaration is corrected with a warning).
 */
export class Camt053StreamParser {
  private readonly reader: CamtReader;
  private headChunks: Buffer[] = [];
  private headLength = 0;
  private decode?: (bytes: Buffer, final: boolean) => string;
  private started = false;
  private fedText = false;
  private readonly decodeWarnings: StatementWarning[] = [];

  constructor(
    private readonly options: CamtOptions,
    sink: CamtSink,
  ) {
    this.reader = new CamtReader(options.fileName, sink);
  }

  /** Warnings so far (a sink may add its own here, so they keep the file's order). */
  get warnings(): StatementWarning[] {
    return this.reader.warnings;
  }

  /**
   * Sets the charset before any bytes are written, for a caller that has the whole file and
   * chose it from all of it (BOM already skipped): no guessing from the head.
   */
  useCharset(charset: Charset): void {
    if (charset === 'windows-1252') {
      this.decode = (bytes) => decodeCp1252(bytes);
      return;
    }
    const decoder = new TextDecoder(charset, { fatal: charset === 'utf-8' });
    this.decode = (bytes, final) => {
      try {
        return decoder.decode(bytes, { stream: !final });
      } catch (err) {
        throw malformed(
          { file: this.options.fileName, line: this.reader.tokenizer.line },
          (err as Error).message,
        );
      }
    };
  }

  write(chunk: Buffer): void {
    if (!this.started) {
      this.headChunks.push(chunk);
      this.headLength += chunk.length;
      if (this.headLength >= HEAD_BYTES) this.startBody();
      return;
    }
    this.feed(chunk, false);
  }

  end(): CamtResult {
    if (!this.started) this.startBody();
    this.feed(Buffer.alloc(0), true);
    this.reader.end();
    return {
      statementCount: this.reader.statementCount,
      transactionCount: this.reader.transactionCount,
      warnings: [...this.decodeWarnings, ...this.reader.warnings],
    };
  }

  private startBody(): void {
    const head = concatBytes(this.headChunks, this.headLength);
    this.headChunks = [];
    this.started = true;
    const file = this.options.fileName;
    const text = asciiHead(head, HEAD_BYTES);
    const ns = /urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.001\.(\d\d)/.exec(text);
    if (ns && ns[1] !== 'camt.053') {
      throw malformed(
        { file, line: 1, field: 'Document/@xmlns' },
        `${ns[1]} is not a camt.053 statement (only camt.053 is read)`,
      );
    }
    let skip = 0;
    if (!this.decode) {
      const warn = (w: string) =>
        this.decodeWarnings.push(statementWarning('BANK_WARN_CHARSET', { file }, w));
      const declared =
        charsetFromName(/<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(text)?.[1]) ?? 'utf-8';
      const chosen = chooseCharset(head, declared, warn, false);
      skip = chosen.skip;
      const decoder = new StreamDecoder(chosen.charset, warn);
      this.decode = (bytes, final) => {
        try {
          return decoder.decode(bytes, final);
        } catch (err) {
          throw malformed({ file, line: this.reader.tokenizer.line }, (err as Error).message);
        }
      };
    }
    this.feed(head.subarray(skip), false);
  }

  private feed(bytes: Buffer, final: boolean): void {
    let text = this.decode!(bytes, final);
    if (!this.fedText && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.fedText = text.length > 0;
    }
    if (text.length > 0) this.reader.tokenizer.write(text);
  }
}

/** Collects a streamed parse into whole statements, dropping provider ids that lines share. */
class CollectingSink implements CamtSink {
  readonly statements: BankAccountStatement[] = [];
  /** Set to the parser's warnings, so the shared-id warnings come in the file's order. */
  warnings: StatementWarning[] = [];
  private lines: BankTransaction[] = [];

  constructor(private readonly file: string) {}

  transaction(tx: BankTransaction): void {
    this.lines.push(tx);
  }

  statement(summary: CamtStatementSummary): void {
    const { transactionCount: _count, ...rest } = summary;
    const statement: BankAccountStatement = { ...rest, transactions: this.lines };
    this.lines = [];
    dropSharedProviderIds(statement, this.file, this.warnings, this.statements.length);
    this.statements.push(statement);
  }
}

/** Parses a whole camt.053 file held in memory (all statements in it), a megabyte of text at a time. */
export function parseCamt053(bytes: Buffer, options: CamtOptions): ParsedStatementFile {
  const warnings: StatementWarning[] = [];
  const head = asciiHead(bytes, 1024);
  const declared =
    charsetFromName(/<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(head)?.[1]) ?? 'utf-8';
  // The whole file is at hand: its charset is chosen from all of it, as before streaming.
  const { charset, skip } = chooseCharset(bytes, declared, (w) =>
    warnings.push(statementWarning('BANK_WARN_CHARSET', { file: options.fileName }, w)),
  );
  const collector = new CollectingSink(options.fileName);
  const parser = new Camt053StreamParser(options, collector);
  collector.warnings = parser.warnings;
  parser.useCharset(charset);
  const body = bytes.subarray(skip);
  for (let at = 0; at < body.length; at += CHUNK_BYTES)
    parser.write(body.subarray(at, Math.min(body.length, at + CHUNK_BYTES)));
  const result = parser.end();
  return {
    format: 'camt053',
    statements: collector.statements,
    warnings: [...warnings, ...result.warnings],
  };
}

/**
 * Parses a camt.053 stream (a file read stream) chunk by chunk. With a `sink`, lines go to it as
 * they are read and memory stays flat; without one they are collected and returned.
 */
export async function parseCamt053Stream(
  readable: Readable | AsyncIterable<Buffer | string>,
  options: CamtOptions,
  sink?: CamtSink,
): Promise<CamtResult & { statements?: BankAccountStatement[] }> {
  const collector = sink ? undefined : new CollectingSink(options.fileName);
  const parser = new Camt053StreamParser(options, sink ?? collector!);
  if (collector) collector.warnings = parser.warnings;
  for await (const chunk of readable as AsyncIterable<Buffer | string>) {
    parser.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    if (sink?.drain) await sink.drain();
  }
  const result = parser.end();
  if (!collector) return result;
  return { ...result, statements: collector.statements };
}

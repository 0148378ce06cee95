import type { Readable } from 'node:stream';
import type { BankAccountStatement, BankTransaction } from '../provider';
import { dropSharedProviderIds, type ParsedStatementFile } from './common';
import {
  OfxStreamParser,
  type OfxOptions,
  type OfxResult,
  type OfxSink,
  type OfxStatementSummary,
} from './ofx-parser';

export {
  OfxStreamParser,
  type OfxEnvelopePart,
  type OfxOptions,
  type OfxResult,
  type OfxSink,
  type OfxStatementSummary,
  type OfxStatus,
  type OfxVersion,
} from './ofx-parser';

/** Collects a streamed parse into whole statements (the convenience form). */
export class CollectingSink implements OfxSink {
  readonly statements: BankAccountStatement[] = [];
  private readonly lines: BankTransaction[][] = [];

  transaction(tx: BankTransaction, index: number): void {
    (this.lines[index] ??= []).push(tx);
  }

  statement(summary: OfxStatementSummary, index: number): void {
    const { transactionCount: _count, ...rest } = summary;
    this.statements[index] = { ...rest, transactions: this.lines[index] ?? [] };
  }
}

/** Parses a whole OFX/QFX file held in memory. */
export function parseOfx(bytes: Buffer, options: OfxOptions): ParsedStatementFile {
  const { signon: _signon, parts: _parts, ...file } = parseOfxResponse(bytes, options);
  return file;
}

/**
 * Parses a whole OFX response (OFX Direct Connect) in one pass: the statements as for a file, and
 * the protocol envelope (signon STATUS, transaction wrappers with TRNUID and STATUS).
 */
export function parseOfxResponse(
  bytes: Buffer,
  options: OfxOptions,
): ParsedStatementFile & Pick<OfxResult, 'signon' | 'parts'> {
  const sink = new CollectingSink();
  const parser = new OfxStreamParser(options, sink);
  parser.write(bytes);
  const result = parser.end();
  const warnings = [...result.warnings];
  for (const [i, st] of sink.statements.entries())
    dropSharedProviderIds(st, options.fileName, warnings, i);
  return {
    format: result.version,
    statements: sink.statements,
    warnings,
    signon: result.signon,
    parts: result.parts,
  };
}

/**
 * Parses an OFX/QFX stream (a file read stream, a socket) chunk by chunk. With a `sink`, lines
 * go to it as they are read and memory stays flat; without one they are collected and returned.
 */
export async function parseOfxStream(
  readable: Readable | AsyncIterable<Buffer | string>,
  options: OfxOptions,
  sink?: OfxSink,
): Promise<OfxResult & { statements?: BankAccountStatement[] }> {
  const collector = sink ? undefined : new CollectingSink();
  const parser = new OfxStreamParser(options, sink ?? collector!);
  for await (const chunk of readable as AsyncIterable<Buffer | string>) {
    parser.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    if (sink?.drain) await sink.drain();
  }
  const result = parser.end();
  if (!collector) return result;
  const warnings = [...result.warnings];
  for (const [i, st] of collector.statements.entries())
    dropSharedProviderIds(st, options.fileName, warnings, i);
  return { ...result, warnings, statements: collector.statements };
}

import type { StreamedStatement } from '../provider';
import type { FormatSink, StatementWarning } from './common';

/** The public shapes of the OFX reader (ofx-parser.ts): its options, sink and result. */

export type OfxVersion = 'ofx1' | 'ofx2';

/** A statement as known when its `</STMTRS>` closes: everything except the lines, which were streamed. */
export type OfxStatementSummary = StreamedStatement;

export type OfxSink = FormatSink;

export interface OfxOptions {
  fileName: string;
  /** Used when a statement has no (or an empty) CURDEF and its lines name no currency. */
  defaultCurrency?: string;
  /**
   * A response with no statement is a result, not an error (OFX Direct Connect: a signon or
   * statement STATUS says why, and the caller maps it). @default false
   */
  allowNoStatement?: boolean;
}

/** A STATUS aggregate {CODE, SEVERITY, MESSAGE} as written (OFX 1.6 §3.1.5). */
export interface OfxStatus {
  code?: string;
  severity?: string;
  message?: string;
}

/** One transaction wrapper (STMTTRNRS / CCSTMTTRNRS) of a response (OFX 1.6 §2.4.5). */
export interface OfxEnvelopePart {
  kind: 'bank' | 'creditcard';
  trnUid?: string;
  status?: OfxStatus;
  /** Index of the statement (STMTRS / CCSTMTRS) it carries; absent when it carries none. */
  statementIndex?: number;
}

export interface OfxResult {
  version: OfxVersion;
  statementCount: number;
  transactionCount: number;
  warnings: StatementWarning[];
  /** The signon STATUS (SIGNONMSGSRSV1/SONRS/STATUS), when the file has one. */
  signon?: OfxStatus;
  /** The transaction wrappers, in input order (empty for a file of bare STMTRS). */
  parts: OfxEnvelopePart[];
}

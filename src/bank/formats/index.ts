/**
 * Statement formats: the readers of OFX/QFX, camt.053, MT940 and CSV statements, used by every
 * provider that receives statement files or bodies (the drop folder, OFX Direct Connect). Each
 * reader gives the same `BankAccountStatement` objects and the same warnings. docs/FORMATS.md
 * lists the facts of each format the readers rely on, with their public sources.
 */
export { parseStatement, detectFormat, chooseFormat, type ParseStatementOptions } from './parse';
export {
  parseOfx,
  parseOfxResponse,
  parseOfxStream,
  OfxStreamParser,
  type OfxSink,
  type OfxStatementSummary,
  type OfxResult,
  type OfxEnvelopePart,
  type OfxStatus,
} from './ofx';
export { parseCamt053, parseCamt053Stream } from './camt053';
export { parseMt940 } from './mt940';
export { parseCsv, type CsvMapping, type CsvColumn } from './csv';
export {
  MALFORMED_FILE,
  malformed,
  dropSharedProviderIds,
  statementWarning,
  warningText,
  STATEMENT_WARNING_CODES,
  type ParsedFormat,
  type ParsedStatementFile,
  type StatementWarning,
  type StatementWarningCode,
  type WarningPlace,
  type StatementFormat,
} from './common';

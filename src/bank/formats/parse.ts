import { extname } from 'node:path';
import { BooksyncError } from '../../shared/errors';
import { asciiHead } from './charset';
import { looksLikeCamt053, parseCamt053 } from './camt053';
import { malformed, type ParsedStatementFile, type StatementFormat } from './common';
import { parseCsv, type CsvMapping } from './csv';
import { looksLikeMt940, parseMt940 } from './mt940';
import { parseOfx } from './ofx';
import { dropRepeatedStatements } from './repeats';

export interface ParseStatementOptions {
  /** Shown in every error and warning; its extension is only a tie-breaker for detection. */
  fileName: string;
  /** Column mapping; without one a CSV file cannot be read. */
  csv?: CsvMapping;
  /** Currency for files that do not state one (an OFX without CURDEF, a CSV without a currency column). */
  defaultCurrency?: string;
  /** Read every file as this format instead of detecting it (`ofx` covers 1.x and 2.x). @default auto */
  format?: 'auto' | 'ofx' | 'camt053' | 'mt940' | 'csv';
}

/**
 * Detects a statement file's format from its content: OFX/QFX by its header or `<OFX>`, camt.053
 * by namespace or `BkToCstmrStmt`, MT940 by its `:20:`/`:25:` tags or SWIFT envelope, CSV when
 * a mapping is configured and nothing else matched (or the file is named `.csv`).
 */
export function detectFormat(
  bytes: Buffer,
  options: Pick<ParseStatementOptions, 'fileName' | 'csv'>,
): StatementFormat | undefined {
  const head = asciiHead(bytes, 8192);
  // eslint-disable-next-line no-control-regex -- NUL padding before the header is skipped on purpose
  const lead = head.replace(/^[\s\x00]+/, '');
  if (/^OFXHEADER\s*:/i.test(lead) || /<OFX[\s>]/i.test(head)) {
    return /<\?OFX|OFXHEADER\s*=\s*["']?2|^<\?xml/i.test(lead) ||
      /^OFXHEADER\s*:\s*\d+[\s\S]*?VERSION\s*:\s*2/i.test(lead)
      ? 'ofx2'
      : 'ofx1';
  }
  if (/^<\?xml|^</.test(lead) && looksLikeCamt053(head)) return 'camt053';
  if (looksLikeMt940(head)) return 'mt940';
  const ext = extname(options.fileName).toLowerCase();
  if (ext === '.ofx' || ext === '.qfx') return head.includes('<?xml') ? 'ofx2' : 'ofx1';
  if (options.csv !== undefined && !/^</.test(lead)) return 'csv';
  if (ext === '.csv') return 'csv';
  return undefined;
}

/**
 * The format to read a file as: detected from its head (`bytes` may be just the first 8 KB), or
 * the configured one. Throws MalformedStatementError when it is none booksync reads.
 */
export function chooseFormat(
  bytes: Buffer,
  options: Pick<ParseStatementOptions, 'fileName' | 'csv' | 'format'>,
): StatementFormat {
  const forced = options.format ?? 'auto';
  let format = detectFormat(bytes, options);
  if (forced !== 'auto') {
    const family = format === 'ofx1' || format === 'ofx2' ? 'ofx' : format;
    if (family !== forced)
      format =
        forced === 'ofx' ? (asciiHead(bytes, 4096).includes('<?xml') ? 'ofx2' : 'ofx1') : forced;
  }
  if (format === undefined) {
    throw malformed(
      { file: options.fileName, line: 1 },
      'not a statement format booksync reads (OFX/QFX, camt.053, MT940, or CSV with a column mapping)',
    );
  }
  return format;
}

/**
 * Parses one statement file, all or nothing: it returns every statement in the file, or throws
 * `MalformedStatementError` (code `BANK_MALFORMED_FILE`) naming the file, the line (where known)
 * and the field, and nothing of the file is imported.
 */
export function parseStatement(bytes: Buffer, options: ParseStatementOptions): ParsedStatementFile {
  const file = options.fileName;
  if (bytes.length === 0) throw malformed({ file }, 'the file is empty');
  const format = chooseFormat(bytes, options);
  const parsed = readFormat(bytes, format, options);
  const statements = dropRepeatedStatements(parsed.statements, file, parsed.warnings);
  return statements === parsed.statements ? parsed : { ...parsed, statements };
}

function readFormat(
  bytes: Buffer,
  format: StatementFormat,
  options: ParseStatementOptions,
): ParsedStatementFile {
  const file = options.fileName;
  try {
    switch (format) {
      case 'ofx1':
      case 'ofx2':
        return parseOfx(bytes, { fileName: file, defaultCurrency: options.defaultCurrency });
      case 'camt053':
        return parseCamt053(bytes, { fileName: file });
      case 'mt940':
        return parseMt940(bytes, { fileName: file, defaultCurrency: options.defaultCurrency });
      case 'csv':
        if (options.csv === undefined)
          throw malformed({ file }, 'a CSV file needs a column mapping (settings.csv) to be read');
        return parseCsv(bytes, {
          fileName: file,
          csv: options.csv,
          defaultCurrency: options.defaultCurrency,
        });
    }
  } catch (err) {
    if (err instanceof BooksyncError) {
      if (err.code === 'BANK_MALFORMED_FILE') throw err;
      throw malformed({ file }, 'unreadable value', err);
    }
    // A bug or an unexpected runtime error must still leave the file unimported and named.
    throw malformed(
      { file },
      `cannot read the file (${(err as Error)?.message ?? String(err)})`,
      err,
    );
  }
}

export type { ParsedStatementFile, StatementFormat };

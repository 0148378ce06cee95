import type { BankAccountStatement, BankTransaction, StreamedStatement } from '../provider';
import { MalformedStatementError } from '../errors';
import { BooksyncError } from '../../shared/errors';
import { calendarDate, daysInMonth, type CalendarDate } from '../../shared/dates';
import { currencyExponent, parseAmount } from '../../shared/money';

/** The statement formats the drop folder reads. */
export type StatementFormat = 'ofx1' | 'ofx2' | 'camt053' | 'mt940' | 'csv';

/**
 * The format a file was read as: the detected one, except that an MT940-family file whose every
 * message is an MT942 interim report is `mt942` (docs/FORMATS.md, MT940 and MT942).
 */
export type ParsedFormat = StatementFormat | 'mt942';

/** What one file parsed into: all of it, or (by throwing) nothing. */
export interface ParsedStatementFile {
  format: ParsedFormat;
  statements: BankAccountStatement[];
  /** Things that did not stop the import (a clamped 30 February, a guessed charset...). */
  warnings: StatementWarning[];
}

/** Stable codes of the warnings every statement reader gives (branch on these, never on text). */
export const STATEMENT_WARNING_CODES = [
  /** The declared or guessed character set was not the bytes' one. */
  'BANK_WARN_CHARSET',
  /** A date was clamped to the month's end, or an optional date could not be read. */
  'BANK_WARN_DATE',
  /** Free text longer than the cap was cut. */
  'BANK_WARN_TEXT_CUT',
  /** A bank id shared by several lines of a statement: those lines match by content. */
  'BANK_WARN_SHARED_ID',
  /** A statement repeated in the file, read once. */
  'BANK_WARN_REPEATED_STATEMENT',
  /** Opening balance + lines ≠ closing balance. */
  'BANK_WARN_BALANCE_MISMATCH',
  /** MT942 :90D:/:90C: totals or a camt.053 batch's TxDtls do not add up to the lines. */
  'BANK_WARN_TOTALS_MISMATCH',
  /** Entries booked outside the statement's period. */
  'BANK_WARN_OUTSIDE_PERIOD',
  /** The statement's currency was missing or empty and came from a line or the connection. */
  'BANK_WARN_CURRENCY_ASSUMED',
  /** A balance without an amount or date, left out. */
  'BANK_WARN_BALANCE_IGNORED',
  /** A field the reader does not know, or an entry that is not a booking, left out. */
  'BANK_WARN_IGNORED',
  /** An OFX correction without a valid CORRECTACTION, read as REPLACE. */
  'BANK_WARN_CORRECTION',
  /** An OFX response part that carries no statement, with the bank's status code. */
  'BANK_WARN_NO_STATEMENT',
] as const;
export type StatementWarningCode = (typeof STATEMENT_WARNING_CODES)[number];

/** Where in a file a warning is: as much of it as the reader knows. */
export interface WarningPlace {
  file: string;
  /** 1-based line number. */
  line?: number;
  /** CSV record number, 1-based, counting the header as a spreadsheet would. */
  row?: number;
  /** 0-based index of the statement in the file, where the warning is about one statement. */
  statement?: number;
}

/**
 * One warning of a statement reader, the same object for every format: a stable code, the
 * message (without the place) and the place. {@link warningText} is its one-line form.
 */
export interface StatementWarning extends WarningPlace {
  code: StatementWarningCode;
  message: string;
}

export function statementWarning(
  code: StatementWarningCode,
  at: WarningPlace,
  message: string,
): StatementWarning {
  return compact({
    code,
    message,
    file: at.file,
    line: at.line,
    row: at.row,
    statement: at.statement,
  });
}

/** `file:line: row N: message`: a warning as people read it (text output, logs, FetchResult). */
export function warningText(w: StatementWarning): string {
  const where = w.line !== undefined ? `${w.file}:${w.line}` : w.file;
  return `${where}: ${w.row !== undefined ? `row ${w.row}: ` : ''}${w.message}`;
}

/**
 * Receives a streamed parse as it happens, the same for every streaming reader (OFX, camt.053):
 * each line of statement `statementIndex`, then that statement's summary. Discard everything
 * received if the parse later throws.
 */
export interface FormatSink {
  transaction(tx: BankTransaction, statementIndex: number): void;
  statement(statement: StreamedStatement, statementIndex: number): void;
  /** Awaited after each chunk of input is parsed, so a consumer can store what it got first. */
  drain?(): Promise<void>;
}

/** Stable code of every error the statement parsers raise. */
export const MALFORMED_FILE = 'BANK_MALFORMED_FILE';

/** Where in a file a problem is: what an admin needs to open the file and find it. */
export interface FileLocation {
  file: string;
  /** 1-based line number, where known. */
  line?: number;
  /** The field, tag or column that could not be read (`TRNAMT`, `:62F:`, `Buchungstag`). */
  field?: string;
  /** CSV record number, 1-based, counting the header as a spreadsheet would. */
  row?: number;
}

/**
 * The one way the parsers fail: a `MalformedStatementError` (code `BANK_MALFORMED_FILE`) whose
 * message starts `file:line: field: ...` so the rejected file's `.reason` reads on its own.
 */
export function malformed(at: FileLocation, why: string, cause?: unknown): MalformedStatementError {
  const where = [at.file, at.line !== undefined ? String(at.line) : undefined]
    .filter((p) => p !== undefined)
    .join(':');
  const parts = [where];
  if (at.row !== undefined) parts.push(`row ${at.row}`);
  if (at.field !== undefined) parts.push(at.field);
  const reason = printable(
    cause instanceof BooksyncError ? `${why}: ${cause.message}` : why,
    MAX_REASON_CHARS,
  );
  const last = parts[parts.length - 1];
  // MT940 tags end in a colon already (`:62F:`); don't write `:62F::`.
  const text = last.endsWith(':')
    ? `${parts.join(': ')} ${reason}`
    : `${parts.join(': ')}: ${reason}`;
  return new MalformedStatementError(MALFORMED_FILE, text, {
    cause,
    details: { file: at.file, line: at.line, row: at.row, field: at.field },
  });
}

/** Longest reason a parse error quotes: a garbage value must not fill a terminal or a log line. */
const MAX_REASON_CHARS = 300;

// eslint-disable-next-line no-control-regex -- control characters are what it finds
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd]/g;

/**
 * Text safe to show in a message: control characters and undecodable bytes (U+FFFD) as `\xNN` /
 * `?`, at most `max` characters (an ellipsis marks the cut).
 */
export function printable(text: string, max: number): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(UNPRINTABLE, (c) =>
    c === '\ufffd' ? '?' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/**
 * Builds a calendar date from digits a bank wrote. A day past the month's end (30 February: some
 * banks book on 30-day months) is clamped to the month's last day with a warning, never dropped.
 * Returns undefined for an impossible month or day 0, so the caller can name the field.
 */
export function bankDate(
  year: number,
  month: number,
  day: number,
  warn: (text: string) => void,
): CalendarDate | undefined {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day))
    return undefined;
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1900 || year > 2999)
    return undefined;
  if (day <= 28) return `${year}-${pad2(month)}-${pad2(day)}`;
  const last = daysInMonth(year, month);
  if (day > last) {
    const clamped = calendarDate(year, month, last);
    warn(`date ${year}-${pad2(month)}-${pad2(day)} does not exist; booked on ${clamped}`);
    return clamped;
  }
  return calendarDate(year, month, day);
}

const MESSY_SPACE = /\s\s|[\t\n\r\f\v\u00a0]/;

export function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Collapses runs of whitespace and trims; undefined for empty text. */
export function cleanText(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let t = text.trim();
  if (MESSY_SPACE.test(t)) t = t.replace(/\s+/g, ' ');
  return t === '' ? undefined : t;
}

/**
 * A provider id is a dedup key, so one that several lines of a statement share (Chase reuses
 * FITIDs for fee lines; MT940 bank references repeat inside a batch) would make the loop drop
 * real lines. Such ids are removed from every line that shares them, so the loop falls back to
 * its content hash with occurrence numbers, and a warning says so.
 */
export function dropSharedProviderIds(
  statement: BankAccountStatement,
  file: string,
  warnings: StatementWarning[],
  statementIndex?: number,
): void {
  const seen = new Map<string, number>();
  for (const tx of statement.transactions) {
    if (tx.providerId !== undefined) seen.set(tx.providerId, (seen.get(tx.providerId) ?? 0) + 1);
  }
  const shared = [...seen].filter(([, n]) => n > 1);
  if (shared.length === 0) return;
  const ids = new Set(shared.map(([id]) => id));
  for (const tx of statement.transactions) {
    if (tx.providerId !== undefined && ids.has(tx.providerId))
      delete (tx as { providerId?: string }).providerId;
  }
  for (const [id, n] of shared) {
    warnings.push(
      statementWarning(
        'BANK_WARN_SHARED_ID',
        { file, statement: statementIndex },
        `account ${statement.accountId}: id '${id}' is used by ${n} lines; they are matched by content instead`,
      ),
    );
  }
}

/**
 * Longest free text (payee, memo, reference...) kept on a line. Statement lines are documents
 * synced to the cloud; a multi-megabyte memo (a bank's export bug, a hostile file) would make
 * every replication of that line carry it.
 */
export const MAX_FREE_TEXT_CHARS = 4096;

const FREE_TEXT_FIELDS = [
  'payee',
  'memo',
  'reference',
  'counterpartyName',
  'counterpartyAccount',
  'additionalInfo',
] as const;

/** Cuts free text longer than {@link MAX_FREE_TEXT_CHARS}, with a warning naming the place. */
export function capFreeText(
  tx: BankTransaction,
  at: WarningPlace,
  warnings: StatementWarning[],
): void {
  for (const field of FREE_TEXT_FIELDS) {
    const text = tx[field];
    if (text !== undefined && text.length > MAX_FREE_TEXT_CHARS) {
      tx[field] = `${text.slice(0, MAX_FREE_TEXT_CHARS - 1)}…`;
      warnings.push(
        statementWarning(
          'BANK_WARN_TEXT_CUT',
          at,
          `${field} of ${text.length} characters cut to ${MAX_FREE_TEXT_CHARS}`,
        ),
      );
    }
  }
}

/** Drops the keys whose value is undefined, so statements compare and serialise cleanly. */
export function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}

export type { BankAccountStatement, BankTransaction, CalendarDate };

const EXPONENTS = new Map<string, number>();
const POW10 = [1, 10, 100, 1000, 10000];

/**
 * Decimal text to integer minor units, exactly. The common shapes (`-12.34`, `+5`, `1234,5`) are
 * read digit by digit without regular expressions or BigInt (the OFX bench reads a million of
 * them); anything else goes to `parseAmount`, which knows thousands separators, trailing signs
 * and the rest, and rejects what it cannot read exactly.
 */
export function decimalAmount(text: string, currency: string, decimal?: '.' | ','): number {
  let exponent = EXPONENTS.get(currency);
  if (exponent === undefined) {
    exponent = currencyExponent(currency);
    EXPONENTS.set(currency, exponent);
  }
  const fast = simpleAmount(text, exponent, decimal);
  return fast !== undefined ? fast : parseAmount(text, currency, decimal ? { decimal } : {});
}

function simpleAmount(
  t: string,
  exponent: number,
  decimal: '.' | ',' | undefined,
): number | undefined {
  const n = t.length;
  let i = 0;
  let negative = false;
  let c = n > 0 ? t.charCodeAt(0) : 0;
  if (c === 45) {
    negative = true;
    i++;
  } else if (c === 43) i++;
  let int = 0;
  let digits = 0;
  for (; i < n; i++) {
    c = t.charCodeAt(i);
    if (c < 48 || c > 57) break;
    int = int * 10 + (c - 48);
    digits++;
  }
  if (digits === 0 || digits + exponent > 15) return undefined;
  let frac = 0;
  let fd = 0;
  if (i < n) {
    const mark = decimal === undefined ? c === 46 || c === 44 : c === decimal.charCodeAt(0);
    if (!mark) return undefined;
    for (i++; i < n; i++) {
      c = t.charCodeAt(i);
      if (c < 48 || c > 57 || fd >= exponent) return undefined;
      frac = frac * 10 + (c - 48);
      fd++;
    }
  }
  const value = int * POW10[exponent] + frac * POW10[exponent - fd];
  return negative && value !== 0 ? -value : value;
}

import type { BankAccountStatement, BankTransaction } from '../provider';
import { isCurrency } from '../../shared/money';
import type { CalendarDate } from '../../shared/dates';
import { charsetFromName, decodeAll } from './charset';
import {
  bankDate,
  capFreeText,
  cleanText,
  compact,
  decimalAmount,
  dropSharedProviderIds,
  malformed,
  statementWarning,
  type ParsedStatementFile,
  type StatementWarning,
} from './common';

/** A column: its header text (when the file has a header row) or its 1-based number. */
export type CsvColumn = string | number;

/**
 * How to read a bank's CSV export (YAML `bank.connections[].settings.csv`). Either `amount`
 * (signed) or `debit` and/or `credit` (unsigned; debit is money out) must be given.
 */
export interface CsvMapping {
  /** Field separator. @default auto (the most frequent of `,` `;` tab in the first row) */
  delimiter?: ',' | ';' | '\t' | 'tab' | 'auto';
  /** Whether the first row (after `skip_rows`) names the columns. @default true */
  header?: boolean;
  /** Lines to skip before the header or first row (bank preambles). @default 0 */
  skip_rows?: number;
  /** Rows to ignore at the end (totals, closing balance lines). @default 0 */
  skip_footer_rows?: number;
  /** `utf-8`, `windows-1252`, `iso-8859-1` or `auto` (UTF-8, else Windows-1252). @default auto */
  encoding?: string;
  /** Booking date column. */
  date: CsvColumn;
  /** Date format with `YYYY`, `YY`, `MM`, `M`, `DD`, `D` and literal separators, e.g. `DD.MM.YYYY`, `MM/DD/YYYY`. @default YYYY-MM-DD */
  date_format?: string;
  /** Value date column (same format). */
  value_date?: CsvColumn;
  /** Signed amount column: positive is money in. */
  amount?: CsvColumn;
  /** Money-out column (unsigned, or negative as some banks write it). */
  debit?: CsvColumn;
  /** Money-in column. */
  credit?: CsvColumn;
  /** Decimal separator. @default auto (the last of `.`/`,` in the value) */
  decimal?: '.' | ',';
  /** Flip every amount (card exports where a purchase is positive). @default false */
  negate?: boolean;
  /** Fixed currency of every row. */
  currency?: string;
  /** Currency column (wins over `currency` when the cell is not empty). */
  currency_column?: CsvColumn;
  payee?: CsvColumn;
  /** One column or several, joined with a space. */
  memo?: CsvColumn | CsvColumn[];
  reference?: CsvColumn;
  /** Check number column. */
  check_number?: CsvColumn;
  /** The bank's transaction id column. */
  id?: CsvColumn;
  /** Counterparty IBAN column. */
  iban?: CsvColumn;
  /** Account id every row belongs to. */
  account?: string;
  /** Or an account column, for exports that mix accounts. */
  account_column?: CsvColumn;
}

interface CsvRecord {
  fields: string[];
  line: number;
}

/** RFC 4180 records: quoted fields may hold the delimiter, `""` and line breaks. */
export function splitCsv(text: string, delimiter: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let atFieldStart = true;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
      continue;
    }
    if (c === delimiter) {
      fields.push(field);
      field = '';
      atFieldStart = true;
      continue;
    }
    if (c === '\r' || c === '\n') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      out.push({ fields, line: recordLine });
      fields = [];
      field = '';
      atFieldStart = true;
      line++;
      recordLine = line;
      continue;
    }
    field += c;
    atFieldStart = false;
  }
  if (quoted) throw new Error(`quoted field opened on line ${recordLine} is never closed`);
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    out.push({ fields, line: recordLine });
  }
  return out;
}

function detectDelimiter(line: string): string {
  let best = ',';
  let bestCount = 0;
  for (const d of [',', ';', '\t']) {
    let count = 0;
    let quoted = false;
    for (const c of line) {
      if (c === '"') quoted = !quoted;
      else if (c === d && !quoted) count++;
    }
    if (count > bestCount) {
      best = d;
      bestCount = count;
    }
  }
  return best;
}

/** Compiles `DD.MM.YYYY`-style formats to a reader of calendar dates. */
export function dateReader(
  format: string,
): (text: string, warn: (w: string) => void) => CalendarDate | undefined {
  const order: ('Y' | 'y' | 'M' | 'D')[] = [];
  let pattern = '';
  for (let i = 0; i < format.length;) {
    const rest = format.slice(i);
    const token = ['YYYY', 'YY', 'MM', 'M', 'DD', 'D'].find((t) => rest.startsWith(t));
    if (token) {
      order.push(token === 'YYYY' ? 'Y' : token === 'YY' ? 'y' : (token[0] as 'M' | 'D'));
      pattern +=
        token === 'YYYY'
          ? '(\\d{4})'
          : token === 'YY'
            ? '(\\d{2})'
            : token.length === 2
              ? '(\\d{2})'
              : '(\\d{1,2})';
      i += token.length;
    } else {
      pattern += format[i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i++;
    }
  }
  const re = new RegExp(`^${pattern}$`);
  return (text, warn) => {
    const m = re.exec(text.trim());
    if (!m) return undefined;
    let y = 0;
    let mo = 0;
    let d = 0;
    order.forEach((k, i) => {
      const v = Number(m[i + 1]);
      if (k === 'Y') y = v;
      else if (k === 'y') y = v < 80 ? 2000 + v : 1900 + v;
      else if (k === 'M') mo = v;
      else d = v;
    });
    return bankDate(y, mo, d, warn);
  };
}

/** The records of a CSV export after the preamble, header and footer rows are taken off. */
interface CsvTable {
  records: CsvRecord[];
  header: CsvRecord | undefined;
  hasHeader: boolean;
  /** Lines before the header or first row (`skip_rows` plus an Excel `sep=` line). */
  skip: number;
}

/** Decodes the bytes, finds the delimiter and splits the rows; `header` is taken off the top. */
function readCsvTable(
  bytes: Buffer,
  map: CsvMapping,
  file: string,
  warnings: StatementWarning[],
): CsvTable {
  const { text } = decodeAll(bytes, charsetFromName(map.encoding), (w) =>
    warnings.push(statementWarning('BANK_WARN_CHARSET', { file }, w)),
  );
  const allLines = text.split(/\r\n|\r|\n/);
  // Excel writes a `sep=;` line first when asked to keep the separator: it names the delimiter.
  const excelSep = /^sep=(.)$/.exec(allLines[0] ?? '');
  const skip = (map.skip_rows ?? 0) + (excelSep ? 1 : 0);
  const body = allLines.slice(skip).join('\n');
  const delimiter =
    map.delimiter === undefined || map.delimiter === 'auto'
      ? (excelSep?.[1] ?? detectDelimiter(body.split('\n', 1)[0] ?? ''))
      : map.delimiter === 'tab'
        ? '\t'
        : map.delimiter;
  let records: CsvRecord[];
  try {
    records = splitCsv(body, delimiter).map((r) => ({ fields: r.fields, line: r.line + skip }));
  } catch (err) {
    throw malformed({ file }, (err as Error).message);
  }
  records = records.filter((r) => r.fields.some((f) => f.trim() !== ''));
  const hasHeader = map.header ?? true;
  const header = hasHeader ? records.shift() : undefined;
  if (hasHeader && !header) throw malformed({ file, line: skip + 1 }, 'no header row');
  const footer = map.skip_footer_rows ?? 0;
  if (footer > 0) records = records.slice(0, Math.max(0, records.length - footer));
  return { records, header, hasHeader, skip };
}

/** The mapping's columns as 0-based indexes into a row's fields. */
interface CsvColumns {
  date: number;
  valueDate?: number;
  amount?: number;
  debit?: number;
  credit?: number;
  currency?: number;
  payee?: number;
  memo: number[];
  reference?: number;
  checkNumber?: number;
  id?: number;
  iban?: number;
  account?: number;
  /** How an error names a column: its header text, else its 1-based number. */
  name: (index: number) => string;
}

/** Resolves every column the mapping names against the header (exact, then case-insensitive). */
function resolveColumns(map: CsvMapping, table: CsvTable, file: string): CsvColumns {
  const { header, hasHeader } = table;
  const names = header?.fields.map((h) => h.trim()) ?? [];
  const resolve = (col: CsvColumn | undefined, key: string): number | undefined => {
    if (col === undefined) return undefined;
    if (typeof col === 'number') {
      if (!Number.isInteger(col) || col < 1)
        throw malformed({ file, field: key }, `column number ${col} must be 1 or more`);
      return col - 1;
    }
    const at = names.findIndex((n) => n === col.trim());
    const loose =
      at !== -1 ? at : names.findIndex((n) => n.toLowerCase() === col.trim().toLowerCase());
    if (loose === -1) {
      if (!hasHeader)
        throw malformed(
          { file, field: key },
          `column '${col}' named, but the mapping says the file has no header row`,
        );
      throw malformed(
        { file, line: header!.line, field: key },
        `no column '${col}' in the header (${names.map((n) => `'${n}'`).join(', ')})`,
      );
    }
    return loose;
  };
  const name = (index: number): string =>
    names[index] !== undefined && names[index] !== ''
      ? `column '${names[index]}'`
      : `column ${index + 1}`;

  const date = resolve(map.date, 'date')!;
  const valueDate = resolve(map.value_date, 'value_date');
  const amount = resolve(map.amount, 'amount');
  const debit = resolve(map.debit, 'debit');
  const credit = resolve(map.credit, 'credit');
  if (amount === undefined && debit === undefined && credit === undefined) {
    throw malformed(
      { file, field: 'amount' },
      'the CSV mapping names neither an amount column nor debit/credit columns',
    );
  }
  const currency = resolve(map.currency_column, 'currency_column');
  const payee = resolve(map.payee, 'payee');
  const memo = (Array.isArray(map.memo) ? map.memo : map.memo !== undefined ? [map.memo] : []).map(
    (c) => resolve(c, 'memo')!,
  );
  return {
    date,
    valueDate,
    amount,
    debit,
    credit,
    currency,
    payee,
    memo,
    reference: resolve(map.reference, 'reference'),
    checkNumber: resolve(map.check_number, 'check_number'),
    id: resolve(map.id, 'id'),
    iban: resolve(map.iban, 'iban'),
    account: resolve(map.account_column, 'account_column'),
    name,
  };
}

/** What every row is read with: the resolved columns and the mapping's fixed values. */
interface CsvRowContext {
  file: string;
  map: CsvMapping;
  cols: CsvColumns;
  readDate: ReturnType<typeof dateReader>;
  fixedCurrency: string | undefined;
  warnings: StatementWarning[];
}

/** One data row as a transaction of the account it belongs to. */
function rowToTransaction(
  r: CsvRecord,
  row: number,
  ctx: CsvRowContext,
): { accountId: string; tx: BankTransaction } {
  const { file, map, cols, readDate, fixedCurrency, warnings } = ctx;
  const colName = cols.name;
  const at = (field: string): { file: string; line: number; row: number; field: string } => ({
    file,
    line: r.line,
    row,
    field,
  });
  const cell = (index: number | undefined): string | undefined => {
    if (index === undefined) return undefined;
    const v = r.fields[index];
    return v === undefined ? undefined : v.trim();
  };
  const need = (index: number, what: string): string => {
    const v = cell(index);
    if (v === undefined)
      throw malformed(
        at(colName(index)),
        `row has ${r.fields.length} fields; the ${what} column is missing`,
      );
    return v;
  };
  const warn = (w: string): void => {
    warnings.push(statementWarning('BANK_WARN_DATE', { file, line: r.line, row }, w));
  };
  const dateText = need(cols.date, 'date');
  const bookingDate = readDate(dateText, warn);
  if (bookingDate === undefined)
    throw malformed(
      at(colName(cols.date)),
      `'${dateText}' is not a date in the format ${map.date_format ?? 'YYYY-MM-DD'}`,
    );
  let valueDate: CalendarDate | undefined;
  if (cols.valueDate !== undefined && cell(cols.valueDate)) {
    valueDate = readDate(cell(cols.valueDate)!, warn);
    if (valueDate === undefined)
      throw malformed(
        at(colName(cols.valueDate)),
        `'${cell(cols.valueDate)}' is not a date in the format ${map.date_format ?? 'YYYY-MM-DD'}`,
      );
  }
  const currencyText = cell(cols.currency)?.toUpperCase() || fixedCurrency;
  if (currencyText === undefined)
    throw malformed(
      at(cols.currency !== undefined ? colName(cols.currency) : 'currency'),
      'no currency: set `currency` or `currency_column` in the CSV mapping',
    );
  if (!isCurrency(currencyText))
    throw malformed(
      at(cols.currency !== undefined ? colName(cols.currency) : 'currency'),
      `'${currencyText}' is not an ISO 4217 currency`,
    );
  const money = (index: number): number | undefined => {
    const v = cell(index);
    if (v === undefined || v === '') return undefined;
    try {
      return decimalAmount(v.replace(/[$€£¥\s]/g, ''), currencyText, map.decimal);
    } catch (err) {
      throw malformed(at(colName(index)), `'${v}' is not an amount`, err);
    }
  };
  let amount: number;
  if (cols.amount !== undefined) {
    const a = money(cols.amount);
    if (a === undefined) throw malformed(at(colName(cols.amount)), 'empty amount');
    amount = a;
  } else {
    const debit = cols.debit !== undefined ? money(cols.debit) : undefined;
    const credit = cols.credit !== undefined ? money(cols.credit) : undefined;
    if (debit === undefined && credit === undefined) {
      throw malformed(
        at(colName((cols.debit ?? cols.credit)!)),
        'both the debit and the credit cell are empty',
      );
    }
    amount =
      (credit !== undefined ? Math.abs(credit) : 0) - (debit !== undefined ? Math.abs(debit) : 0);
  }
  if (map.negate) amount = amount === 0 ? 0 : -amount;
  const accountId = cell(cols.account) || map.account;
  if (!accountId)
    throw malformed(
      at(cols.account !== undefined ? colName(cols.account) : 'account'),
      'no account: set `account` or `account_column` in the CSV mapping',
    );
  const memo = cleanText(cols.memo.map((c) => cell(c) ?? '').join(' '));
  const iban = cell(cols.iban)?.replace(/\s+/g, '');
  const tx = compact<BankTransaction>({
    providerId: cell(cols.id) || undefined,
    bookingDate,
    valueDate,
    amount,
    currency: currencyText,
    payee: cleanText(cell(cols.payee)),
    counterpartyName: cleanText(cell(cols.payee)),
    counterpartyIban: iban || undefined,
    memo,
    reference: cleanText(cell(cols.reference)),
    checkNumber: cell(cols.checkNumber) || undefined,
    pending: false,
  });
  return { accountId, tx };
}

/**
 * The statements with their date ranges; a file with no rows is one empty statement of the
 * mapping's fixed account and currency.
 */
function assembleStatements(
  byAccount: Map<string, BankAccountStatement>,
  map: CsvMapping,
  fixedCurrency: string | undefined,
  file: string,
  warnings: StatementWarning[],
): BankAccountStatement[] {
  const statements = [...byAccount.values()];
  for (const [index, st] of statements.entries()) {
    const dates = st.transactions.map((t) => t.bookingDate).sort();
    if (dates.length > 0) {
      st.from = dates[0];
      st.to = dates[dates.length - 1];
    }
    dropSharedProviderIds(st, file, warnings, index);
  }
  if (statements.length === 0) {
    const account = map.account;
    if (account === undefined)
      throw malformed({ file }, 'no rows and no fixed account in the CSV mapping');
    if (fixedCurrency === undefined)
      throw malformed({ file, field: 'currency' }, 'no rows and no currency in the CSV mapping');
    statements.push({
      accountId: account,
      currency: fixedCurrency,
      transactions: [],
      balances: [],
    });
  }
  return statements;
}

/** Parses a bank CSV export with its column mapping: one statement per account. */
export function parseCsv(
  bytes: Buffer,
  options: { fileName: string; csv: CsvMapping; defaultCurrency?: string },
): ParsedStatementFile {
  const file = options.fileName;
  const map = options.csv;
  const warnings: StatementWarning[] = [];
  const table = readCsvTable(bytes, map, file, warnings);
  const cols = resolveColumns(map, table, file);
  const readDate = dateReader(map.date_format ?? 'YYYY-MM-DD');
  const fixedCurrency = map.currency?.toUpperCase() ?? options.defaultCurrency?.toUpperCase();
  if (fixedCurrency !== undefined && !isCurrency(fixedCurrency))
    throw malformed({ file, field: 'currency' }, `'${map.currency}' is not an ISO 4217 currency`);
  const ctx: CsvRowContext = { file, map, cols, readDate, fixedCurrency, warnings };

  const byAccount = new Map<string, BankAccountStatement>();
  const headerRows = table.skip + (table.hasHeader ? 1 : 0);
  table.records.forEach((r, i) => {
    // Row numbers count every record as a spreadsheet shows them: skipped lines, header, data.
    const row = headerRows + i + 1;
    const { accountId, tx } = rowToTransaction(r, row, ctx);
    let st = byAccount.get(accountId);
    if (!st) {
      st = { accountId, currency: tx.currency, transactions: [], balances: [] };
      byAccount.set(accountId, st);
    }
    capFreeText(tx, { file, line: r.line, row }, warnings);
    st.transactions.push(tx);
  });
  const statements = assembleStatements(byAccount, map, fixedCurrency, file, warnings);
  return { format: 'csv', statements, warnings };
}

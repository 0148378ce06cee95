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

/** Parses a bank CSV export with its column mapping: one statement per account. */
export function parseCsv(
  bytes: Buffer,
  options: { fileName: string; csv: CsvMapping; defaultCurrency?: string },
): ParsedStatementFile {
  const file = options.fileName;
  const map = options.csv;
  const warnings: StatementWarning[] = [];
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
  const colName = (index: number): string =>
    names[index] !== undefined && names[index] !== ''
      ? `column '${names[index]}'`
      : `column ${index + 1}`;

  const dateCol = resolve(map.date, 'date')!;
  const valueDateCol = resolve(map.value_date, 'value_date');
  const amountCol = resolve(map.amount, 'amount');
  const debitCol = resolve(map.debit, 'debit');
  const creditCol = resolve(map.credit, 'credit');
  if (amountCol === undefined && debitCol === undefined && creditCol === undefined) {
    throw malformed(
      { file, field: 'amount' },
      'the CSV mapping names neither an amount column nor debit/credit columns',
    );
  }
  const currencyCol = resolve(map.currency_column, 'currency_column');
  const payeeCol = resolve(map.payee, 'payee');
  const memoCols = (
    Array.isArray(map.memo) ? map.memo : map.memo !== undefined ? [map.memo] : []
  ).map((c) => resolve(c, 'memo')!);
  const refCol = resolve(map.reference, 'reference');
  const checkCol = resolve(map.check_number, 'check_number');
  const idCol = resolve(map.id, 'id');
  const ibanCol = resolve(map.iban, 'iban');
  const accountCol = resolve(map.account_column, 'account_column');
  const readDate = dateReader(map.date_format ?? 'YYYY-MM-DD');
  const fixedCurrency = map.currency?.toUpperCase() ?? options.defaultCurrency?.toUpperCase();
  if (fixedCurrency !== undefined && !isCurrency(fixedCurrency))
    throw malformed({ file, field: 'currency' }, `'${map.currency}' is not an ISO 4217 currency`);

  const byAccount = new Map<string, BankAccountStatement>();
  const headerRows = skip + (hasHeader ? 1 : 0);
  records.forEach((r, i) => {
    // Row numbers count every record as a spreadsheet shows them: skipped lines, header, data.
    const row = headerRows + i + 1;
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
    const dateText = need(dateCol, 'date');
    const bookingDate = readDate(dateText, warn);
    if (bookingDate === undefined)
      throw malformed(
        at(colName(dateCol)),
        `'${dateText}' is not a date in the format ${map.date_format ?? 'YYYY-MM-DD'}`,
      );
    let valueDate: CalendarDate | undefined;
    if (valueDateCol !== undefined && cell(valueDateCol)) {
      valueDate = readDate(cell(valueDateCol)!, warn);
      if (valueDate === undefined)
        throw malformed(
          at(colName(valueDateCol)),
          `'${cell(valueDateCol)}' is not a date in the format ${map.date_format ?? 'YYYY-MM-DD'}`,
        );
    }
    const currencyText = cell(currencyCol)?.toUpperCase() || fixedCurrency;
    if (currencyText === undefined)
      throw malformed(
        at(currencyCol !== undefined ? colName(currencyCol) : 'currency'),
        'no currency: set `currency` or `currency_column` in the CSV mapping',
      );
    if (!isCurrency(currencyText))
      throw malformed(
        at(currencyCol !== undefined ? colName(currencyCol) : 'currency'),
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
    if (amountCol !== undefined) {
      const a = money(amountCol);
      if (a === undefined) throw malformed(at(colName(amountCol)), 'empty amount');
      amount = a;
    } else {
      const debit = debitCol !== undefined ? money(debitCol) : undefined;
      const credit = creditCol !== undefined ? money(creditCol) : undefined;
      if (debit === undefined && credit === undefined) {
        throw malformed(
          at(colName((debitCol ?? creditCol)!)),
          'both the debit and the credit cell are empty',
        );
      }
      amount =
        (credit !== undefined ? Math.abs(credit) : 0) - (debit !== undefined ? Math.abs(debit) : 0);
    }
    if (map.negate) amount = amount === 0 ? 0 : -amount;
    const accountId = cell(accountCol) || map.account;
    if (!accountId)
      throw malformed(
        at(accountCol !== undefined ? colName(accountCol) : 'account'),
        'no account: set `account` or `account_column` in the CSV mapping',
      );
    const memo = cleanText(memoCols.map((c) => cell(c) ?? '').join(' '));
    const iban = cell(ibanCol)?.replace(/\s+/g, '');
    const tx = compact<BankTransaction>({
      providerId: cell(idCol) || undefined,
      bookingDate,
      valueDate,
      amount,
      currency: currencyText,
      payee: cleanText(cell(payeeCol)),
      counterpartyName: cleanText(cell(payeeCol)),
      counterpartyIban: iban || undefined,
      memo,
      reference: cleanText(cell(refCol)),
      checkNumber: cell(checkCol) || undefined,
      pending: false,
    });
    let st = byAccount.get(accountId);
    if (!st) {
      st = { accountId, currency: currencyText, transactions: [], balances: [] };
      byAccount.set(accountId, st);
    }
    capFreeText(tx, { file, line: r.line, row }, warnings);
    st.transactions.push(tx);
  });
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
  return { format: 'csv', statements, warnings };
}

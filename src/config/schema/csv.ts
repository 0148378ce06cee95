import { boolean, currency, integer, object, type Schema } from './common';

/**
 * `bank.connections[].settings.csv` of a dropfolder connection: how to read a bank's CSV export.
 * The same keys as `CsvMapping` in src/bank/formats/csv.ts (the reader).
 */

/** A column: its header text, or its 1-based number. */
const column = (description: string): Schema => ({
  description: `${description} The header text, or the 1-based column number.`,
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'integer', minimum: 1 },
  ],
});

export const csvMappingSchema: Schema = object(
  'Column mapping for CSV statements: date, and amount or debit/credit, are required.',
  {
    delimiter: {
      type: 'string',
      description: 'Field separator; auto: the most frequent of , ; and tab in the first row.',
      enum: [',', ';', '\t', 'tab', 'auto'],
      default: 'auto',
    },
    header: boolean('The first row (after skip_rows) names the columns.', true),
    skip_rows: integer('Lines to skip before the header or first row (bank preambles).', 0, 1000, {
      default: 0,
    }),
    skip_footer_rows: integer(
      'Rows to ignore at the end (totals, closing balance lines).',
      0,
      1000,
      { default: 0 },
    ),
    encoding: {
      type: 'string',
      description: 'Text encoding; auto: UTF-8 when valid, else Windows-1252.',
      enum: ['auto', 'utf-8', 'utf8', 'windows-1252', 'cp1252', '1252', 'iso-8859-1', 'latin1'],
      default: 'auto',
    },
    date: column('Booking date column.'),
    date_format: {
      type: 'string',
      description:
        'Date format with YYYY or YY, MM or M, DD or D and literal separators, e.g. DD.MM.YYYY, MM/DD/YYYY.',
      pattern: '^(?=.*(YYYY|YY))(?=.*(MM|M))(?=.*(DD|D)).*$',
      default: 'YYYY-MM-DD',
    },
    value_date: column('Value date column (same format).'),
    amount: column('Signed amount column: positive is money in.'),
    debit: column('Money-out column (unsigned, or negative as some banks write it).'),
    credit: column('Money-in column.'),
    decimal: {
      type: 'string',
      description: 'Decimal separator; left out: the last of . and , in each value.',
      enum: ['.', ','],
    },
    negate: boolean('Flip every amount (card exports where a purchase is positive).', false),
    currency: currency('Currency of every row.'),
    currency_column: column('Currency column (wins over currency when the cell is not empty).'),
    payee: column('Payee column.'),
    memo: {
      description: 'Memo column, or a list of columns joined with a space.',
      anyOf: [
        {
          anyOf: [
            { type: 'string', minLength: 1 },
            { type: 'integer', minimum: 1 },
          ],
        },
        {
          type: 'array',
          items: {
            anyOf: [
              { type: 'string', minLength: 1 },
              { type: 'integer', minimum: 1 },
            ],
          },
          minItems: 1,
        },
      ],
    },
    reference: column('Reference column.'),
    check_number: column('Check number column.'),
    id: column("The bank's transaction id column."),
    iban: column('Counterparty IBAN column.'),
    account: { type: 'string', minLength: 1, description: 'Account id every row belongs to.' },
    account_column: column('Account column, for exports that mix accounts.'),
  },
  {
    required: ['date'],
    anyOf: [{ required: ['amount'] }, { required: ['debit'] }, { required: ['credit'] }],
  },
);

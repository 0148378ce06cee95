import { warningText, type StatementWarning } from '../../src/bank/formats';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { MalformedStatementError } from '../../src/bank/errors';
import { parseCsv, parseStatement, type CsvMapping } from '../../src/bank/formats';
import { newAjv } from '../../src/config/load';
import { csvMappingSchema } from '../../src/config/schema/csv';
import { splitCsv } from '../../src/bank/formats/csv';

/** The warnings as people read them (`file:line: message`). */
const texts = (ws: StatementWarning[]) => ws.map(warningText);

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');
const read = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const mapping = (name: string): CsvMapping =>
  YAML.parse(read(name.replace(/\.csv$/, '.mapping.yaml')).toString('utf8')) as CsvMapping;
const parse = (name: string) => parseStatement(read(name), { fileName: name, csv: mapping(name) });

describe('CSV parser', function () {
  it('given a German Windows-1252 export (preamble, semicolons, DD.MM.YYYY, 1.234,56, quoted newline and "" quotes), then every row is exact', function () {
    const r = parse('csv-de-semicolon.csv');
    assert.equal(r.format, 'csv');
    assert.deepEqual(texts(r.warnings), []);
    const st = r.statements[0];
    assert.deepEqual(
      [st.accountId, st.currency, st.from, st.to],
      ['DE89370400440532013000', 'EUR', '2024-02-01', '2024-02-29'],
    );
    assert.deepEqual(
      st.transactions.map((t) => [t.bookingDate, t.valueDate, t.amount, t.payee, t.memo]),
      [
        ['2024-02-01', '2024-02-01', -11900, 'Stadtwerke München', 'Strom Februar'],
        ['2024-02-05', '2024-02-05', 123456, 'Kunde "Meier" & Söhne', 'Rechnung 4711 zweite Zeile'],
        ['2024-02-12', '2024-02-13', -4580, 'Café Größenwahn', 'Bewirtung'],
        ['2024-02-29', '2024-02-29', -990, 'Bank', 'Kontoführung'],
      ],
    );
  });

  it('given a US export with Debit and Credit columns, MM/DD/YYYY and "2,450.00", then debits are negative, credits positive, ids and check numbers kept', function () {
    const st = parse('csv-us-debit-credit.csv').statements[0];
    assert.deepEqual([st.accountId, st.currency], ['000123456789', 'USD']);
    assert.deepEqual(
      st.transactions.map((t) => [t.providerId, t.bookingDate, t.amount, t.payee, t.checkNumber]),
      [
        ['TXN-0001', '2024-01-03', -5421, 'AMAZON MKTPLACE PMTS, SEATTLE WA', undefined],
        ['TXN-0002', '2024-01-05', 245000, 'PAYROLL ACME INC', undefined],
        ['TXN-0003', '2024-01-09', -12500, 'CHECK 1044', '1044'],
        ['TXN-0004', '2024-01-31', 37, 'INTEREST PAYMENT', undefined],
      ],
    );
  });

  it('given a bad date at row 7, then BANK_MALFORMED_FILE names row 7, line 7 and the column', function () {
    assert.throws(
      () => parse('malformed-csv-bad-date.csv'),
      (err: unknown) => {
        assert.ok(err instanceof MalformedStatementError);
        assert.equal(err.code, 'BANK_MALFORMED_FILE');
        assert.equal(
          err.message,
          "malformed-csv-bad-date.csv:7: row 7: column 'Buchungstag': '31.13.2024' is not a date in the format DD.MM.YYYY",
        );
        assert.deepEqual(
          { ...err.details },
          { file: 'malformed-csv-bad-date.csv', line: 7, row: 7, field: "column 'Buchungstag'" },
        );
        return true;
      },
    );
  });

  it('given no header row, tab delimiter, column numbers, negate and a fixed currency, then amounts are flipped', function () {
    const csv = Buffer.from('2024-05-01\tCARD PURCHASE\t12.50\n2024-05-02\tPAYMENT\t-100\n');
    const r = parseCsv(csv, {
      fileName: 'card.tsv',
      csv: {
        header: false,
        date: 1,
        payee: 2,
        amount: 3,
        negate: true,
        currency: 'USD',
        account: 'card-1',
      },
    });
    assert.deepEqual(
      r.statements[0].transactions.map((t) => [t.bookingDate, t.amount, t.payee]),
      [
        ['2024-05-01', -1250, 'CARD PURCHASE'],
        ['2024-05-02', 10000, 'PAYMENT'],
      ],
    );
  });

  it('given a mapping naming a missing column, an unclosed quote, or a bad amount, then each error names what is wrong', function () {
    const csv = Buffer.from('Date,Amount\n2024-01-01,1.00\n');
    assert.throws(
      () =>
        parseCsv(csv, {
          fileName: 'a.csv',
          csv: { date: 'Datum', amount: 'Amount', currency: 'EUR', account: 'x' },
        }),
      /a\.csv:1: date: no column 'Datum' in the header \('Date', 'Amount'\)/,
    );
    assert.throws(
      () =>
        parseCsv(Buffer.from('Date,Amount\n2024-01-01,"1.00\n'), {
          fileName: 'q.csv',
          csv: { date: 'Date', amount: 'Amount', currency: 'EUR', account: 'x' },
        }),
      /q\.csv: quoted field opened on line 2 is never closed/,
    );
    assert.throws(
      () =>
        parseCsv(Buffer.from('Date,Amount\n2024-01-01,1.00\n2024-01-02,abc\n'), {
          fileName: 'm.csv',
          csv: { date: 'Date', amount: 'Amount', currency: 'EUR', account: 'x' },
        }),
      /m\.csv:3: row 3: column 'Amount': 'abc' is not an amount/,
    );
  });

  it('given an Excel `sep=;` first line, then it names the delimiter and is not a row', function () {
    const csv: CsvMapping = {
      date: 'Date',
      amount: 'Amount',
      decimal: ',',
      currency: 'EUR',
      account: 'a',
    };
    const r = parseCsv(
      Buffer.from('sep=;\r\nDate;Amount\r\n2024-01-01;1,50\r\n2024-01-02;-2\r\n'),
      { fileName: 'x.csv', csv },
    );
    assert.deepEqual(
      r.statements[0].transactions.map((t) => [t.bookingDate, t.amount]),
      [
        ['2024-01-01', 150],
        ['2024-01-02', -200],
      ],
    );
    assert.throws(
      () =>
        parseCsv(Buffer.from('sep=;\r\nDate;Amount\r\n2024-01-01;1,50\r\n2024-01-02;x\r\n'), {
          fileName: 'x.csv',
          csv,
        }),
      /x\.csv:4: row 4: column 'Amount': 'x' is not an amount/,
    );
  });

  it("splits RFC 4180 records: quoted delimiters, doubled quotes, CRLF and embedded newlines with the record's first line", function () {
    assert.deepEqual(splitCsv('a,"b,c","say ""hi"""\r\n"x\ny",z\n', ','), [
      { fields: ['a', 'b,c', 'say "hi"'], line: 1 },
      { fields: ['x\ny', 'z'], line: 2 },
    ]);
  });

  it('csvMappingSchema accepts the fixture mappings and rejects a mapping without amount columns or with an unknown key', function () {
    const ajv = newAjv();
    const validate = ajv.compile(csvMappingSchema);
    for (const name of [
      'csv-de-semicolon.csv',
      'csv-us-debit-credit.csv',
      'malformed-csv-bad-date.csv',
    ])
      assert.ok(validate(mapping(name)), `${name}: ${ajv.errorsText(validate.errors)}`);
    assert.equal(validate({ date: 'Date' }), false);
    assert.equal(validate({ date: 'Date', amount: 'A', colour: 'red' }), false);
  });
});

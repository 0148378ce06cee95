import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  STATEMENT_WARNING_CODES,
  parseStatement,
  warningText,
  type CsvMapping,
  type StatementWarning,
} from '../../src/bank/formats';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');
const read = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));

function parse(name: string, mapping?: string): StatementWarning[] {
  const csv = mapping ? (parseYaml(read(mapping).toString('utf8')) as CsvMapping) : undefined;
  return parseStatement(read(name), { fileName: name, csv }).warnings;
}

const PLACE_KEYS = new Set(['code', 'message', 'file', 'line', 'row', 'statement']);

describe('statement warnings are the same objects for every format', function () {
  it('given a warning from each reader (OFX, camt.053, MT940, MT942, CSV), then each is { code, message, file, line?, row?, statement? } with a known stable code and a message that does not repeat the place', function () {
    const mt942 = read('mt942-interim.sta')
      .toString('latin1')
      .replace(':90C:1EUR980,50', ':90C:2EUR990,50');
    const byFormat: Record<string, StatementWarning[]> = {
      ofx: parse('quirk-dates.ofx'),
      camt053: parse('camt053-v08.xml'),
      mt940: parse('mt940-swift-german.sta'),
      mt942: parseStatement(Buffer.from(mt942, 'latin1'), { fileName: 'interim.sta' }).warnings,
      csv: parse('csv-feb-30.csv', 'csv-feb-30.mapping.yaml'),
    };
    for (const [format, warnings] of Object.entries(byFormat)) {
      assert.ok(warnings.length > 0, `${format} gave a warning`);
      for (const w of warnings) {
        assert.deepEqual(
          Object.keys(w).filter((k) => !PLACE_KEYS.has(k)),
          [],
          `${format}: ${JSON.stringify(w)}`,
        );
        assert.ok(STATEMENT_WARNING_CODES.includes(w.code), `${format}: code ${w.code}`);
        assert.equal(typeof w.file, 'string');
        assert.ok(!w.message.startsWith(w.file), `${format}: ${w.message}`);
      }
    }
    assert.deepEqual(byFormat.ofx, [
      {
        code: 'BANK_WARN_DATE',
        message: 'DTPOSTED: date 2023-02-29 does not exist; booked on 2023-02-28',
        file: 'quirk-dates.ofx',
        line: 118,
        statement: 0,
      },
    ]);
    assert.deepEqual(byFormat.mt942, [
      {
        code: 'BANK_WARN_TOTALS_MISMATCH',
        message: ':90C: says 2 entries of 99050, the lines are 1 of 98050 (minor units of EUR)',
        file: 'interim.sta',
        line: 13,
        statement: 0,
      },
    ]);
    assert.deepEqual(byFormat.csv, [
      {
        code: 'BANK_WARN_DATE',
        message: 'date 2024-02-30 does not exist; booked on 2024-02-29',
        file: 'csv-feb-30.csv',
        line: 2,
        row: 2,
      },
    ]);
    assert.equal(
      warningText(byFormat.csv[0]),
      'csv-feb-30.csv:2: row 2: date 2024-02-30 does not exist; booked on 2024-02-29',
    );
    assert.deepEqual(
      byFormat.camt053.map((w) => [w.code, w.line, w.statement]),
      [['BANK_WARN_BALANCE_MISMATCH', 5, 0]],
    );
  });

  it('given a file of two statements written twice, then each repeat is a warning naming the repeated statement by its index in the file', function () {
    const text = read('mt940-plain-slash.sta').toString('latin1');
    const warnings = parseStatement(Buffer.from(`${text}\n${text}`, 'latin1'), {
      fileName: 'twice.sta',
    }).warnings;
    assert.deepEqual(
      warnings.map((w) => [w.code, w.file, w.statement]),
      [
        ['BANK_WARN_REPEATED_STATEMENT', 'twice.sta', 2],
        ['BANK_WARN_REPEATED_STATEMENT', 'twice.sta', 3],
      ],
    );
  });
});

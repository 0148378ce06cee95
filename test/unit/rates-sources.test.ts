import { strict as assert } from 'node:assert';
import { parseEcbXml, parseRatesCsv, RatesError } from '../../src/rates';
import { ecbXml } from '../helpers/sim/ecb-server';

/** The two rates formats (docs/CURRENCIES.md, "Rates sources"): ECB XML and rates CSV. */

function refused(fn: () => unknown, line: number, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RatesError, String(e));
    assert.equal(e.code, 'RATES_MALFORMED');
    assert.equal(e.details.line, line, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('rates: ECB reference rates XML', () => {
  it('reads every day and currency of the published format as EUR-based decimal text', () => {
    const { quotes, skipped } = parseEcbXml(
      ecbXml({
        '2024-02-01': { USD: '1.0830', JPY: '160.02', KWD: '0.33350' },
        '2024-02-02': { USD: '1.0800' },
      }),
      'eurofxref-hist-90d.xml',
    );
    assert.equal(skipped, 0);
    assert.deepEqual(
      quotes.map((q) => [q.base, q.quote, q.date, q.rate]),
      [
        ['EUR', 'USD', '2024-02-02', '1.0800'],
        ['EUR', 'USD', '2024-02-01', '1.0830'],
        ['EUR', 'JPY', '2024-02-01', '160.02'],
        ['EUR', 'KWD', '2024-02-01', '0.33350'],
      ],
    );
  });

  it('reads the ECB file as published (double-quoted namespaces, single-quoted attributes, tabs)', () => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
\t<gesmes:subject>Reference rates</gesmes:subject>
\t<gesmes:Sender>
\t\t<gesmes:name>European Central Bank</gesmes:name>
\t</gesmes:Sender>
\t<Cube>
\t\t<Cube time='2024-06-28'>
\t\t\t<Cube currency='USD' rate='1.0705'/>
\t\t\t<Cube currency='JPY' rate='171.94'/>
\t\t\t<Cube currency='HRK' rate='7.5345'/>
\t\t</Cube>
\t</Cube>
</gesmes:Envelope>`;
    const { quotes, skipped } = parseEcbXml(text);
    assert.deepEqual(
      quotes.map((q) => `${q.quote}=${q.rate}@${q.line}`),
      ['USD=1.0705@9', 'JPY=171.94@10'],
    );
    assert.equal(skipped, 1, 'HRK left the ISO 4217 list in 2023');
  });

  it('refuses a cut answer, naming the line where it ends', () => {
    const text = ecbXml({ '2024-02-01': { USD: '1.0830', JPY: '160.02' } });
    const cut = text.slice(0, text.indexOf("<Cube currency='JPY'"));
    refused(() => parseEcbXml(cut, 'daily.xml'), 9, /^daily\.xml:9: the file ends inside <Cube>/);
  });

  it('refuses an HTML error page', () => {
    refused(
      () => parseEcbXml('<html><body>Service unavailable</body></html>', 'daily.xml'),
      1,
      /expected a gesmes:Envelope, found <html>/,
    );
  });

  it('refuses a bad rate, a bad date and a currency outside a day, each with its line', () => {
    const ok = ecbXml({ '2024-02-01': { USD: '1.0830' } });
    refused(
      () => parseEcbXml(ok.replace("'1.0830'", "'1,0830'")),
      9,
      /'USD' has no valid rate \(got "1,0830"\)/,
    );
    refused(
      () => parseEcbXml(ok.replace('2024-02-01', '01.02.2024')),
      8,
      /Cube time '01.02.2024' is not a date/,
    );
    refused(
      () => parseEcbXml(ok.replace(/<Cube time='2024-02-01'>/, '').replace('\t\t</Cube>\n', '')),
      9,
      /Cube currency 'USD' outside a Cube time/,
    );
  });

  it('refuses an envelope with no rates', () => {
    refused(() => parseEcbXml(ecbXml({})), 10, /no rates/);
  });
});

describe('rates: CSV files', () => {
  it('reads date, base, quote, rate in any column order and skips blank lines', () => {
    const quotes = parseRatesCsv(
      'rate,date,quote,base\n1.0830,2024-02-01,USD,EUR\n\n0.0062,2024-02-01,EUR,JPY\n',
      'r.csv',
    );
    assert.deepEqual(
      quotes.map((q) => [q.base, q.quote, q.date, q.rate, q.line]),
      [
        ['EUR', 'USD', '2024-02-01', '1.0830', 2],
        ['JPY', 'EUR', '2024-02-01', '0.0062', 4],
      ],
    );
  });

  const header = 'date,base,quote,rate\n';
  const cases: Array<[string, string, number, RegExp]> = [
    ['a missing column', 'date,base,rate\n2024-02-01,EUR,1.08\n', 1, /lacks column\(s\) quote/],
    ['a float-looking rate with a comma', `${header}2024-02-01,EUR,USD,"1,08"\n`, 2, /5 columns/],
    ['an exponent', `${header}2024-02-01,EUR,USD,1e0\n`, 2, /rate '1e0' is not a positive decimal/],
    ['a negative rate', `${header}2024-02-01,EUR,USD,-1.08\n`, 2, /rate '-1.08'/],
    ['a bad date', `${header}2024-02-30,EUR,USD,1.08\n`, 2, /date '2024-02-30'/],
    [
      'an unknown currency',
      `${header}2024-02-01,EUR,XYZ,1.08\n`,
      2,
      /quote 'XYZ' is not an ISO 4217/,
    ],
    ['the same currency twice', `${header}2024-02-01,USD,USD,1\n`, 2, /both USD/],
    [
      'two rates for one pair and day',
      `${header}2024-02-01,EUR,USD,1.08\n2024-02-02,EUR,USD,1.09\n2024-02-01,EUR,USD,1.07\n`,
      4,
      /1\.07 here but 1\.08 on line 2/,
    ],
    ['no rates', header, 1, /no rates/],
  ];
  for (const [what, text, line, pattern] of cases)
    it(`refuses ${what}, naming the file and line`, () => {
      refused(() => parseRatesCsv(text, 'drop/rates.csv'), line, pattern);
      assert.throws(
        () => parseRatesCsv(text, 'drop/rates.csv'),
        new RegExp(`RatesError: drop/rates\\.csv:${line}: `),
      );
    });
});

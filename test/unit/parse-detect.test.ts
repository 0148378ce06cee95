import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { MalformedStatementError } from '../../src/bank/errors';
import { detectFormat, parseStatement } from '../../src/bank/formats';
import { chooseCharset, decodeCp1252, StreamDecoder } from '../../src/bank/formats/charset';
import { decimalAmount } from '../../src/bank/formats/common';
import { Tokenizer } from '../../src/bank/formats/tokenizer';
import { parseAmount } from '../../src/shared/money';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');
const read = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));

describe('statement format detection, charsets and the tokenizer', function () {
  it('detects each fixture by content, whatever its file name says', function () {
    const cases: [string, string][] = [
      ['ofx102-checking.ofx', 'ofx1'],
      ['quirk-header-one-line.qfx', 'ofx1'],
      ['ofx220-creditcard.ofx', 'ofx2'],
      ['quirk-v2-unclosed.ofx', 'ofx2'],
      ['camt053-v02.xml', 'camt053'],
      ['camt053-v08.xml', 'camt053'],
      ['mt940-swift-german.sta', 'mt940'],
      ['mt940-plain-slash.sta', 'mt940'],
    ];
    for (const [name, format] of cases) {
      assert.equal(detectFormat(read(name), { fileName: 'statement.txt' }), format, name);
    }
    assert.equal(
      detectFormat(read('csv-de-semicolon.csv'), {
        fileName: 'export.dat',
        csv: { date: 'Buchungstag', amount: 'Betrag' },
      }),
      'csv',
    );
    assert.equal(detectFormat(Buffer.from('hello world'), { fileName: 'notes.txt' }), undefined);
  });

  it('detects a UTF-16 camt file with a BOM and reads it', function () {
    const utf8 = read('camt053-v08.xml')
      .toString('utf8')
      .replace('encoding="UTF-8"', 'encoding="UTF-16"');
    const bytes = Buffer.from([0xff, 0xfe, ...Buffer.from(utf8, 'utf16le')]);
    const r = parseStatement(bytes, { fileName: 'u16.xml' });
    assert.equal(r.format, 'camt053');
    assert.equal(r.statements[0].transactions[0].payee, 'Alpen & Co. AG');
  });

  it('rejects an empty file and an unknown format with BANK_MALFORMED_FILE', function () {
    for (const [bytes, text] of [
      [Buffer.alloc(0), 'e.ofx: the file is empty'],
      [Buffer.from('just text\n'), 'n.txt:1: not a statement format'],
    ] as const) {
      assert.throws(
        () => parseStatement(bytes, { fileName: text.split(':')[0] }),
        (err: unknown) =>
          err instanceof MalformedStatementError &&
          err.code === 'BANK_MALFORMED_FILE' &&
          err.message.startsWith(text),
      );
    }
  });

  it('chooses charsets: BOM, declared 1252, UTF-8 that is not, and 1252 that is UTF-8', function () {
    const warnings: string[] = [];
    const warn = (w: string): void => {
      warnings.push(w);
    };
    assert.deepEqual(chooseCharset(Buffer.from([0xef, 0xbb, 0xbf, 0x41]), 'windows-1252', warn), {
      charset: 'utf-8',
      skip: 3,
    });
    assert.deepEqual(chooseCharset(Buffer.from([0x80, 0x41]), 'windows-1252', warn), {
      charset: 'windows-1252',
      skip: 0,
    });
    assert.deepEqual(chooseCharset(Buffer.from([0x80, 0x41]), undefined, warn), {
      charset: 'windows-1252',
      skip: 0,
    });
    assert.deepEqual(chooseCharset(Buffer.from('é', 'utf8'), 'windows-1252', warn), {
      charset: 'utf-8',
      skip: 0,
    });
    assert.equal(warnings.length, 2);
    assert.equal(decodeCp1252(Buffer.from([0x80, 0x20, 0x93, 0x41, 0x94, 0xe9])), '€ “A”é');
  });

  it('StreamDecoder: UTF-8 invalid after plain ASCII falls back to 1252; invalid after real UTF-8 is an error', function () {
    const warnings: string[] = [];
    const a = new StreamDecoder('utf-8', (w) => warnings.push(w));
    assert.equal(
      a.decode(Buffer.from('abc')) +
        a.decode(Buffer.from([0x80, 0xe9])) +
        a.decode(Buffer.alloc(0), true),
      'abc€é',
    );
    assert.equal(warnings.length, 1);
    const b = new StreamDecoder('utf-8', () => undefined);
    b.decode(Buffer.from('é', 'utf8'));
    assert.throws(() => b.decode(Buffer.from([0x80])), /mixes encodings/);
  });

  it('tokenizer: entities, CDATA, comments, PIs, DOCTYPE, quoted > in attributes, prefixes and line numbers, in any chunking', function () {
    const xml =
      '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY y "z">]>\n<!-- c > -->\n<a:Root b="1 > 0" c=\'&amp;\'>\n<t>A &amp; B &#233;&#x20AC; &unknown; AT&T</t><![CDATA[<raw & stuff>]]><e/></a:Root>';
    const run = (size: number): string[] => {
      const out: string[] = [];
      const tk: Tokenizer = new Tokenizer({
        open: (n, attrs, self) =>
          out.push(`open ${n} ${JSON.stringify(attrs ?? {})} ${self} @${tk.line}`),
        close: (n) => out.push(`close ${n} @${tk.line}`),
        text: (t) => {
          if (t.trim() !== '') out.push(`text ${t}`);
        },
      });
      for (let i = 0; i < xml.length; i += size) tk.write(xml.slice(i, i + size));
      tk.end();
      return out;
    };
    const expected = [
      'open a:Root {"b":"1 > 0","c":"&"} false @4',
      'open t {} false @5',
      'text A & B é€ &unknown; AT&T',
      'close t @5',
      'text <raw & stuff>',
      'open e {} true @5',
      'close a:Root @5',
    ];
    for (const size of [1, 2, 7, xml.length])
      assert.deepEqual(run(size), expected, `chunk ${size}`);
  });

  it('decimalAmount equals parseAmount on every decimal text both accept (property)', function () {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.integer({ min: 0, max: 2 }),
        fc.constantFrom('.', ','),
        (neg, units, fd, mark) => {
          const digits = units.toString();
          const text = `${neg ? '-' : ''}${digits}${fd > 0 ? mark + '5'.repeat(fd) : ''}`;
          assert.equal(decimalAmount(text, 'EUR'), parseAmount(text, 'EUR'));
        },
      ),
      { numRuns: 500 },
    );
    assert.equal(decimalAmount('1.234,56', 'EUR'), 123456);
    assert.equal(decimalAmount('-0', 'EUR'), 0);
    assert.throws(() => decimalAmount('1.234', 'USD'), /ambiguous|3 decimals/);
    assert.equal(decimalAmount('1500', 'JPY'), 1500);
    assert.equal(decimalAmount('1.5', 'KWD'), 1500);
  });
});

import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { InvalidValueError, hasCode } from '../../src/shared/errors';
import {
  currencyCode,
  currencyExponent,
  formatAmount,
  formatMoney,
  isCurrency,
  money,
  parseAmount,
  type ParseAmountOptions,
  sumAmounts,
} from '../../src/shared/money';

function parseFails(
  text: string,
  currency: string,
  reason: RegExp,
  options: ParseAmountOptions = {},
): void {
  assert.throws(
    () => parseAmount(text, currency, options),
    (err: unknown) => {
      assert.ok(err instanceof InvalidValueError, `expected InvalidValueError, got ${String(err)}`);
      assert.equal(err.code, 'MONEY_PARSE');
      assert.match(err.message, reason);
      assert.ok(err.message.includes(`'${text}'`), 'the message quotes the text');
      return true;
    },
  );
}

describe('money', () => {
  describe('currencies', () => {
    it('knows the minor unit of JPY (0), EUR (2) and KWD (3)', () => {
      assert.equal(currencyExponent('JPY'), 0);
      assert.equal(currencyExponent('EUR'), 2);
      assert.equal(currencyExponent('KWD'), 3);
      assert.equal(currencyExponent('usd'), 2);
    });

    it('rejects a made-up currency with MONEY_CURRENCY', () => {
      assert.equal(isCurrency('EUR'), true);
      assert.equal(isCurrency('EURO'), false);
      assert.equal(currencyCode(' chf '), 'CHF');
      assert.throws(
        () => currencyCode('XXY'),
        (e: unknown) => hasCode(e, 'MONEY_CURRENCY'),
      );
      assert.throws(
        () => parseAmount('1', 'ABC'),
        (e: unknown) => hasCode(e, 'MONEY_CURRENCY'),
      );
    });

    it('money() refuses fractions of a minor unit', () => {
      assert.deepEqual(money(150, 'eur'), { amount: 150, currency: 'EUR' });
      assert.throws(
        () => money(1.5, 'EUR'),
        (e: unknown) => hasCode(e, 'MONEY_NOT_INTEGER'),
      );
      assert.throws(
        () => money(Number.MAX_SAFE_INTEGER + 1, 'EUR'),
        (e: unknown) => hasCode(e, 'MONEY_NOT_INTEGER'),
      );
    });
  });

  describe('parseAmount', () => {
    const cases: Array<[string, string, number]> = [
      ['-1.234,56', 'EUR', -123456],
      ['1,234.56', 'EUR', 123456],
      ['+12', 'EUR', 1200],
      ['12.3', 'EUR', 1230],
      ['12,3', 'EUR', 1230],
      ['(12.30)', 'EUR', -1230],
      ['12.30-', 'EUR', -1230],
      ['12.30+', 'EUR', 1230],
      ['- 12', 'EUR', -1200],
      ['  12.30 ', 'EUR', 1230],
      ['0.05', 'EUR', 5],
      ['.5', 'EUR', 50],
      [',5', 'EUR', 50],
      ['5.', 'EUR', 500],
      ['-0', 'EUR', 0],
      ['0', 'EUR', 0],
      ['1.000.000', 'EUR', 100_000_000],
      ['1,000,000', 'EUR', 100_000_000],
      ['1.234.567,89', 'EUR', 123_456_789],
      ['1,234,567.89', 'USD', 123_456_789],
      ['1 234 567,89', 'EUR', 123_456_789],
      ['1\u00a0234,56', 'EUR', 123456],
      ['1\u202f234,56', 'EUR', 123456],
      ["1'234.56", 'CHF', 123456],
      ['12.50', 'EUR', 1250],
      ['12.5000', 'EUR', 1250],
      ['1.234,50', 'EUR', 123450],
      ['100', 'JPY', 100],
      ['-5', 'JPY', -5],
      ['1,234,567', 'JPY', 1_234_567],
      ['1.234.567', 'JPY', 1_234_567],
      ['1.5', 'KWD', 1500],
      ['0.500', 'KWD', 500],
      ['0,001', 'KWD', 1],
      ['1234.567', 'KWD', 1_234_567],
      ['1,234.567', 'KWD', 1_234_567],
      ['-1.234,567', 'KWD', -1_234_567],
      ['90071992547409.91', 'EUR', Number.MAX_SAFE_INTEGER],
    ];
    for (const [text, currency, expected] of cases) {
      it(`reads '${text}' ${currency} as ${expected} minor units`, () => {
        const got = parseAmount(text, currency);
        assert.equal(got, expected);
        assert.ok(!Object.is(got, -0), 'never negative zero');
      });
    }

    it('honours a declared decimal separator', () => {
      assert.equal(parseAmount('1,234', 'EUR', { decimal: '.' }), 123400);
      assert.equal(parseAmount('1.234', 'EUR', { decimal: ',' }), 123400);
      assert.equal(parseAmount('12.340', 'KWD', { decimal: '.' }), 12340);
      assert.equal(parseAmount('1.000', 'JPY', { decimal: ',' }), 1000);
      assert.equal(parseAmount('1234,5', 'EUR', { decimal: ',' }), 123450);
      parseFails('1,5', 'EUR', /thousands separator/, { decimal: '.' });
      parseFails('1.234,56', 'EUR', /decimal mark|separator/, { decimal: '.' });
      parseFails('1,234', 'EUR', /3 decimals but EUR has 2/, { decimal: ',' });
    });

    it('refuses a lone separator before three digits without a declared decimal (ambiguous)', () => {
      parseFails('1,234', 'EUR', /ambiguous/);
      parseFails('1.234', 'EUR', /ambiguous/);
      parseFails('12.340', 'EUR', /ambiguous/);
      parseFails('1,234', 'KWD', /ambiguous/);
      parseFails('1.000', 'JPY', /ambiguous/);
    });

    it('reads a lone mark as the decimal mark when the source never groups thousands (OFX)', () => {
      assert.equal(parseAmount('12.340', 'EUR', { grouping: false }), 1234);
      assert.equal(parseAmount('-1,234', 'KWD', { grouping: false }), -1234);
      assert.equal(parseAmount('1.000', 'JPY', { grouping: false }), 1);
      assert.equal(parseAmount('1234', 'JPY', { grouping: false }), 1234);
      parseFails('1,234', 'EUR', /3 decimals but EUR has 2/, { grouping: false });
      parseFails('1.234,56', 'EUR', /no thousands separators|where the source has none/, {
        grouping: false,
      });
      parseFails('1 234', 'EUR', /where the source has none/, { grouping: false });
    });

    it('refuses more decimals than the currency has, unless they are zeros', () => {
      parseFails('12.345', 'EUR', /ambiguous|3 decimals/);
      parseFails('1,2345', 'EUR', /4 decimals but EUR has 2/);
      parseFails('1.5', 'JPY', /1 decimals but JPY has 0/);
      parseFails('1.234,5', 'JPY', /decimals but JPY has 0/);
      parseFails('0.0001', 'KWD', /4 decimals but KWD has 3/);
      assert.equal(parseAmount('0.0010', 'KWD'), 1);
    });

    it('refuses text that is not a number', () => {
      parseFails('abc', 'EUR', /not a number/);
      parseFails('', 'EUR', /empty/);
      parseFails('   ', 'EUR', /empty/);
      parseFails('-', 'EUR', /not a number/);
      parseFails('.', 'EUR', /not a number/);
      parseFails('1e5', 'EUR', /not a number/);
      parseFails('1_000', 'EUR', /not a number/);
      parseFails('12 EUR', 'EUR', /not a number/);
      parseFails('0x10', 'EUR', /not a number/);
    });

    it('refuses misplaced separators', () => {
      parseFails('1.2.3,4', 'EUR', /thousands separator/);
      parseFails('1,23,4', 'EUR', /thousands separator/);
      parseFails('1.234.56', 'EUR', /thousands separator/);
      parseFails('12 34,56', 'EUR', /thousands separator/);
      parseFails('1 234.567,89', 'EUR', /thousands separator/);
      parseFails('1,234.5.6', 'EUR', /decimal mark|separator/);
    });

    it('refuses two signs', () => {
      parseFails('--5', 'EUR', /sign|not a number/);
      parseFails('(-5)', 'EUR', /more than one sign/);
      parseFails('-12.30-', 'EUR', /more than one sign/);
      parseFails('+5-', 'EUR', /more than one sign/);
      parseFails('(12.30-)', 'EUR', /more than one sign/);
    });

    it('refuses amounts beyond the safe integer range instead of rounding them', () => {
      parseFails('99999999999999999999', 'EUR', /too large/);
      parseFails('90071992547409.92', 'EUR', /too large/);
      parseFails('9007199254740992', 'JPY', /too large/);
      parseFails('1' + '0'.repeat(400), 'EUR', /too large/);
    });

    it('reads back what formatAmount writes, for any amount (property)', () => {
      fc.assert(
        fc.property(
          fc.maxSafeInteger(),
          fc.constantFrom('JPY', 'EUR', 'KWD', 'CLF'),
          (minor, currency) => {
            const text = formatAmount(minor, currency);
            assert.equal(parseAmount(text, currency, { decimal: '.' }), minor);
          },
        ),
      );
    });

    it('reads grouped amounts in both European and English notation (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: -1e13, max: 1e13 }), (cents) => {
          const plain = formatAmount(cents, 'EUR');
          const english = formatMoney({ amount: cents, currency: 'EUR' }).replace(' EUR', '');
          const european = english.replace(/[.,]/g, (c) => (c === '.' ? ',' : '.'));
          assert.equal(parseAmount(plain, 'EUR'), cents);
          assert.equal(parseAmount(english, 'EUR'), cents);
          assert.equal(parseAmount(european, 'EUR'), cents);
        }),
      );
    });
  });

  describe('formatAmount / formatMoney', () => {
    const cases: Array<[number, string, string, string]> = [
      [5, 'EUR', '0.05', '0.05 EUR'],
      [-5, 'EUR', '-0.05', '-0.05 EUR'],
      [-50, 'EUR', '-0.50', '-0.50 EUR'],
      [0, 'EUR', '0.00', '0.00 EUR'],
      [123456, 'EUR', '1234.56', '1,234.56 EUR'],
      [-123456, 'EUR', '-1234.56', '-1,234.56 EUR'],
      [5, 'JPY', '5', '5 JPY'],
      [-1234567, 'JPY', '-1234567', '-1,234,567 JPY'],
      [1, 'KWD', '0.001', '0.001 KWD'],
      [-1234567, 'KWD', '-1234.567', '-1,234.567 KWD'],
      [100, 'CLF', '0.0100', '0.0100 CLF'],
      [Number.MAX_SAFE_INTEGER, 'EUR', '90071992547409.91', '90,071,992,547,409.91 EUR'],
    ];
    for (const [amount, currency, plain, human] of cases) {
      it(`writes ${amount} ${currency} as '${plain}' and '${human}'`, () => {
        assert.equal(formatAmount(amount, currency), plain);
        assert.equal(formatMoney({ amount, currency }), human);
      });
    }

    it('refuses non-integer amounts', () => {
      assert.throws(
        () => formatAmount(0.1, 'EUR'),
        (e: unknown) => hasCode(e, 'MONEY_NOT_INTEGER'),
      );
      assert.throws(
        () => formatAmount(Number.NaN, 'EUR'),
        (e: unknown) => hasCode(e, 'MONEY_NOT_INTEGER'),
      );
    });
  });

  describe('sumAmounts', () => {
    it('adds integers exactly and refuses to overflow', () => {
      assert.equal(sumAmounts([10, 20, -5]), 25);
      assert.equal(sumAmounts([]), 0);
      assert.throws(
        () => sumAmounts([Number.MAX_SAFE_INTEGER, 1]),
        (e: unknown) => hasCode(e, 'MONEY_OVERFLOW'),
      );
    });
  });
});

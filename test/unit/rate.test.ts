import { strict as assert } from 'node:assert';
import { BooksyncError } from '../../src/shared/errors';
import {
  convertMinor,
  crossRate,
  formatRate,
  parseRate,
  proportion,
  roundHalfAwayFromZero,
} from '../../src/shared/rate';

/**
 * The rounding rule of currency conversion (docs/CURRENCIES.md, "Rounding"): exact rationals,
 * one rounding at the end to the target's ISO 4217 minor unit, half away from zero.
 */

/** [amount in minor units of `from`, from, to, rate (1 from = rate to), expected minor units of `to`, why]. */
const DIRECT: Array<[number, string, string, string, number, string]> = [
  // EUR (2) → JPY (0)
  [25, 'EUR', 'JPY', '10', 3, '2.5 yen: a tie rounds away from zero (half-even would give 2)'],
  [-25, 'EUR', 'JPY', '10', -3, '-2.5 yen: away from zero on the negative side too'],
  [15, 'EUR', 'JPY', '10', 2, '1.5 yen'],
  [1, 'EUR', 'JPY', '0.4', 0, '0.004 yen'],
  [10000, 'EUR', 'JPY', '160.005', 16001, '16000.5 yen'],
  [10000, 'EUR', 'JPY', '160.0049', 16000, '16000.49 yen'],
  // JPY (0) → EUR (2)
  [1, 'JPY', 'EUR', '0.005', 1, '0.5 cent'],
  [5, 'JPY', 'EUR', '0.005', 3, '2.5 cents'],
  [-5, 'JPY', 'EUR', '0.005', -3, '-2.5 cents'],
  [1, 'JPY', 'EUR', '0.0049', 0, '0.49 cent'],
  // EUR (2) → KWD (3)
  [1, 'EUR', 'KWD', '0.3335', 3, '3.335 fils'],
  [2, 'EUR', 'KWD', '0.3325', 7, '6.65 fils'],
  [100, 'EUR', 'KWD', '0.3325', 333, '332.5 fils'],
  [-100, 'EUR', 'KWD', '0.3325', -333, '-332.5 fils'],
  // KWD (3) → EUR (2)
  [1, 'KWD', 'EUR', '2.5', 0, '0.25 cent'],
  [2, 'KWD', 'EUR', '2.5', 1, '0.5 cent'],
  [1000, 'KWD', 'EUR', '3.005', 301, '300.5 cents'],
  // KWD (3) ↔ JPY (0)
  [1000, 'KWD', 'JPY', '490.5', 491, '490.5 yen'],
  [1, 'JPY', 'KWD', '0.0025', 3, '2.5 fils'],
  // EUR ↔ USD (both 2)
  [10000, 'USD', 'EUR', '0.8', 8000, 'exact'],
  [1, 'USD', 'EUR', '0.5', 1, '0.5 cent'],
  [0, 'USD', 'EUR', '1.0830', 0, 'nothing stays nothing'],
];

/** Cross rates via EUR: [amount, from, to, EUR→from, EUR→to, expected, why]. */
const CROSS: Array<[number, string, string, string, string, number, string]> = [
  [10000, 'USD', 'JPY', '1.0830', '160', 14774, '100 USD × 160 / 1.083 = 14773.78 yen'],
  [100, 'USD', 'JPY', '1.6', '100', 63, '1 USD = 62.5 yen exactly: a tie, away from zero'],
  [-100, 'USD', 'JPY', '1.6', '100', -63, '-62.5 yen'],
  [1, 'KWD', 'JPY', '0.3325', '166.25', 1, '1 KWD = 500 yen, 1 fils = 0.5 yen'],
  [1000, 'JPY', 'KWD', '160', '0.3333', 2083, '1000 yen × 0.3333 / 160 = 2.083125 KWD'],
  [
    100,
    'JPY',
    'USD',
    '160',
    '1.0830',
    68,
    '100 yen = 0.676875 USD = 67.69 cents: no intermediate rounding',
  ],
  [12345, 'GBP', 'KWD', '0.85', '0.33', 47928, '123.45 GBP × 0.33 / 0.85 = 47.9276 KWD'],
];

describe('exchange rates: exact conversion and rounding (half away from zero)', () => {
  describe('direct rates', () => {
    for (const [amount, from, to, rate, expected, why] of DIRECT) {
      it(`${amount} ${from} minor units at ${rate} → ${expected} ${to} (${why})`, () => {
        assert.equal(convertMinor(amount, from, to, parseRate(rate)), expected);
      });
    }
  });

  describe('cross rates via EUR', () => {
    for (const [amount, from, to, eurFrom, eurTo, expected, why] of CROSS) {
      it(`${amount} ${from} → ${expected} ${to} with EUR/${from} ${eurFrom}, EUR/${to} ${eurTo} (${why})`, () => {
        const rate = crossRate(parseRate(eurFrom), parseRate(eurTo));
        assert.equal(convertMinor(amount, from, to, rate), expected);
      });
    }
  });

  it('rounds ties away from zero and everything else to the nearest', () => {
    const table: Array<[bigint, bigint, bigint]> = [
      [5n, 2n, 3n],
      [-5n, 2n, -3n],
      [7n, 2n, 4n],
      [1n, 3n, 0n],
      [2n, 3n, 1n],
      [-2n, 3n, -1n],
      [0n, 7n, 0n],
    ];
    for (const [num, den, expected] of table)
      assert.equal(roundHalfAwayFromZero(num, den), expected, `${num}/${den}`);
  });

  it('converts a limit toward zero, so that it never allows more than written', () => {
    const table: Array<[number, string, string, string, number]> = [
      [200, 'EUR', 'JPY', '161.87', 323], // 323.74 yen; half away from zero gives 324
      [200, 'EUR', 'KWD', '0.33275', 665], // 0.6655 KWD; half away from zero gives 666
      [-200, 'EUR', 'JPY', '161.87', -323],
      [200, 'EUR', 'JPY', '160', 320],
    ];
    for (const [amount, from, to, rate, expected] of table)
      assert.equal(convertMinor(amount, from, to, parseRate(rate), 'toward_zero'), expected, rate);
  });

  describe('reading rates', () => {
    it('reads plain decimals exactly, whatever their length', () => {
      assert.deepEqual(parseRate('1.0830'), { num: 1083n, den: 1000n });
      assert.deepEqual(parseRate('160'), { num: 160n, den: 1n });
      assert.deepEqual(parseRate('0.000000000000000001'), { num: 1n, den: 10n ** 18n });
      assert.equal(formatRate(parseRate('15804.4100')), '15804.41');
    });

    for (const bad of ['', '0', '0.000', '-1.08', '1,0830', '1e3', '.5', '1.', ' ', 'NaN', '1.2.3'])
      it(`refuses ${JSON.stringify(bad)} with RATE_INVALID`, () => {
        assert.throws(
          () => parseRate(bad),
          (e: unknown) => e instanceof BooksyncError && e.code === 'RATE_INVALID',
        );
      });

    it('writes a cross rate as a decimal when it has one, else as a fraction', () => {
      assert.equal(formatRate(crossRate(parseRate('1.6'), parseRate('100'))), '62.5');
      assert.equal(formatRate(crossRate(parseRate('3'), parseRate('1'))), '1/3');
    });
  });

  it('splits a converted total into shares that always add up to it', () => {
    // 100.00 USD booked as 92.34 EUR, paid in three parts of 33.33, 33.33 and 33.34 USD.
    const parts = [3333, 3333, 3334];
    let paid = 0;
    const shares = parts.map((p) => {
      const share = proportion(9234, paid + p, 10000) - proportion(9234, paid, 10000);
      paid += p;
      return share;
    });
    assert.deepEqual(shares, [3078, 3077, 3079]);
    assert.equal(
      shares.reduce((a, b) => a + b, 0),
      9234,
    );
  });
});

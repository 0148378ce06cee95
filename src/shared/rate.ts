import { InvalidValueError } from './errors';
import { currencyExponent } from './money';

/**
 * Exchange rates as exact rationals, and conversion of minor units between currencies
 * (docs/CURRENCIES.md). A rate is written as decimal text ("1.0853", "161.87"), never a float:
 * it is read digit by digit into a fraction of two BigInts, products and quotients of rates (a
 * cross rate via EUR) stay exact fractions, and a money amount is rounded once, at the end, to
 * the target currency's minor unit.
 *
 * Rounding rule: half away from zero (a tie goes to the amount farther from zero: 0.5 → 1,
 * -0.5 → -1), the rule of Council Regulation (EC) No 1103/97, art. 5, for euro conversions.
 */

/** A positive exact fraction `num / den`, in lowest terms. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;
/** Digits a rate may have in all: the ECB publishes at most 6 significant digits; this is generous. */
const MAX_RATE_DIGITS = 30;

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

function reduced(num: bigint, den: bigint): Rational {
  const g = gcd(num, den);
  return { num: num / g, den: den / g };
}

/** Throws `RATE_INVALID` unless `text` is a positive plain decimal ("1.0853"; no sign, exponent or grouping). */
export function parseRate(text: string): Rational {
  const s = typeof text === 'string' ? text.trim() : '';
  const m = DECIMAL.exec(s);
  const fail = (why: string): never => {
    throw new InvalidValueError('RATE_INVALID', `cannot read '${String(text)}' as a rate: ${why}`, {
      details: { rate: String(text) },
    });
  };
  if (!m) return fail('expected a positive decimal such as 1.0853');
  const frac = m[2] ?? '';
  if (m[1].length + frac.length > MAX_RATE_DIGITS) fail(`more than ${MAX_RATE_DIGITS} digits`);
  const num = BigInt(m[1] + frac);
  if (num === 0n) fail('a rate must be greater than 0');
  return reduced(num, 10n ** BigInt(frac.length));
}

/** True when `text` is a rate `parseRate` accepts. */
export function isRateText(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  try {
    parseRate(text);
    return true;
  } catch {
    return false;
  }
}

export function multiplyRates(a: Rational, b: Rational): Rational {
  return reduced(a.num * b.num, a.den * b.den);
}

export function invertRate(r: Rational): Rational {
  return { num: r.den, den: r.num };
}

/**
 * The rate from `from` to `to` given both against a common base (ECB: 1 EUR = `baseToFrom` units
 * of `from`, 1 EUR = `baseToTo` units of `to`): 1 `from` = baseToTo / baseToFrom `to`, exact.
 */
export function crossRate(baseToFrom: Rational, baseToTo: Rational): Rational {
  return multiplyRates(invertRate(baseToFrom), baseToTo);
}

/** `num / den` rounded to an integer, half away from zero (`den` > 0). */
export function roundHalfAwayFromZero(num: bigint, den: bigint): bigint {
  if (den <= 0n) throw new RangeError('the denominator must be positive');
  const negative = num < 0n;
  const abs = negative ? -num : num;
  const q = abs / den;
  const r = abs % den;
  const rounded = 2n * r >= den ? q + 1n : q;
  return negative ? -rounded : rounded;
}

/** `num / den` rounded to an integer toward zero (`den` > 0): the part that is surely covered. */
export function roundTowardZero(num: bigint, den: bigint): bigint {
  if (den <= 0n) throw new RangeError('the denominator must be positive');
  return num / den;
}

/** How a conversion rounds: money booked `half_away`; a limit (a tolerance) `toward_zero`, so it never widens. */
export type Rounding = 'half_away' | 'toward_zero';

/**
 * Converts `amount` minor units of `from` into minor units of `to` at `rate` (1 `from` = rate
 * `to`), with each currency's ISO 4217 minor-unit exponent (JPY 0, EUR 2, KWD 3), rounded half
 * away from zero (or toward zero when asked). Throws `MONEY_OVERFLOW` when the result leaves the
 * safe integer range.
 */
export function convertMinor(
  amount: number,
  from: string,
  to: string,
  rate: Rational,
  rounding: Rounding = 'half_away',
): number {
  if (!Number.isSafeInteger(amount))
    throw new InvalidValueError('MONEY_NOT_INTEGER', `amount ${amount} is not an integer`);
  const ef = BigInt(currencyExponent(from));
  const et = BigInt(currencyExponent(to));
  const num = BigInt(amount) * rate.num * 10n ** et;
  const den = rate.den * 10n ** ef;
  const out =
    rounding === 'toward_zero' ? roundTowardZero(num, den) : roundHalfAwayFromZero(num, den);
  if (out > BigInt(Number.MAX_SAFE_INTEGER) || out < -BigInt(Number.MAX_SAFE_INTEGER))
    throw new InvalidValueError(
      'MONEY_OVERFLOW',
      `${amount} ${from} converted leaves the safe range`,
    );
  return Number(out);
}

/**
 * `total × part / whole` rounded half away from zero, exact: the share of a converted total that
 * belongs to `part` of the original amount (a partial payment of a converted invoice). Shares of
 * consecutive parts telescope, so the parts of a whole always add up to its total.
 */
export function proportion(total: number, part: number, whole: number): number {
  if (whole === 0) throw new RangeError('the whole must not be 0');
  const sign = whole < 0 ? -1n : 1n;
  return Number(roundHalfAwayFromZero(BigInt(total) * BigInt(part) * sign, BigInt(whole) * sign));
}

/** The rate as decimal text when it has a finite decimal expansion, else `num/den`. */
export function formatRate(r: Rational): string {
  let den = r.den;
  let twos = 0;
  let fives = 0;
  while (den % 2n === 0n) {
    den /= 2n;
    twos++;
  }
  while (den % 5n === 0n) {
    den /= 5n;
    fives++;
  }
  if (den !== 1n) return `${r.num}/${r.den}`;
  const digits = Math.max(twos, fives);
  const scaled = (r.num * 10n ** BigInt(digits)) / r.den;
  if (digits === 0) return String(scaled);
  const text = String(scaled).padStart(digits + 1, '0');
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

/**
 * The largest cross-currency tolerance of a transfer rule, in percent: a bank's own rate is within
 * a few percent of the reference rate, and a wider window would pair unrelated lines. The config
 * check (file:line:col) and the ledger's rule compiler both hold rules to it.
 */
export const MAX_TRANSFER_TOLERANCE_PERCENT = 10;

/** Percent text as the config writes it: "1.5%", "10%" (the config schema's pattern too). */
export const PERCENT_PATTERN = '^[0-9]+(\\.[0-9]+)?%$';
const PERCENT = new RegExp(PERCENT_PATTERN);

/** The decimal digits of percent text ("1.5%" → "1.5"); null for anything else. */
export function percentDigits(text: unknown): string | null {
  return typeof text === 'string' && PERCENT.test(text) ? text.slice(0, -1) : null;
}

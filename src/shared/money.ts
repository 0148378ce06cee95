import { InvalidValueError } from './errors';

/**
 * Money is an integer number of minor units with an ISO 4217 currency. Never a float: amounts
 * are parsed from text digit by digit and stored as safe integers (JSON numbers in documents).
 */
export interface Money {
  /** Integer minor units (cents for EUR, yen for JPY, fils for KWD). */
  readonly amount: number;
  /** ISO 4217 alphabetic code, upper case. */
  readonly currency: string;
}

/**
 * ISO 4217 active codes whose minor unit is not 2; every other code has 2. Source: ISO 4217
 * "List one: Currency, fund and precious metal codes" (2024), published by SIX, the maintenance
 * agency: https://www.six-group.com/en/products-services/financial-information/data-standards.html
 */
const EXPONENT_EXCEPTIONS: Readonly<Record<string, number>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

/** The active ISO 4217 currency codes (funds codes included, precious metals excluded). */
const ISO_4217 = new Set(
  (
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN ' +
    'BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ' +
    'ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK ' +
    'JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK ' +
    'MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN ' +
    'PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB ' +
    'TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD ' +
    'XCG XOF XPF YER ZAR ZMW ZWG ZWL'
  ).split(' '),
);

export function isCurrency(code: string): boolean {
  return ISO_4217.has(code);
}

/** Throws unless `code` is an ISO 4217 code; returns it upper-cased. */
export function currencyCode(code: string): string {
  const upper = String(code ?? '')
    .trim()
    .toUpperCase();
  if (!ISO_4217.has(upper)) {
    throw new InvalidValueError(
      'MONEY_CURRENCY',
      `unknown currency '${code}' (expected an ISO 4217 code such as EUR, USD, JPY)`,
      {
        details: { currency: code },
      },
    );
  }
  return upper;
}

/** Number of decimal places of the currency's minor unit (EUR 2, JPY 0, KWD 3). */
export function currencyExponent(code: string): number {
  const c = currencyCode(code);
  return EXPONENT_EXCEPTIONS[c] ?? 2;
}

export function money(amount: number, currency: string): Money {
  if (!Number.isSafeInteger(amount)) {
    throw new InvalidValueError(
      'MONEY_NOT_INTEGER',
      `amount ${amount} is not an integer number of minor units`,
      {
        details: { amount, currency },
      },
    );
  }
  return { amount, currency: currencyCode(currency) };
}

export interface ParseAmountOptions {
  /**
   * The decimal separator when the source declares it (a CSV mapping, a camt/OFX spec).
   * Without it, the last of `.`/`,` is the decimal mark when both appear; a lone mark that
   * repeats is a thousands separator; otherwise a lone mark is the decimal mark, except when it
   * could just as well group thousands (`1,234`, `1.000`): that is ambiguous, hence an error.
   */
  decimal?: '.' | ',';
  /**
   * `false` when the source never groups thousands (OFX §3.2.9.1: `.` or `,` radix, no grouping):
   * a lone `.`/`,` is then always the decimal mark and repeated marks are an error.
   * @default true
   */
  grouping?: boolean;
}

/** Characters that group thousands besides `.`/`,`: space, apostrophe (CH), no-break spaces. */
const GROUP_ONLY = "' \u00a0\u202f";
const GROUP_CHARS = new Set(['.', ',', ...GROUP_ONLY]);

/**
 * Parses decimal text into integer minor units of `currency`, exactly:
 * `-1.234,56` EUR → -123456; `1,234.56` → 123456; `+12` → 1200; `12.3` → 1230;
 * `(12.30)` (accounting negative) → -1230; `12.30-` (trailing sign, MT940/bank CSV) → -1230.
 * Thousands groups must be three digits with one separator throughout (`1 234 567,89`,
 * `1'234.50`). More fraction digits than the currency has are accepted only when they are
 * zeros: anything else would lose money silently, so it is an error. At most one sign.
 */
export function parseAmount(
  text: string,
  currency: string,
  options: ParseAmountOptions = {},
): number {
  const code = currencyCode(currency);
  const exponent = currencyExponent(code);
  const fail = (why: string): never => {
    throw new InvalidValueError(
      'MONEY_PARSE',
      `cannot read '${text}' as a ${code} amount: ${why}`,
      {
        details: { text, currency: code },
      },
    );
  };
  let s = String(text ?? '').trim();
  if (s === '') fail('empty');

  // The sign: a leading or trailing + or -, or accounting parentheses; never two of them.
  let negative = false;
  let signs = 0;
  if (/^\(.*\)$/.test(s)) {
    negative = true;
    signs++;
    s = s.slice(1, -1).trim();
  }
  if (/[-+]$/.test(s)) {
    negative = s.endsWith('-');
    signs++;
    s = s.slice(0, -1).trim();
  }
  if (/^[-+]/.test(s)) {
    negative = s.startsWith('-');
    signs++;
    s = s.slice(1).trim();
  }
  if (signs > 1) fail('more than one sign');
  if (!/^[\d.,' \u00a0\u202f]+$/.test(s) || !/\d/.test(s)) fail('not a number');

  let decimalMark: '.' | ',' | undefined = options.decimal;
  let loneMark = false;
  if (!decimalMark) {
    const lastDot = s.lastIndexOf('.');
    const lastComma = s.lastIndexOf(',');
    if (lastDot >= 0 && lastComma >= 0) decimalMark = lastDot > lastComma ? '.' : ',';
    else if (lastDot >= 0 && s.indexOf('.') === lastDot) {
      decimalMark = '.';
      loneMark = true;
    } else if (lastComma >= 0 && s.indexOf(',') === lastComma) {
      decimalMark = ',';
      loneMark = true;
    }
  }
  let intPart = s;
  let fracPart = '';
  if (decimalMark) {
    const at = s.lastIndexOf(decimalMark);
    if (at >= 0) {
      intPart = s.slice(0, at);
      fracPart = s.slice(at + 1);
      if (!/^\d*$/.test(fracPart)) fail('misplaced separator after the decimal mark');
      if (intPart.includes(decimalMark)) fail(`more than one decimal mark '${decimalMark}'`);
    }
  }
  const groupSeparators = new Set([...intPart].filter((ch) => GROUP_CHARS.has(ch)));
  if (groupSeparators.size > 0 && options.grouping === false)
    fail('thousands separators where the source has none');
  if (groupSeparators.size > 0) {
    // Thousands groups are three digits each, one separator throughout: "1,23,4" is a typo.
    if (groupSeparators.size > 1 || !/^\d{1,3}([.,' \u00a0\u202f]\d{3})+$/.test(intPart))
      fail('misplaced thousands separator');
    intPart = intPart.replace(/[.,' \u00a0\u202f]/g, '');
  }
  if (intPart === '' && fracPart === '') fail('no digits');
  if (
    loneMark &&
    options.grouping !== false &&
    fracPart.length === 3 &&
    /^[1-9]\d{0,2}$/.test(intPart)
  ) {
    fail(
      `ambiguous: '${decimalMark}' may be a decimal mark or group thousands; declare the decimal separator`,
    );
  }
  if (fracPart.length > exponent) {
    if (!/^0*$/.test(fracPart.slice(exponent))) {
      fail(`${fracPart.length} decimals but ${code} has ${exponent}`);
    }
    fracPart = fracPart.slice(0, exponent);
  }
  const digits = (intPart || '0') + fracPart.padEnd(exponent, '0');
  const big = BigInt(digits);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) fail('too large');
  const value = Number(big);
  return negative && value !== 0 ? -value : value;
}

/** Formats minor units as plain decimal text: 123456 EUR → "1234.56", -5 JPY → "-5". */
export function formatAmount(amount: number, currency: string): string {
  if (!Number.isSafeInteger(amount))
    throw new InvalidValueError('MONEY_NOT_INTEGER', `amount ${amount} is not an integer`);
  const exponent = currencyExponent(currency);
  const sign = amount < 0 ? '-' : '';
  const digits = String(Math.abs(amount)).padStart(exponent + 1, '0');
  if (exponent === 0) return sign + digits;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** "1,234.56 EUR" for people: grouped, with the currency code. */
export function formatMoney(m: Money): string {
  const plain = formatAmount(m.amount, m.currency);
  const [int, frac] = plain.replace('-', '').split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${m.amount < 0 ? '-' : ''}${grouped}${frac !== undefined ? '.' + frac : ''} ${m.currency}`;
}

/** Sum of integer amounts; throws if the total leaves the safe integer range. */
export function sumAmounts(amounts: Iterable<number>): number {
  let total = 0;
  for (const a of amounts) {
    total += a;
    if (!Number.isSafeInteger(total))
      throw new InvalidValueError('MONEY_OVERFLOW', 'sum exceeds the safe integer range');
  }
  return total;
}

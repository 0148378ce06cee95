import fc from 'fast-check';
import type { BooksDoc, InvoiceDoc, RateDoc, StatementLineDoc } from '../../src/ledger';
import type { ConnectionMapping, RuleSpec } from '../../src/ledger/automation';
import { MAPPING, USD, USD_CHART, foreignBank, rate, stl } from './ledger-auto-helpers';

/**
 * The generated world of the currency property (ledger-fx-property.test.ts): an EUR company with
 * bank connections in EUR, USD, JPY and KWD, a rate document per currency and day (exact decimal
 * text), and cases. A case is what a user does with one piece of business: an invoice and the
 * bank line that pays it (exactly, short or over within the write-off tolerance, partly, at
 * another rate than the invoice's), one line paying two invoices, a line that pays nothing, or a
 * transfer between two own connections (two lines, no invoice; README, "Transfers between own
 * accounts"). Each case kind has its own generator in `CASE_KINDS`.
 */

export type Currency = 'EUR' | 'USD' | 'JPY' | 'KWD';
export const CURRENCIES: readonly Currency[] = ['EUR', 'USD', 'JPY', 'KWD'];
export const COMPANY = 'EUR';
/** ISO 4217 minor-unit exponents, written out here so the test does not trust the code's table. */
export const EXPONENT: Readonly<Record<Currency, number>> = { EUR: 2, USD: 2, JPY: 0, KWD: 3 };

/** Days 0 .. DAYS-1 from 2024-02-01: rate, invoice and line dates. */
export const DAYS = 15;
export function dayOf(n: number): string {
  return `2024-02-${String(n + 1).padStart(2, '0')}`;
}

const JPY_BANK = foreignBank('JPY', 3);
const KWD_BANK = foreignBank('KWD', 4);
/** A second EUR account, so that a transfer may also stay in one currency. */
const SAVINGS_BANK = foreignBank('EUR', 5);
export const SAVINGS: ConnectionMapping = { ...SAVINGS_BANK.mapping, connection: 'savings' };

export const CONNECTIONS: Readonly<Record<Currency, ConnectionMapping>> = {
  EUR: MAPPING,
  USD,
  JPY: JPY_BANK.mapping,
  KWD: KWD_BANK.mapping,
};

/** Every own connection: one per currency, and the EUR savings account. */
export const ALL_CONNECTIONS: readonly ConnectionMapping[] = [
  ...Object.values(CONNECTIONS),
  SAVINGS,
];

/** The write-off account of the rules below. */
export const FEES_ACCOUNT = '6270';
export const TOLERANCE = '2.00';
/** The transfer rule's window and tolerance; the demo chart's 1090 is the transfer account. */
export const TRANSFER_DAYS = 3;
export const TRANSFER_PERCENT = 1;
export const TRANSFER_ACCOUNT = '1090';
export const FX_RULES: RuleSpec[] = [
  { kind: 'reference' },
  { kind: 'amount_partner' },
  { kind: 'amount_window', tolerance: TOLERANCE, days: 5, write_off: FEES_ACCOUNT },
  { kind: 'transfer', days: TRANSFER_DAYS, tolerance: `${TRANSFER_PERCENT}%` },
];

/** The accounts and journals the demo chart lacks: JPY, KWD and EUR savings banks, bank fees. */
export function extraChart(): BooksDoc[] {
  return [
    ...USD_CHART,
    ...JPY_BANK.chart,
    ...KWD_BANK.chart,
    ...SAVINGS_BANK.chart,
    { _id: 'account:6270', type: 'account', code: '6270', name: 'Bank fees', kind: 'expense' },
  ];
}

/** Rates of one foreign currency: 1 EUR = `values[d]` on day d, published up to `until`. */
export interface RateSeries {
  currency: Exclude<Currency, 'EUR'>;
  values: string[];
  /** The last day with a rate: later lines and invoices wait for theirs (LEDGER_RATE_MISSING). */
  until: number;
}

/** `n / 10^digits` as decimal text, from integers only. */
function decimalText(n: number, digits: number): string {
  const s = String(n).padStart(digits + 1, '0');
  return `${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

/** Realistic ranges with the ECB's digit counts: USD 1.0000–1.3000, JPY 140.00–170.00, KWD 0.30000–0.36000. */
const RATE_RANGES = {
  USD: { min: 10_000, max: 13_000, digits: 4 },
  JPY: { min: 14_000, max: 17_000, digits: 2 },
  KWD: { min: 30_000, max: 36_000, digits: 5 },
} as const;

function rateSeries(currency: RateSeries['currency']): fc.Arbitrary<RateSeries> {
  const r = RATE_RANGES[currency];
  return fc.record({
    currency: fc.constant(currency),
    values: fc
      .array(fc.integer({ min: r.min, max: r.max }), { minLength: DAYS, maxLength: DAYS })
      .map((ns) => ns.map((n) => decimalText(n, r.digits))),
    until: fc.oneof(
      { weight: 4, arbitrary: fc.constant(DAYS - 1) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: DAYS - 2 }) },
    ),
  });
}

export function rateDocs(series: readonly RateSeries[]): RateDoc[] {
  return series.flatMap((s) =>
    s.values.slice(0, s.until + 1).map((v, d) => rate('EUR', s.currency, dayOf(d), v)),
  );
}

/** An invoice or bill of a case, before it is numbered. */
export interface InvoiceSpec {
  kind: InvoiceDoc['kind'];
  currency: Currency;
  partner: string;
  /** Minor units, > 0. */
  total: number;
  day: number;
}

/**
 * A bank line of a case: `amount` signed (money in > 0), on `connection` (default: the connection
 * of `currency`).
 */
export interface LineSpec {
  currency: Currency;
  amount: number;
  day: number;
  /** Text the payer wrote: `{invoice}` names the case's first invoice number, `{invoice1}` its second. */
  memo?: string;
  connection?: string;
  /**
   * The incoming line of a transfer: its amount is the case's first line converted at the rates
   * of that line's day, times (1000 + `permille`) / 1000 (`amount` is then ignored).
   */
  transfer_permille?: number;
}

export interface Case {
  kind: string;
  invoices: InvoiceSpec[];
  lines: LineSpec[];
}

const PARTNERS = ['partner:acme', 'partner:globex', 'partner:initech', 'partner:dupont'];
const currency = fc.constantFrom<Currency>(...CURRENCIES);

/** Totals from 10.00 to 5000.00 (1000 to 500000 yen, 1.000 to 500.000 KWD). */
function invoiceSpec(): fc.Arbitrary<InvoiceSpec> {
  return fc.record({
    kind: fc.constantFrom<InvoiceDoc['kind']>('out_invoice', 'in_invoice'),
    currency,
    partner: fc.constantFrom(...PARTNERS),
    total: fc.integer({ min: 1_000, max: 500_000 }),
    day: fc.integer({ min: 0, max: 6 }),
  });
}

/** A signed line amount paying `amount` of an invoice of that kind. */
function signed(inv: InvoiceSpec, amount: number): number {
  return inv.kind === 'out_invoice' ? amount : -amount;
}

/**
 * The largest difference, in minor units of `c`, that is 2.00 EUR or more at every rate of
 * RATE_RANGES, plus some beyond: the generated near misses straddle the tolerance.
 */
const NEAR: Readonly<Record<Currency, number>> = { EUR: 260, USD: 300, JPY: 380, KWD: 800 };

/** One generator per case kind. */
export const CASE_KINDS: Readonly<Record<string, fc.Arbitrary<Case>>> = {
  /** Paid exactly, the reference in the memo, the same day or later (another rate). */
  exact: fc.tuple(invoiceSpec(), fc.integer({ min: 0, max: 8 })).map(([invoice, later]) => ({
    kind: 'exact',
    invoices: [invoice],
    lines: [
      {
        currency: invoice.currency,
        amount: signed(invoice, invoice.total),
        day: invoice.day + later,
        memo: 'Payment {invoice}',
      },
    ],
  })),
  /** Paid short (a fee) or over, by up to about the tolerance, no reference: amount_window's write-off. */
  near: fc
    .tuple(
      invoiceSpec(),
      fc.integer({ min: 0, max: 8 }),
      fc.integer({ min: 1, max: 1_000 }),
      fc.boolean(),
    )
    .map(([invoice, later, scale, short]) => {
      const diff = Math.max(1, Math.round((scale * NEAR[invoice.currency]) / 1_000));
      const paid = short ? Math.max(1, invoice.total - diff) : invoice.total + diff;
      return {
        kind: short ? 'short' : 'over',
        invoices: [invoice],
        lines: [
          { currency: invoice.currency, amount: signed(invoice, paid), day: invoice.day + later },
        ],
      };
    }),
  /** Paid in two parts at two dates (two rates), each naming the invoice. */
  partial: fc
    .tuple(
      invoiceSpec(),
      // Halves often: half of an odd company-currency total is a rounding tie.
      fc.oneof(fc.constant(50), fc.integer({ min: 1, max: 99 })),
      fc.integer({ min: 0, max: 8 }),
    )
    .map(([invoice, percent, later]) => {
      const first = Math.max(1, Math.floor((invoice.total * percent) / 100));
      const line = (amount: number, day: number): LineSpec => ({
        currency: invoice.currency,
        amount: signed(invoice, amount),
        day,
        memo: '{invoice} part',
      });
      const lines = [line(first, invoice.day)];
      if (invoice.total > first) lines.push(line(invoice.total - first, invoice.day + later));
      return { kind: 'partial', invoices: [invoice], lines };
    }),
  /**
   * One line naming two invoices of a partner: it pays the older first, then the other, with
   * `extra` (> 0: over, < 0: short) left in suspense or owed.
   */
  two_invoices: fc
    .tuple(
      invoiceSpec(),
      fc.integer({ min: 1_000, max: 500_000 }),
      fc.integer({ min: -900, max: 900 }),
    )
    .map(([first, total, extra]) => {
      const second = { ...first, total, day: Math.min(first.day + 1, 6) };
      const paid = Math.max(1, first.total + second.total + extra);
      return {
        kind: 'two_invoices',
        invoices: [first, second],
        lines: [
          {
            currency: first.currency,
            amount: signed(first, paid),
            day: second.day + 3,
            memo: '{invoice} and {invoice1}',
          },
        ],
      };
    }),
  /**
   * Money out of one own connection and into another, up to TRANSFER_DAYS apart: the same amount
   * (two EUR accounts), or the amount at the outgoing day's rate within half the tolerance. One
   * in four is off by 3 to 5 percent: beyond the tolerance, not a transfer.
   */
  transfer: fc
    .tuple(
      fc.integer({ min: 0, max: ALL_CONNECTIONS.length - 1 }),
      fc.integer({ min: 1, max: ALL_CONNECTIONS.length - 1 }),
      fc.integer({ min: 10_000, max: 500_000 }),
      fc.integer({ min: 0, max: DAYS - 1 }),
      fc.integer({ min: -1, max: TRANSFER_DAYS }),
      fc.integer({ min: -5, max: 5 }),
      fc.integer({ min: 0, max: 3 }),
    )
    .map(([out, step, amount, day, later, skew, far]) => {
      const from = ALL_CONNECTIONS[out];
      const to = ALL_CONNECTIONS[(out + step) % ALL_CONNECTIONS.length];
      const permille = far === 0 ? Math.sign(skew || 1) * (30 + 4 * Math.abs(skew)) : skew;
      const sameCurrency = from.currency === to.currency;
      return {
        kind: far === 0 ? 'transfer_far' : 'transfer',
        invoices: [],
        lines: [
          {
            currency: from.currency as Currency,
            connection: from.connection,
            amount: -amount,
            day,
          },
          {
            currency: to.currency as Currency,
            connection: to.connection,
            amount: 0,
            day: Math.max(0, Math.min(day + later, DAYS - 1)),
            transfer_permille: sameCurrency && far !== 0 ? 0 : permille,
          },
        ],
      };
    }),
  /** A line that pays nothing known. */
  noise: fc
    .record({
      currency,
      amount: fc.integer({ min: -300_000, max: 300_000 }).filter((n) => n !== 0),
      day: fc.integer({ min: 0, max: DAYS - 1 }),
      memo: fc.constantFrom(undefined, 'coffee', 'INV/2024/0001'),
    })
    .map(({ memo, ...line }) => ({
      kind: 'noise',
      invoices: [],
      lines: [memo === undefined ? line : { ...line, memo }],
    })),
};

export interface World {
  rates: RateSeries[];
  cases: Case[];
}

/** The rate text of `c` on `date`, undefined when it is not published (EUR: always "1"). */
export function rateOn(w: World, c: Currency, date: string): string | undefined {
  if (c === COMPANY) return '1';
  const s = w.rates.find((r) => r.currency === c)!;
  const day = Number(date.slice(8)) - 1;
  return day <= s.until ? s.values[day] : undefined;
}

export const world: fc.Arbitrary<World> = fc.record({
  rates: fc.tuple(rateSeries('USD'), rateSeries('JPY'), rateSeries('KWD')),
  cases: fc.array(fc.oneof(...Object.values(CASE_KINDS)), { minLength: 1, maxLength: 10 }),
});

/** `num / den` rounded half away from zero (den > 0). */
export function roundHalfAway(num: bigint, den: bigint): number {
  const abs = num < 0n ? -num : num;
  const q = abs / den + (2n * (abs % den) >= den ? 1n : 0n);
  return Number(num < 0n ? -q : q);
}

/** 1 EUR = `rate` units of `c`: the rational num/den from its decimal text. */
export function rational(rate: string): { num: bigint; den: bigint } {
  const [int, frac = ''] = rate.split('.');
  return { num: BigInt(int + frac), den: 10n ** BigInt(frac.length) };
}

/** The rate of `c` on `day` as generated, published or not (EUR: 1). */
function generatedRate(rates: readonly RateSeries[], c: Currency, day: number) {
  if (c === COMPANY) return { num: 1n, den: 1n };
  return rational(rates.find((r) => r.currency === c)!.values[day]);
}

/** The incoming amount of a transfer: `out` at its day's rates, times (1000 + permille) / 1000. */
function transferAmount(
  out: LineSpec,
  into: LineSpec,
  permille: number,
  rates: readonly RateSeries[],
): number {
  const day = Math.min(out.day, DAYS - 1);
  const a = generatedRate(rates, out.currency, day);
  const b = generatedRate(rates, into.currency, day);
  const num =
    BigInt(Math.abs(out.amount)) *
    b.num *
    a.den *
    10n ** BigInt(EXPONENT[into.currency]) *
    BigInt(1000 + permille);
  const den = b.den * a.num * 10n ** BigInt(EXPONENT[out.currency]) * 1000n;
  return Math.max(1, roundHalfAway(num, den));
}

/** The two lines of a generated transfer, by id; `far`: beyond the tolerance. */
export interface TransferCase {
  from: string;
  to: string;
  far: boolean;
}

/** The invoices, statement lines and transfers of the world's cases, numbered by case. */
export function caseDocs(
  cases: readonly Case[],
  rates: readonly RateSeries[],
): {
  invoices: InvoiceDoc[];
  lines: StatementLineDoc[];
  transfers: TransferCase[];
} {
  const invoices: InvoiceDoc[] = [];
  const lines: StatementLineDoc[] = [];
  const transfers: TransferCase[] = [];
  cases.forEach((c, i) => {
    const numbers = c.invoices.map(
      (inv, k) =>
        `${inv.kind === 'out_invoice' ? 'INV' : 'BILL'}/${inv.currency}/${String(i).padStart(4, '0')}-${k}`,
    );
    c.invoices.forEach(({ kind, partner, currency: cur, total, day }, k) => {
      invoices.push({
        _id: `invoice:${numbers[k]}`,
        type: 'invoice',
        kind,
        number: numbers[k],
        partner,
        date: dayOf(day),
        due_date: dayOf(day + 10),
        currency: cur,
        total,
        residual: total,
        state: 'open',
      });
    });
    const made = c.lines.map((l, k) => {
      const memo = l.memo
        ?.replace('{invoice1}', numbers[1] ?? '')
        .replace('{invoice}', numbers[0] ?? '');
      const amount =
        l.transfer_permille === undefined
          ? l.amount
          : transferAmount(c.lines[0], l, l.transfer_permille, rates);
      return stl({
        key: `c${i}-${k}`,
        connection: l.connection ?? CONNECTIONS[l.currency].connection,
        currency: l.currency,
        amount,
        date: dayOf(Math.min(l.day, DAYS - 1)),
        ...(memo ? { memo } : {}),
      });
    });
    lines.push(...made);
    if (c.kind.startsWith('transfer'))
      transfers.push({ from: made[0]._id, to: made[1]._id, far: c.kind === 'transfer_far' });
  });
  return { invoices, lines, transfers };
}

import { isCalendarDate, type CalendarDate } from '../shared/dates';
import { isCurrency, parseAmount } from '../shared/money';
import { isPlainObject } from '../shared/objects';
import { AnswerShapeError } from './errors';

/**
 * Values out of the JSON answers of the open-banking aggregators (GoCardless' Berlin Group
 * transactions, Enable Banking's ISO 20022 names, SimpleFIN's amount text): text that may be
 * blank, dates that may be date-times, amounts and `{amount, currency}` objects. A value the
 * reader needs and cannot use is an AnswerShapeError naming where it is.
 */

/** Trimmed text; undefined for anything else or blank text. */
export function answerText(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** The calendar date a date or date-time text starts with; undefined when there is none. */
export function answerDay(v: unknown): CalendarDate | undefined {
  const s = answerText(v)?.slice(0, 10);
  return s && isCalendarDate(s) ? s : undefined;
}

export interface AnswerMoneyOptions {
  /** The amount may also come as a JSON number (GoCardless); otherwise only as text. */
  numbers?: boolean;
  /** Thousands may be grouped (see ParseAmountOptions.grouping). @default true */
  grouping?: boolean;
}

/** An `{amount, currency}` object in minor units, `.` being the decimal mark. */
export function answerMoney(
  v: unknown,
  where: string,
  options: AnswerMoneyOptions = {},
): { amount: number; currency: string } {
  if (!isPlainObject(v)) throw new AnswerShapeError(`${where}: no amount object`);
  const currency = answerText(v.currency)?.toUpperCase();
  if (!currency || !isCurrency(currency))
    throw new AnswerShapeError(
      `${where}: currency '${String(v.currency)}' is not an ISO 4217 code`,
    );
  const raw =
    options.numbers && typeof v.amount === 'number' ? String(v.amount) : answerText(v.amount);
  if (raw === undefined)
    throw new AnswerShapeError(
      `${where}: amount is missing${options.numbers ? '' : ' or not text'}`,
    );
  return { amount: answerAmount(raw, currency, where, options.grouping), currency };
}

/** Amount text of an answer in minor units of `currency`, `.` being the decimal mark. */
export function answerAmount(
  text: string,
  currency: string,
  where: string,
  grouping?: boolean,
): number {
  try {
    return parseAmount(text, currency, { decimal: '.', grouping });
  } catch (err) {
    throw new AnswerShapeError(`${where}: ${(err as Error).message}`);
  }
}

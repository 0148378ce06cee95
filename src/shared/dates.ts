import { InvalidValueError } from './errors';

/**
 * A posting date is a calendar date `YYYY-MM-DD` with no time and no zone: a bank booking day
 * stays the same day wherever the server runs. Instants (`updated_at`, refresh times) are ISO 8601
 * UTC strings from `new Date().toISOString()`.
 */
export type CalendarDate = string;

const DATE_SHAPE = /^(\d{4})-(\d{2})-(\d{2})$/;

// A string that is not a calendar date is still a string: only an unknown value is narrowed.
export function isCalendarDate(value: string): boolean;
export function isCalendarDate(value: unknown): value is CalendarDate;
export function isCalendarDate(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const m = DATE_SHAPE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
}

/** Days in `month` (1–12) of `year`, proleptic Gregorian (Date.UTC would map years 0–99 to 19xx). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Builds a calendar date, throwing on impossible dates such as 2024-02-30. */
export function calendarDate(year: number, month: number, day: number): CalendarDate {
  const text = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  if (!isCalendarDate(text))
    throw new InvalidValueError('DATE_INVALID', `${text} is not a calendar date`, {
      details: { date: text },
    });
  return text;
}

/** Adds (or subtracts) whole days; the result must stay within the years 0000–9999. */
export function addDays(date: CalendarDate, days: number): CalendarDate {
  assertCalendarDate(date);
  if (!Number.isSafeInteger(days)) {
    throw new InvalidValueError('DATE_INVALID', `cannot add ${days} days: not a whole number`, {
      details: { date, days },
    });
  }
  const t = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  const iso = Number.isFinite(t) ? new Date(t).toISOString() : '';
  if (!/^\d{4}-/.test(iso)) {
    throw new InvalidValueError(
      'DATE_INVALID',
      `${date} plus ${days} days is outside the years 0000-9999`,
      { details: { date, days } },
    );
  }
  return iso.slice(0, 10);
}

/** The calendar date of an instant in UTC. */
export function utcDate(instant: Date | number = Date.now()): CalendarDate {
  return new Date(instant).toISOString().slice(0, 10);
}

export function assertCalendarDate(value: unknown, what = 'date'): asserts value is CalendarDate {
  if (!isCalendarDate(value)) {
    throw new InvalidValueError(
      'DATE_INVALID',
      `${what} '${String(value)}' is not a calendar date (YYYY-MM-DD)`,
      { details: { value } },
    );
  }
}

/** Whole days from `a` to `b` (b − a). */
export function daysBetween(a: CalendarDate, b: CalendarDate): number {
  assertCalendarDate(a);
  assertCalendarDate(b);
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}

/** ISO 8601 UTC now; the one clock writers use, so tests can freeze it through injection. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();

import { addDays, type CalendarDate } from '../../../shared/dates';

/**
 * SimpleFIN times are epoch seconds; booking days are calendar dates in the bank's zone (a 23:30
 * Madrid purchase is booked on the Madrid day, not the UTC one: docs/ARCHITECTURE.md, "Statement line identity").
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

function parts(
  ms: number,
  timeZone: string,
): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const p = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(new Date(ms))
      .map((x) => [x.type, x.value]),
  );
  return {
    y: Number(p.year),
    mo: Number(p.month),
    d: Number(p.day),
    h: Number(p.hour),
    mi: Number(p.minute),
    s: Number(p.second),
  };
}

/** The zone's offset from UTC at an instant, in ms. */
function offsetMs(ms: number, timeZone: string): number {
  const p = parts(ms, timeZone);
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000;
}

/** Epoch seconds of 00:00 on `date` in `timeZone`. */
export function startOfDay(date: CalendarDate, timeZone: string): number {
  const utc = Date.parse(`${date}T00:00:00Z`);
  let t = utc - offsetMs(utc, timeZone);
  t = utc - offsetMs(t, timeZone);
  return Math.round(t / 1000);
}

/** The calendar date of an epoch-seconds instant in `timeZone`. */
export function dateAt(epochSeconds: number, timeZone: string): CalendarDate {
  const p = parts(epochSeconds * 1000, timeZone);
  return `${String(p.y).padStart(4, '0')}-${String(p.mo).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`;
}

/** The longest range one /accounts request may ask for (SimpleFIN Bridge caps longer ones). */
export const MAX_RANGE_DAYS = 90;

/**
 * Splits the inclusive window into `[start, end)` epoch-second ranges of at most 90 days,
 * oldest first, that cover it exactly.
 */
export function chunks(
  window: { from: CalendarDate; to: CalendarDate },
  timeZone: string,
): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  let from = window.from;
  const stop = addDays(window.to, 1);
  while (from < stop) {
    let next = addDays(from, MAX_RANGE_DAYS);
    if (next > stop) next = stop;
    // Across a DST change 90 local days can be 90 days and an hour: stay under the limit.
    if (startOfDay(next, timeZone) - startOfDay(from, timeZone) > MAX_RANGE_DAYS * 86_400)
      next = addDays(next, -1);
    out.push({ start: startOfDay(from, timeZone), end: startOfDay(next, timeZone) });
    from = next;
  }
  return out;
}

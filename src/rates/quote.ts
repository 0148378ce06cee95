import type { CalendarDate } from '../shared/dates';

/** One published rate: 1 `base` = `rate` `quote` on `date`; `rate` is decimal text. */
export interface RateQuote {
  base: string;
  quote: string;
  date: CalendarDate;
  rate: string;
  /** Line of the source it was read from, for messages. */
  line: number;
}

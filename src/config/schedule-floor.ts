import { CronExpressionParser } from 'cron-parser';
import { parseDuration } from '../shared/duration';
import { rawConnections, type RawIssue } from './issues';
import { isPlainObject } from '../shared/objects';

/**
 * The shortest time between two runs of a bank connection: 1 minute, the bank scheduler's own
 * floor for `every` (src/bank/scheduler.ts, validateSchedule). Banks rate-limit, and PSD2 access
 * without the user present is limited to 4 runs a day, so a faster schedule is always a mistake.
 */
export const BANK_SCHEDULE_FLOOR = '1m';
const FLOOR_MS = parseDuration(BANK_SCHEDULE_FLOOR);

type Obj = Record<string, unknown>;

/**
 * With a 1-minute floor a cron line is too fast exactly when its seconds field fires more than
 * once a minute (five fields mean second 0 only); runs in consecutive minutes are a minute apart.
 */
function cronTooFast(line: string): boolean {
  const fields = line.trim().split(/\s+/);
  if (fields.length !== 6) return false;
  try {
    return CronExpressionParser.parse(fields.join(' ')).fields.second.values.length > 1;
  } catch {
    return false; // the format check reports a bad line
  }
}

/** bank.connections[].schedule faster than the floor. */
export function scheduleFloorIssues(data: Obj): RawIssue[] {
  const list = rawConnections(data);
  const out: RawIssue[] = [];
  list.forEach((c, i) => {
    const schedule = isPlainObject(c) && isPlainObject(c.schedule) ? c.schedule : undefined;
    if (!schedule) return;
    if (typeof schedule.every === 'string') {
      let ms: number;
      try {
        ms = parseDuration(schedule.every);
      } catch {
        return; // the format check reports it
      }
      if (ms > 0 && ms < FLOOR_MS) {
        out.push({
          path: ['bank', 'connections', i, 'schedule', 'every'],
          at: 'value',
          message: `'${schedule.every}' is faster than the floor of ${BANK_SCHEDULE_FLOOR} between bank runs (banks rate-limit; expected ${BANK_SCHEDULE_FLOOR} or more)`,
        });
      }
    } else if (typeof schedule.cron === 'string' && cronTooFast(schedule.cron)) {
      out.push({
        path: ['bank', 'connections', i, 'schedule', 'cron'],
        at: 'value',
        message: `'${schedule.cron}' fires more than once a minute, faster than the floor of ${BANK_SCHEDULE_FLOOR} between bank runs (give the seconds field one value, e.g. '0 */5 * * * *')`,
      });
    }
  });
  return out;
}

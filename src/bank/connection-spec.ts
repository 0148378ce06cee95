import { addDays, isCalendarDate, utcDate, type CalendarDate } from '../shared/dates';
import { BANK_ERROR_CODES, type BankCodeOf } from './error-codes';
import { BooksyncError, codesRaisedAs, type BooksyncErrorOptions } from '../shared/errors';
import { institutionLabel } from './catalog';

/**
 * One bank connection as the fetch loop needs it. The daemon builds it from the typed Config
 * (bank never imports config): secrets already resolved, durations in milliseconds.
 */
export interface ConnectionSpec {
  /** Connection name from YAML (`[A-Za-z0-9_.-]`, no ':'): the `<connection>` of statement line ids. */
  name: string;
  /** Provider id (`dropfolder`, `ofx-direct`, `simplefin`, `gocardless`). */
  provider: string;
  /** Catalog id, or `custom:<bic|name>` for an inline bank: shown in status. */
  institution: string;
  /** The provider's own settings block, validated by the config schema. */
  settings: Readonly<Record<string, unknown>>;
  /** Resolved secrets by key. Never logged, never stored in the books. */
  secrets: Readonly<Record<string, string>>;
  journal?: string;
  /** `{ every: '4h' }` or `{ cron: '0 6 * * *' }`. @default { every: '12h' } */
  schedule?: ScheduleSpec;
  /** Days fetched on the first run. @default 90 */
  historyDays?: number;
  /** Days re-fetched before the watermark on later runs (late and backdated bookings). @default 7 */
  overlapDays?: number;
  /** @default false */
  includePending?: boolean;
  /** A disabled connection is not scheduled and shows as `disconnected`. @default true */
  enabled?: boolean;
  /** Per-request timeout handed to the provider. @default 60000 */
  requestTimeoutMs?: number;
  /** Whole-run deadline; the provider is abandoned (and aborted) after it. @default 10 × requestTimeoutMs */
  runTimeoutMs?: number;
  /** Connection-private folder (created 0700): provider state, the auth-blocked marker. */
  stateDir: string;
  /** IANA zone whose calendar day is "today" for the window (the bank's zone). @default UTC */
  timezone?: string;
}

export type ScheduleSpec = { every: string | number } | { cron: string };

/**
 * The shape of one `bank.connections[]` entry of the typed Config (src/config/types.ts), restated
 * structurally so that bank does not import config.
 */
export interface ConnectionConfigLike {
  readonly name: string;
  readonly provider: string;
  readonly institution: string | { readonly name?: string; readonly bic?: string } | null;
  readonly settings: Readonly<object>;
  /** Resolved secrets. */
  readonly credentials: Readonly<object>;
  readonly journal?: string;
  readonly schedule?: ScheduleSpec;
  readonly history_days?: number;
  readonly overlap_days?: number;
  readonly include_pending?: boolean;
  readonly enabled?: boolean;
}

/**
 * Builds the loop's ConnectionSpec from a Config connection: `stateDir` is the connection's private
 * folder (e.g. `<state_dir>/bank/<name>`), `requestTimeoutMs` is `bank.request_timeout_ms`. A
 * `settings.timezone` (SimpleFIN) is the bank's zone for the window's "today".
 */
export function connectionSpecFrom(
  conn: ConnectionConfigLike,
  options: { stateDir: string; requestTimeoutMs?: number; runTimeoutMs?: number },
): ConnectionSpec {
  const settings = conn.settings as Readonly<Record<string, unknown>>;
  const secrets: Record<string, string> = {};
  for (const [key, value] of Object.entries(conn.credentials as Record<string, unknown>)) {
    if (typeof value === 'string') secrets[key] = value;
  }
  return {
    name: conn.name,
    provider: conn.provider,
    institution: institutionLabel(conn.institution),
    settings,
    secrets,
    ...(conn.journal ? { journal: conn.journal } : {}),
    ...(conn.schedule ? { schedule: conn.schedule } : {}),
    ...(conn.history_days !== undefined ? { historyDays: conn.history_days } : {}),
    ...(conn.overlap_days !== undefined ? { overlapDays: conn.overlap_days } : {}),
    includePending: conn.include_pending ?? false,
    enabled: conn.enabled ?? true,
    ...(options.requestTimeoutMs !== undefined
      ? { requestTimeoutMs: options.requestTimeoutMs }
      : {}),
    ...(options.runTimeoutMs !== undefined ? { runTimeoutMs: options.runTimeoutMs } : {}),
    stateDir: options.stateDir,
    ...(typeof settings.timezone === 'string' && settings.timezone
      ? { timezone: settings.timezone }
      : {}),
  };
}

export const DEFAULT_HISTORY_DAYS = 90;
export const DEFAULT_OVERLAP_DAYS = 7;
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** Raised for a connection spec the loop cannot run (a bug in the daemon's mapping or a bad name). */
export class ConnectionSpecError extends BooksyncError {
  static readonly codes = codesRaisedAs(BANK_ERROR_CODES, 'ConnectionSpecError');
  declare readonly code: BankCodeOf<'ConnectionSpecError'>;

  constructor(
    code: BankCodeOf<'ConnectionSpecError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** The calendar day of `now` in `timeZone` (UTC when absent). */
export function todayIn(timeZone: string | undefined, now: Date): CalendarDate {
  if (!timeZone || timeZone === 'UTC' || timeZone === 'Etc/UTC') return utcDate(now);
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
}

/** Window of a run: watermark − overlap .. today; first run: today − history .. today. */
export function fetchWindow(
  watermark: CalendarDate | undefined,
  today: CalendarDate,
  historyDays: number,
  overlapDays: number,
): { from: CalendarDate; to: CalendarDate } {
  let from = watermark ? addDays(watermark, -overlapDays) : addDays(today, -historyDays);
  if (from > today) from = today;
  return { from, to: today };
}

/** The window of a `--since` run: that day .. today. */
export function sinceWindow(
  connection: string,
  since: CalendarDate,
  today: CalendarDate,
): { from: CalendarDate; to: CalendarDate } {
  if (!isCalendarDate(since) || since > today) {
    throw new ConnectionSpecError(
      'BANK_SINCE_INVALID',
      `${connection}: --since must be a calendar date (YYYY-MM-DD) not after today ${today} (got '${String(since)}')`,
      { details: { connection } },
    );
  }
  return { from: since, to: today };
}

/** Checks what the loop relies on; the config schema checks the rest. */
export function validateSpec(spec: ConnectionSpec): void {
  const fail = (message: string): never => {
    throw new ConnectionSpecError(
      'BANK_CONNECTION_INVALID',
      `bank connection '${spec?.name}': ${message}`,
      { details: { connection: spec?.name } },
    );
  };
  if (typeof spec.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(spec.name))
    fail('name must be letters, digits, _ . - (it is part of document ids)');
  if (typeof spec.stateDir !== 'string' || spec.stateDir === '') fail('stateDir is required');
  for (const [key, value] of [
    ['historyDays', spec.historyDays],
    ['overlapDays', spec.overlapDays],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 3650))
      fail(`${key} must be a whole number of days (0..3650)`);
  }
  if (spec.timezone) {
    try {
      todayIn(spec.timezone, new Date(0));
    } catch {
      fail(`timezone '${spec.timezone}' is not an IANA time zone (e.g. Europe/Madrid)`);
    }
  }
}

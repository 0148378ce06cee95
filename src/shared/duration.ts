import { InvalidValueError } from './errors';

/** Durations in config and schedules: `500ms`, `90s`, `15m`, `4h`, `1d`, `2w`. */
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d|w)$';

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export function isDuration(text: unknown): boolean {
  return typeof text === 'string' && new RegExp(DURATION_PATTERN).test(text);
}

/** `4h` → 14 400 000 ms. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d|w)$/.exec(String(text).trim());
  if (!m)
    throw new InvalidValueError(
      'DURATION_INVALID',
      `'${text}' is not a duration (a whole number and a unit: 500ms, 90s, 15m, 4h, 1d, 2w)`,
    );
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  if (!Number.isSafeInteger(ms))
    throw new InvalidValueError('DURATION_INVALID', `'${text}' is too long`);
  return ms;
}

/** 14 400 000 → `4h` (largest exact unit), for status output. */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's']) {
    const size = UNIT_MS[unit];
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

import winston from 'winston';
import type { LogFormat } from '../config';
import { valueText } from '../shared/text';

/** winston's key for the serialised line (triple-beam's MESSAGE symbol). */
const MESSAGE = Symbol.for('message');

/** Fields every line has, shown in the line's head rather than as `key=value`. */
const HEAD = new Set(['ts', 'level', 'event', 'msg', 'pid']);

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * One JSON log line (already redacted) as one readable line:
 * `2026-01-01T10:00:00.000Z INFO  bank.run  run finished connection=main new=3`.
 * An error's stack goes on the lines after it, indented.
 */
export function prettyLine(json: string): string {
  let line: Record<string, unknown>;
  try {
    line = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const parts = [
    valueText(line.ts ?? ''),
    valueText(line.level ?? '')
      .toUpperCase()
      .padEnd(5),
    valueText(line.event ?? 'log'),
    valueText(line.msg ?? ''),
  ];
  let stack = '';
  for (const [key, value] of Object.entries(line)) {
    if (HEAD.has(key)) continue;
    if (key === 'err' && value && typeof value === 'object') {
      const { stack: s, ...rest } = value as Record<string, unknown>;
      if (typeof s === 'string') stack = `\n    ${s.split('\n').join('\n    ')}`;
      parts.push(`err=${fieldText(rest)}`);
      continue;
    }
    parts.push(`${key}=${fieldText(value)}`);
  }
  return parts.join(' ') + stack;
}

/** A transport format that turns the logger's JSON line into `prettyLine`. */
export const prettyFormat = winston.format((info) => {
  const record = info as unknown as Record<symbol, unknown>;
  if (typeof record[MESSAGE] === 'string') record[MESSAGE] = prettyLine(record[MESSAGE]);
  return info;
});

/**
 * The format `auto` stands for: systemd connects stdout to journald and says so in
 * $JOURNAL_STREAM (systemd.exec(5), "Environment variables in spawned processes"); a terminal
 * gets pretty lines; a pipe or file gets JSON.
 */
export function effectiveLogFormat(
  format: LogFormat,
  env: NodeJS.ProcessEnv,
  isTTY: boolean,
): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  if (env.JOURNAL_STREAM) return 'json';
  return isTTY ? 'pretty' : 'json';
}

import type { Writable } from 'node:stream';
import winston from 'winston';
import { prettyFormat } from './log-pretty';

/** winston's key for the serialised line (triple-beam's MESSAGE symbol). */
const MESSAGE = Symbol.for('message');

function safeStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
import type { Logger } from '../shared/logger';

/**
 * The daemon's logger: winston, one JSON object a line (`ts level event msg` plus context
 * fields), on stdout by default so journald keeps it, optionally also to a file.
 *
 * Every line passes through one redaction step that masks every configured secret value wherever
 * it would appear: in the message, in any field (nested), in error messages and stacks. The
 * secret list is read on each line, so a config reload that changes secrets takes effect at once.
 */
export const REDACTED = '[redacted]';

export interface LoggerOptions {
  level: string;
  /** Optional second output: a JSON-lines file. */
  file?: string | null;
  /** Where the JSON lines go; stdout unless a test captures them. */
  stream?: Writable;
  /** The current secret values to mask. */
  secrets: () => readonly string[];
  /** Fields on every line (e.g. `{ pid }`). */
  defaultMeta?: Record<string, unknown>;
  /** `pretty` renders the stream's lines for a person (src/daemon/log-pretty.ts); the file stays JSON. */
  format?: 'json' | 'pretty';
}

/** Replaces every occurrence of every secret (longest first, so overlapping secrets mask whole). */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    // Secrets also reach logs percent-encoded (URLs) or base64-encoded (Basic auth headers).
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join(REDACTED);
  }
  // Credentials in URLs (`https://user:pass@host`) are masked even when not configured as secrets.
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^/\s:@]+):([^/\s@]+)@/gi, `$1$2:${REDACTED}@`);
}

/** Deep copy of a log value with secrets masked; Errors become plain objects with message, code, stack and cause. */
export function redactValue(value: unknown, secrets: readonly string[], seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    const plain: Record<string, unknown> = { name: value.name, message: value.message };
    const withCode = value as Error & { code?: unknown; details?: unknown };
    if (withCode.code !== undefined) plain.code = withCode.code;
    if (withCode.details !== undefined) plain.details = withCode.details;
    if (value.stack) plain.stack = value.stack;
    if (value.cause !== undefined) plain.cause = value.cause;
    return redactValue(plain, secrets, seen);
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secrets, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, secrets, seen);
  return out;
}

/** The winston format: rename fields to `ts level event msg`, then mask secrets everywhere. */
function lineFormat(secrets: () => readonly string[]) {
  return winston.format((info) => {
    const list = secrets();
    const { level, message, timestamp, ...rest } = info as Record<string | symbol, unknown> & { level: string; message: unknown };
    const out: Record<string, unknown> = { ts: timestamp ?? new Date().toISOString(), level };
    const fields = rest as Record<string, unknown>;
    out.event = fields.event ?? 'log';
    out.msg = message instanceof Error ? message.message : message;
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'event') continue;
      out[k] = v;
    }
    const masked = redactValue(out, list) as Record<string, unknown>;
    // The serialised line is what the transports write (winston reads it from MESSAGE); key order
    // stays `ts level event msg ...` so a person reading journald sees the essentials first.
    (info as Record<symbol, unknown>)[MESSAGE] = safeStringify(masked);
    return info;
  })();
}

export function createLogger(options: LoggerOptions): Logger {
  const format = options.format === 'pretty' ? prettyFormat() : undefined;
  const transports: winston.transport[] = [
    options.stream
      ? new winston.transports.Stream({ stream: options.stream, format })
      : new winston.transports.Console({ stderrLevels: [], format }),
  ];
  if (options.file) transports.push(new winston.transports.File({ filename: options.file }));
  return winston.createLogger({
    level: options.level,
    defaultMeta: options.defaultMeta,
    format: winston.format.combine(winston.format.timestamp(), lineFormat(options.secrets)),
    transports,
    exitOnError: false,
  });
}

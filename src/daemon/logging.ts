import fs from 'node:fs';
import type { Writable } from 'node:stream';
import winston from 'winston';
import { prettyFormat } from './log-pretty';

/** winston's key for the serialised line (triple-beam's MESSAGE symbol). */
const MESSAGE = Symbol.for('message');

function safeStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
import type { Logger } from '../shared/logger';
import { redactValue } from '../shared/redact';

/**
 * The daemon's logger: winston, one JSON object a line (`ts level event msg` plus context
 * fields), on stdout by default so journald keeps it, optionally also to a file.
 *
 * Every line passes through the one redaction step (shared/redact.ts) that masks every configured
 * secret wherever it would appear (in the message, in any field, nested, in error messages and
 * stacks) and in every encoding it travels in: percent-encoded, JSON- and entity-escaped, inside
 * base64 such as a Basic `Authorization` header. The secret list is read on each line, so a
 * config reload that changes secrets takes effect at once.
 */

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

/** The winston format: rename fields to `ts level event msg`, then mask secrets everywhere. */
function lineFormat(secrets: () => readonly string[]) {
  return winston.format((info) => {
    const list = secrets();
    const { level, message, timestamp, ...rest } = info as Record<string | symbol, unknown> & {
      level: string;
      message: unknown;
    };
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

/** Owner reads and writes, the group (e.g. `adm`, `systemd-journal`) reads, others nothing. */
export const LOG_FILE_MODE = 0o640;

/** A log file left by an older version or created by hand may be world-readable: bring it to `LOG_FILE_MODE` or stricter. */
function tightenLogFile(file: string): void {
  let mode: number;
  try {
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    return; // created by the transport, with LOG_FILE_MODE
  }
  if ((mode & ~LOG_FILE_MODE) !== 0) fs.chmodSync(file, mode & LOG_FILE_MODE);
}

export function createLogger(options: LoggerOptions): Logger {
  const format = options.format === 'pretty' ? prettyFormat() : undefined;
  const transports: winston.transport[] = [
    options.stream
      ? new winston.transports.Stream({ stream: options.stream, format })
      : new winston.transports.Console({ stderrLevels: [], format }),
  ];
  if (options.file) {
    tightenLogFile(options.file);
    transports.push(
      new winston.transports.File({
        filename: options.file,
        options: { flags: 'a', mode: LOG_FILE_MODE },
      }),
    );
  }
  return winston.createLogger({
    level: options.level,
    defaultMeta: options.defaultMeta,
    format: winston.format.combine(winston.format.timestamp(), lineFormat(options.secrets)),
    transports,
    exitOnError: false,
  });
}

import { Writable } from 'node:stream';
import * as winston from 'winston';

/**
 * A debug-level winston logger whose JSON lines are kept raw in `lines`, for tests that grep the
 * output (e.g. that no credential ever appears in it).
 */
export function captureLogger(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines };
}

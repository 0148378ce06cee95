import type { Logger as WinstonLogger } from 'winston';

/**
 * The logger every component receives by injection (`logger.child({ component })`).
 * It is winston's logger; components log `logger.info(msg, { event: 'sync.cycle', ...fields })`
 * with a stable `event` name (README, Logs).
 */
export type Logger = WinstonLogger;

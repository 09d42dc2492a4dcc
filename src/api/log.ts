/** The API's logger: pino (JSON lines) on stderr; stdout stays free for the CLIs' output. */
import { pino, type BaseLogger, type Level } from 'pino';

export type Logger = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

/**
 * @example
 * const log = createLogger('info'); log.warn({ version }, 'snapshot refused');
 */
export function createLogger(level: Level | 'silent' = 'info'): Logger {
  return pino({ level, base: { service: 'twinsearch' } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });

import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * One JSON line per event on stdout (or the given stream, which tests read). Header values
 * that carry credentials are censored wherever a child logger puts them.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'panel-api' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['headers.authorization', 'headers.cookie', 'headers["set-cookie"]', '*.password', '*.token', '*.refresh_token'],
        censor: '[REDACTED]',
      },
    },
    // Synchronous writes: a line is out before the next statement runs, so a crash loses none, and
    // a reader that went away (EPIPE) only silences the log. Buffered writes (sync: false) retry a
    // broken pipe forever in the flush at exit, and the process never ended after SIGTERM.
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** journald reads a leading `<N>` as the syslog priority; without it every line is "info". */
const SYSLOG_PRIORITY: Record<string, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'mqtt.password',
  'config.mqtt.password',
  'privateKey',
  '*.privateKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
];

export interface LogOptions {
  level?: string;
  /** Prefix lines with `<N>` for journald. Default: when running under systemd (JOURNAL_STREAM set). */
  journald?: boolean;
  /** Where lines go; default stdout. Tests pass a stream to capture them. */
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const journald = opts.journald ?? process.env.JOURNAL_STREAM !== undefined;
  const options: LoggerOptions = {
    level: opts.level ?? process.env.POWERDEAL_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (journald) {
    options.hooks = {
      streamWrite(line) {
        const level = /"level":"(\w+)"/.exec(line)?.[1] ?? 'info';
        return `<${SYSLOG_PRIORITY[level] ?? 6}>${line}`;
      },
    };
  }
  return pino(options, opts.destination ?? pino.destination({ fd: 1, sync: false }));
}

/** A logger that drops everything: for CLI verbs whose output is their result. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

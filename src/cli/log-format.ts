/** Reading the service's pino JSON log lines back: parse, filter, pretty-print. */

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const PINO_NUMBERS: Record<number, LogLevel> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

export interface LogEntry {
  /** Epoch ms, or null when the line has no readable time. */
  time: number | null;
  level: LogLevel;
  module: string | null;
  msg: string;
  /** The other fields of the line (pid, hostname and the time/level/msg/module fields left out). */
  fields: Record<string, unknown>;
  /** The parsed JSON object as written. */
  raw: Record<string, unknown>;
}

export interface LogFilter {
  minLevel?: LogLevel;
  modules?: string[];
  since?: number;
}

/** A line from journald (`-o cat`) or a captured stdout: JSON, maybe behind a `<N>` syslog prefix. */
export function parseLogLine(line: string): LogEntry | null {
  const text = line.replace(/^<\d>/, '').trim();
  if (!text.startsWith('{')) return null;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== 'object') return null;
  const levelValue = raw.level;
  const level =
    typeof levelValue === 'number'
      ? PINO_NUMBERS[levelValue]
      : (LOG_LEVELS as readonly string[]).includes(String(levelValue))
        ? (levelValue as LogLevel)
        : undefined;
  if (level === undefined) return null;
  const t = raw.time;
  const time =
    typeof t === 'number' ? t : typeof t === 'string' && !Number.isNaN(Date.parse(t)) ? Date.parse(t) : null;
  const { time: _t, level: _l, msg, module, pid: _p, hostname: _h, ...fields } = raw;
  return {
    time,
    level,
    module: typeof module === 'string' ? module : null,
    msg: typeof msg === 'string' ? msg : '',
    fields,
    raw,
  };
}

export function matches(entry: LogEntry, filter: LogFilter): boolean {
  if (filter.minLevel && LOG_LEVELS.indexOf(entry.level) < LOG_LEVELS.indexOf(filter.minLevel)) return false;
  if (filter.modules && (entry.module === null || !filter.modules.includes(entry.module))) return false;
  if (filter.since !== undefined && (entry.time === null || entry.time < filter.since)) return false;
  return true;
}

/** `30s`, `10m`, `2h`, `1d` ago, or an absolute date (ISO 8601): epoch ms, or null if unreadable. */
export function parseSince(value: string, now: number): number | null {
  const rel = /^(\d+)\s*(s|m|min|h|d)$/.exec(value.trim());
  if (rel) {
    const unit = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's'];
    return now - Number(rel[1]) * unit;
  }
  const abs = Date.parse(value);
  return Number.isNaN(abs) ? null : abs;
}

function fieldText(v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** `2026-11-21 06:01:02.123 WARN  [link] broker down broker=… err="…"`, the error's stack on the lines below. */
export function formatEntry(e: LogEntry, paint: (level: LogLevel, text: string) => string): string {
  const when =
    e.time === null ? '-'.padEnd(23) : new Date(e.time).toISOString().replace('T', ' ').replace('Z', '');
  const level = paint(e.level, e.level.toUpperCase().padEnd(5));
  const module = e.module ? `[${e.module}] ` : '';
  const { err, ...rest } = e.fields;
  const extras = Object.entries(rest).map(([k, v]) => `${k}=${fieldText(v)}`);
  let stack = '';
  if (err && typeof err === 'object') {
    const { message, stack: s } = err as { message?: unknown; stack?: unknown };
    if (typeof message === 'string') extras.push(`err=${fieldText(message)}`);
    if (typeof s === 'string') stack = `\n    ${s.split('\n').slice(1).join('\n    ').trim()}`;
  } else if (err !== undefined) extras.push(`err=${fieldText(err)}`);
  return `${when} ${level} ${module}${e.msg}${extras.length ? ` ${extras.join(' ')}` : ''}${stack.trim() ? stack : ''}`;
}

import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { intFlag } from '../../control/client/service-call.js';
import {
  formatEntry,
  LOG_LEVELS,
  type LogFilter,
  type LogLevel,
  matches,
  parseLogLine,
  parseSince,
} from '../log-format.js';
import { dim, red, yellow } from '../output.js';

interface LogsOptions {
  file?: string;
  level?: LogLevel;
  module?: string;
  since?: string;
  follow?: boolean;
  lines?: string;
  json?: boolean;
}

const FOLLOW_POLL_MS = 300;

const paint = (level: LogLevel, text: string) =>
  level === 'error' || level === 'fatal'
    ? red(text)
    : level === 'warn'
      ? yellow(text)
      : level === 'info'
        ? text
        : dim(text);

/** Feeds complete lines to `onLine`, keeping a partial last line for the next chunk. */
function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; end(): void } {
  let rest = '';
  return {
    push(chunk) {
      rest += chunk;
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) onLine(p);
    },
    end() {
      if (rest !== '') onLine(rest);
      rest = '';
    },
  };
}

/** `powerdeal logs`: the service's JSON log, readable, from the journal or a file. */
export function register(program: Command): void {
  program
    .command('logs')
    .description("pretty-print the service's log (journal of powerdeal.service, or --file), filtered")
    .option('--file <path>', 'read this file of JSON log lines instead of the journal')
    .addOption(new Option('--level <level>', 'this level and above').choices([...LOG_LEVELS]))
    .option('--module <names>', 'only these modules, comma-separated (e.g. link,devices)')
    .option('--since <when>', 'only lines since: 30s, 10m, 2h, 1d ago, or a date (2026-11-21T06:00)')
    .option('-n, --lines <n>', 'only the last N matching lines (before following)')
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('--json', 'print the matching lines as JSON, one per line')
    .action(async (opts: LogsOptions) => {
      const filter: LogFilter = {};
      if (opts.level) filter.minLevel = opts.level;
      if (opts.module)
        filter.modules = opts.module
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean);
      if (opts.since !== undefined) {
        const since = parseSince(opts.since, Date.now());
        if (since === null) {
          throw new CliError(`--since takes 30s, 10m, 2h, 1d or a date, got "${opts.since}"`, EXIT.usage);
        }
        filter.since = since;
      }
      const last = opts.lines === undefined ? undefined : intFlag('lines', opts.lines, 1, 1_000_000);
      const filtering =
        filter.minLevel !== undefined || filter.modules !== undefined || filter.since !== undefined;
      const print = (line: string) => {
        const entry = parseLogLine(line);
        if (entry === null) {
          // Lines that are not the service's JSON (a crash trace on stderr) show unless filtering.
          if (!filtering && !opts.json && line.trim() !== '') process.stdout.write(`${line}\n`);
          return;
        }
        if (!matches(entry, filter)) return;
        process.stdout.write(`${opts.json ? JSON.stringify(entry.raw) : formatEntry(entry, paint)}\n`);
      };
      // With --lines, the backlog is collected, cut to its last N matches, then printed.
      const backlog: string[] = [];
      const collect = (line: string) => {
        if (last === undefined) return print(line);
        const entry = parseLogLine(line);
        if (entry !== null ? matches(entry, filter) : !filtering && line.trim() !== '') backlog.push(line);
        if (backlog.length > last) backlog.shift();
      };
      const flushBacklog = () => {
        for (const l of backlog.splice(0)) print(l);
      };
      if (opts.file !== undefined)
        await fromFile(opts.file, opts.follow === true, collect, flushBacklog, print);
      else await fromJournal(filter.since, opts.follow === true, collect, flushBacklog, print);
    });
}

async function fromFile(
  path: string,
  follow: boolean,
  collect: (line: string) => void,
  flushBacklog: () => void,
  print: (line: string) => void,
): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new CliError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      EXIT.problem,
    );
  }
  let position = 0;
  const readNew = (splitter: ReturnType<typeof lineSplitter>) => {
    const size = statSync(path).size;
    if (size < position) position = 0; // truncated or rotated in place: start again
    const buffer = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, position);
      if (n <= 0) break;
      position += n;
      splitter.push(buffer.subarray(0, n).toString('utf8'));
    }
  };
  try {
    // Ctrl-C ends a follow cleanly from the first moment, also while the backlog is being printed.
    const interrupted = follow ? untilInterrupted() : null;
    const backlog = lineSplitter(collect);
    readNew(backlog);
    backlog.end();
    flushBacklog();
    if (!interrupted) return;
    const live = lineSplitter(print);
    const timer = setInterval(() => readNew(live), FOLLOW_POLL_MS);
    await interrupted;
    clearInterval(timer);
  } finally {
    closeSync(fd);
  }
}

/** Resolves at the first SIGINT or SIGTERM (instead of the default: dying mid-line). */
function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

async function fromJournal(
  since: number | undefined,
  follow: boolean,
  collect: (line: string) => void,
  flushBacklog: () => void,
  print: (line: string) => void,
): Promise<void> {
  const args = ['-u', 'powerdeal', '-o', 'cat', '--no-pager'];
  if (since !== undefined) args.push('--since', `@${Math.floor(since / 1000)}`);
  // The backlog first, then (for --follow) the lines after its last one: journald's cursor marks where.
  let cursor: string | undefined;
  const backlog = await journal([...args, '--show-cursor'], (line) => {
    const mark = /^-- cursor: (.+)$/.exec(line);
    if (mark) cursor = mark[1];
    else collect(line);
  });
  flushBacklog();
  if (backlog.code !== 0) {
    throw new CliError(
      `journalctl failed (${backlog.stderr.trim().split('\n')[0] || `exit ${backlog.code}`}): read a log file instead with --file PATH`,
      EXIT.problem,
    );
  }
  if (follow) {
    await journal([...args, '--follow', ...(cursor ? ['--after-cursor', cursor] : ['--lines', '0'])], print);
  }
}

function journal(args: string[], onLine: (line: string) => void): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('journalctl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const splitter = lineSplitter(onLine);
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => splitter.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const stop = () => child.kill('SIGTERM');
    process.once('SIGINT', stop);
    child.once('error', (err) => {
      process.off('SIGINT', stop);
      resolve({ code: 127, stderr: err.message });
    });
    child.once('close', (code) => {
      process.off('SIGINT', stop);
      splitter.end();
      resolve({ code: code ?? 0, stderr });
    });
  });
}

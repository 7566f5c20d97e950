import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Logger } from '../log/logger.js';

/**
 * sd_notify(3) from the main process: one datagram per message to `$NOTIFY_SOCKET`, sent from this PID
 * so the unit's default `NotifyAccess=main` accepts it. Without `NOTIFY_SOCKET` (a terminal, a test,
 * the demo) every call does nothing.
 */
export interface Notifier {
  /** NOTIFY_SOCKET is set: messages go somewhere. */
  readonly enabled: boolean;
  /** Sends `KEY=VALUE` lines as one datagram. False when it could not be sent (logged once). */
  send(fields: Record<string, string | number>): boolean;
  ready(status?: string): boolean;
  status(text: string): boolean;
  watchdog(): boolean;
  stopping(status?: string): boolean;
  /** Asks systemd for more time for the current start or stop step (EXTEND_TIMEOUT_USEC). */
  extendTimeout(ms: number): boolean;
  close(): void;
}

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  close(): void;
}

interface UnixDgram {
  createSocket(type: 'unix_dgram'): DgramSocket;
}

/** STATUS= is one line of text; systemd shows it in `systemctl status`. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 500);
}

export function formatNotify(fields: Record<string, string | number>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${k === 'STATUS' ? oneLine(String(v)) : String(v)}`)
    .join('\n');
}

/**
 * The watchdog period systemd expects for this process, or null when it asks for none: WATCHDOG_USEC,
 * unless WATCHDOG_PID names another process (the variables were inherited by a child).
 */
export function watchdogUsec(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) {
    return null;
  }
  return usec;
}

const noop: Notifier = {
  enabled: false,
  send: () => false,
  ready: () => false,
  status: () => false,
  watchdog: () => false,
  stopping: () => false,
  extendTimeout: () => false,
  close: () => undefined,
};

export function createNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): Notifier {
  const target = env.NOTIFY_SOCKET;
  if (target === undefined || target === '') return noop;
  const transport = target.startsWith('@') ? cliTransport(target, log) : datagramTransport(target, log);
  const notifier: Notifier = {
    enabled: true,
    send: (fields) => transport.send(formatNotify(fields)),
    ready: (status) => notifier.send(status ? { READY: 1, STATUS: status } : { READY: 1 }),
    status: (text) => notifier.send({ STATUS: text }),
    watchdog: () => notifier.send({ WATCHDOG: 1 }),
    stopping: (status) => notifier.send(status ? { STOPPING: 1, STATUS: status } : { STOPPING: 1 }),
    extendTimeout: (ms) => notifier.send({ EXTEND_TIMEOUT_USEC: Math.ceil(ms * 1000) }),
    close: () => transport.close(),
  };
  return notifier;
}

interface Transport {
  send(message: string): boolean;
  close(): void;
}

/** A path socket (what systemd sets for system services): datagrams from this process. */
function datagramTransport(path: string, log: Logger): Transport {
  let socket: DgramSocket;
  try {
    const dgram = createRequire(import.meta.url)('unix-dgram') as UnixDgram;
    socket = dgram.createSocket('unix_dgram');
  } catch (err) {
    // The native module did not build: systemd-notify still gets through where NotifyAccess=all.
    log.error({ err }, 'sd_notify: the unix-dgram module is unavailable; falling back to systemd-notify');
    return cliTransport(path, log);
  }
  let warned = false;
  const fail = (err: Error) => {
    if (warned) return;
    warned = true;
    log.warn({ err: err.message, socket: path }, 'sd_notify: sending to NOTIFY_SOCKET failed');
  };
  socket.on('error', fail);
  return {
    send(message) {
      const buf = Buffer.from(message);
      let ok = true;
      // The binding calls back synchronously with the result of sendmsg().
      socket.send(buf, 0, buf.length, path, (err) => {
        if (err) {
          ok = false;
          fail(err);
        } else warned = false;
      });
      return ok;
    },
    close: () => socket.close(),
  };
}

/**
 * Each message through the `systemd-notify` tool: for an abstract socket (`@name`, set by some
 * container managers), which the datagram binding cannot address. Its sender is a child process,
 * which systemd accepts only with `NotifyAccess=all`; the shipped unit runs under a path socket.
 */
function cliTransport(target: string, log: Logger): Transport {
  let warned = false;
  log.warn({ socket: target }, 'sd_notify: sending through systemd-notify (needs NotifyAccess=all)');
  return {
    send(message) {
      const env = { ...process.env, NOTIFY_SOCKET: target };
      execFile('systemd-notify', message.split('\n'), { timeout: 5000, env }, (err) => {
        if (err && !warned) {
          warned = true;
          log.warn({ err: err.message, socket: target }, 'sd_notify: systemd-notify failed');
        }
      });
      return true;
    },
    close: () => undefined,
  };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/**
 * Small loopback and process helpers shared by the broker scripts (they stay free of test/ so the CLI entries run
 * on their own).
 */

/** RabbitMQ's CLI tools listen on 35672..35682 while they run: a broker port there could clash. */
const AVOID = (port: number) => port >= 35672 && port <= 35682;

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it), distinct from `taken`. */
export async function freePort(taken: readonly number[] = []): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
        srv.close(() => resolve(addr.port));
      });
    });
    if (!AVOID(port) && !taken.includes(port)) return port;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A spawned child with its output kept (the last `keep` characters) and a promise of its exit. */
export interface Spawned {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  alive(): boolean;
  output(): string;
}

export function spawnKept(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; keep?: number } = {},
): Spawned {
  const keep = opts.keep ?? 64_000;
  const child = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const add = (d: Buffer) => {
    out += d.toString();
    if (out.length > keep) out = out.slice(-keep);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  let alive = true;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      add(Buffer.from(`spawn error: ${err.message}\n`));
      alive = false;
      resolve();
    });
    child.once('exit', () => {
      alive = false;
      resolve();
    });
  });
  return { child, exited, alive: () => alive, output: () => out };
}

/** Parent pid from /proc/<pid>/stat (the comm field may hold spaces: parse after the last ')'). */
function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function isBeam(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`).endsWith('/beam.smp');
  } catch {
    return false;
  }
}

/**
 * The beam.smp behind a spawned rabbitmq-server. With `detached` set the script execs erl, which execs
 * erlexec, which execs beam.smp, so usually it is the child itself; otherwise look among its descendants.
 */
export function findBeam(rootPid: number): number | undefined {
  if (isBeam(rootPid)) return rootPid;
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const ppid = ppidOf(pid);
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const queue = [...(children.get(rootPid) ?? [])];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    if (isBeam(pid)) return pid;
    queue.push(...(children.get(pid) ?? []));
  }
  return undefined;
}

import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.js';

/**
 * A real mosquitto per test file, on a free 127.0.0.1 port: start, stop, restart on the same port,
 * freeze (SIGSTOP) and thaw (SIGCONT), SIGKILL. Every broker started here is killed by
 * stopAllMosquittos() (call it in afterAll) and, as a last resort, when the test process exits.
 */
export interface MosquittoOptions {
  port?: number;
  /** Extra mosquitto.conf lines (e.g. "max_inflight_messages 5"); `{dir}` is replaced by the broker's dir. */
  conf?: string[];
  /** Keep sessions and retained messages across stop/start (written on a clean stop). */
  persistence?: boolean;
}

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  pid(): number | undefined;
  running(): boolean;
  start(): Promise<void>;
  /** SIGTERM (after SIGCONT if frozen) and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  freeze(): void;
  thaw(): void;
  /** Everything mosquitto wrote to stderr/stdout. */
  output(): string;
  dispose(): Promise<void>;
}

const live = new Set<Mosquitto>();

process.once('exit', () => {
  for (const m of live) {
    const pid = m.pid();
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'pd-mosq-'));
  // Started as root, mosquitto drops to its own user: it must still write its persistence file here.
  chmodSync(dir, 0o777);
  const confPath = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  if (opts.persistence) lines.push('persistence true', `persistence_location ${dir}/`, 'autosave_interval 0');
  lines.push(...(opts.conf ?? []).map((l) => l.replaceAll('{dir}', dir)));
  writeFileSync(confPath, `${lines.join('\n')}\n`);

  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let out = '';
  let frozen = false;

  const m: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    pid: () => child?.pid,
    running: () => child !== null,
    async start() {
      if (child) return;
      const c = spawn('mosquitto', ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      frozen = false;
      c.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      c.stderr?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      exited = new Promise((resolve) => {
        c.once('exit', () => {
          if (child === c) child = null;
          resolve();
        });
      });
      await waitFor(
        async () => child === c && (await canConnect(port)),
        10_000,
        `mosquitto on port ${port}\n${out}`,
      );
    },
    async stop() {
      const c = child;
      if (!c) return;
      if (frozen) m.thaw();
      c.kill('SIGTERM');
      await exited;
    },
    async kill() {
      const c = child;
      if (!c) return;
      c.kill('SIGKILL');
      await exited;
      frozen = false;
    },
    async restart() {
      await m.stop();
      await m.start();
    },
    freeze() {
      child?.kill('SIGSTOP');
      frozen = true;
    },
    thaw() {
      child?.kill('SIGCONT');
      frozen = false;
    },
    output: () => out,
    async dispose() {
      live.delete(m);
      await m.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(m);
  await m.start();
  return m;
}

export async function stopAllMosquittos(): Promise<void> {
  await Promise.all([...live].map((m) => m.dispose()));
}

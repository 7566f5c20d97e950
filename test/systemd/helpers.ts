import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { freePort, waitFor } from '../helpers/ports.js';

export const ROOT = resolve(import.meta.dirname, '../..');
const LISTENER = join(ROOT, 'test/systemd/notify_listener.py');

export interface NotifyMessage {
  /** Monotonic seconds (the listener's clock). */
  t: number;
  /** Sender PID from SCM_CREDENTIALS. */
  pid: number | null;
  msg: string;
}

/** A fake systemd notify socket: a real AF_UNIX datagram socket with SO_PASSCRED, in Python. */
export interface NotifyListener {
  readonly path: string;
  readonly messages: NotifyMessage[];
  /** Messages holding `KEY=VALUE` (or just `KEY=` to match any value). */
  with(assignment: string): NotifyMessage[];
  wait(assignment: string, timeoutMs?: number, count?: number): Promise<NotifyMessage>;
  stop(): Promise<void>;
}

export async function startNotifyListener(path: string): Promise<NotifyListener> {
  const child = spawn('/usr/bin/python3', [LISTENER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: NotifyMessage[] = [];
  let listening = false;
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const m = JSON.parse(line) as NotifyMessage & { listening?: string };
    if (m.listening) listening = true;
    else messages.push(m);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(() => listening, 10_000, `notify listener ${err}`);
  const matches = (m: NotifyMessage, a: string) =>
    m.msg.split('\n').some((l) => (a.endsWith('=') ? l.startsWith(a) : l === a));
  const l: NotifyListener = {
    path,
    messages,
    with: (a) => messages.filter((m) => matches(m, a)),
    wait: (a, timeoutMs = 30_000, count = 1) =>
      waitFor(() => l.with(a)[count - 1], timeoutMs, `${a} (#${count}) on the notify socket`),
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
  return l;
}

/** `powerdeal run` as a real child process, started through `sh -c 'exec …'` so WATCHDOG_PID is its PID. */
export interface RunProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt: number;
  output(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnRun(configPath: string, env: Record<string, string> = {}): RunProcess {
  const cmd = `export WATCHDOG_PID=$$; exec "${process.execPath}" --import tsx src/cli/main.ts run --config "${configPath}"`;
  const watchdog = env.WATCHDOG_USEC !== undefined;
  const child = spawn('/bin/sh', ['-c', watchdog ? cmd : cmd.replace('export WATCHDOG_PID=$$; ', '')], {
    cwd: ROOT,
    env: { ...process.env, POWERDEAL_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | string>((r) =>
    child.once('exit', (code, signal) => r(code ?? signal ?? 'unknown')),
  );
  return {
    child,
    pid: child.pid as number,
    startedAt: performance.now(),
    output: () => out,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

export function tempDir(prefix = 'pd-systemd-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ConfigOptions {
  dbPath: string;
  modbusTcpPort?: number;
  broker?: string;
  store?: Record<string, unknown>;
  mqtt?: Record<string, unknown>;
}

/** A config for a home on the Modbus simulator (TCP), simulated I2C and GPIO, web on a free port. */
export async function writeConfig(dir: string, opts: ConfigOptions): Promise<string> {
  const devices: unknown[] = [
    { id: 'dc-shunt', profile: 'ina219', i2c: { bus: 1, address: 0x40, shuntOhms: 0.1 } },
    { id: 'water-heater', profile: 'relay', gpio: { line: 17, activeLow: true }, load: { powerW: 2000 } },
  ];
  if (opts.modbusTcpPort !== undefined) {
    const tcp = `127.0.0.1:${opts.modbusTcpPort}`;
    devices.unshift(
      { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp, unitId: 1, timeoutMs: 500 } },
      { id: 'grid-meter', profile: 'sdm630', modbus: { tcp, unitId: 2, timeoutMs: 500 } },
    );
  }
  const config: Record<string, unknown> = {
    home: { id: 'home-1', zone: 'zone-1' },
    cycleMs: 1000,
    devices,
    store: { path: opts.dbPath, diskReserveMb: 0, ...opts.store },
    web: { listen: `127.0.0.1:${await freePort()}` },
    control: { socket: join(dir, 'control.sock') },
  };
  if (opts.broker) config.mqtt = { brokers: [opts.broker], ...opts.mqtt };
  const path = join(dir, 'config.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

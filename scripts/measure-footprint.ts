/**
 * Measures the service's footprint and prints one JSON object:
 *
 *   node --import tsx scripts/measure-footprint.ts [--minutes 10] [--entry dist/cli/main.js]
 *       `powerdeal run` as a child process at 1 Hz on the Modbus simulator, publishing to a real
 *       mosquitto: time from exec to READY=1, RSS and CPU over the run (from /proc), bytes written to
 *       disk per hour (/proc/<pid>/io), WATCHDOG=1 pings seen; and the unit's exposure score
 *       (`systemd-analyze security --offline=yes systemd/powerdeal.service`).
 *   node --import tsx scripts/measure-footprint.ts --day [--hours 24]
 *       The same service in this process on a fast clock: the cycle is driven cycle by cycle with the
 *       clock moved one second each time (readings, telemetry, hourly pruning as the jobs do), and the
 *       memory is reported before and after the simulated day.
 *
 * --telemetry-ms N sets mqtt.telemetryIntervalMs (default the config's, 10 s).
 * --node-flags "…" replaces the V8 flags the unit sets (default: the unit's).
 * --entry runs a built entry point (e.g. after `npm run build`) instead of the TypeScript sources.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { configSchema } from '../src/config/schema.js';
import { loadProfiles } from '../src/devices/profiles.js';
import { silentLogger } from '../src/log/logger.js';
import { Service } from '../src/service/service.js';
import { startSimulator } from '../src/sim/index.js';
import { unitExposure, unitNodeFlags } from './bench/unit-file.js';

const ROOT = resolve(import.meta.dirname, '..');
const CLOCK_TICKS = 100;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    entry: { type: 'string' },
    day: { type: 'boolean', default: false },
    hours: { type: 'string', default: '24' },
    dir: { type: 'string' },
    'node-flags': { type: 'string', default: unitNodeFlags().join(' ') },
    'telemetry-ms': { type: 'string' },
  },
});

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

function procStats(pid: number): {
  rssKb: number;
  hwmKb: number;
  cpuTicks: number;
  writeBytes: number;
  wchar: number;
} {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const ioField = (key: string) => Number(new RegExp(`^${key}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
  return {
    rssKb: kb('VmRSS'),
    hwmKb: kb('VmHWM'),
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    writeBytes: ioField('write_bytes'),
    wchar: ioField('wchar'),
  };
}

async function startMosquitto(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
  const child = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  return { url: `mqtt://127.0.0.1:${port}`, child };
}

async function live(): Promise<void> {
  const minutes = Number(values.minutes);
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'pd-footprint-'));
  const sim = await startSimulator({ tcp: { port: 0 } });
  const broker = await startMosquitto(dir);
  const tcp = `127.0.0.1:${sim.tcpPort}`;
  const dbPath = join(dir, 'powerdeal.db');
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    stringify({
      home: { id: 'home-1', zone: 'zone-1' },
      cycleMs: 1000,
      devices: [
        { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp, unitId: 1, timeoutMs: 500 } },
        { id: 'grid-meter', profile: 'sdm630', modbus: { tcp, unitId: 2, timeoutMs: 500 } },
        { id: 'dc-shunt', profile: 'ina219', i2c: { bus: 1, address: 0x40, shuntOhms: 0.1 } },
        { id: 'enclosure', profile: 'tmp102', i2c: { bus: 1, address: 0x48 } },
        { id: 'water-heater', profile: 'relay', gpio: { line: 17, activeLow: true }, load: { powerW: 2000 } },
      ],
      mqtt: {
        brokers: [broker.url],
        ...(values['telemetry-ms'] ? { telemetryIntervalMs: Number(values['telemetry-ms']) } : {}),
      },
      store: { path: dbPath, diskReserveMb: 0 },
      web: { listen: `127.0.0.1:${await freePort()}` },
      control: { socket: join(dir, 'control.sock') },
      log: { level: 'warn' },
    }),
  );

  // The notify socket: a datagram listener in this process.
  const dgram = createRequire(import.meta.url)('unix-dgram') as {
    createSocket(t: 'unix_dgram', cb: (buf: Buffer) => void): { bind(p: string): void; close(): void };
  };
  const notifyPath = join(dir, 'notify.sock');
  let readyAt: number | null = null;
  let pings = 0;
  const sock = dgram.createSocket('unix_dgram', (buf) => {
    const msg = buf.toString();
    if (/^READY=1$/m.test(msg) && readyAt === null) readyAt = performance.now();
    if (/^WATCHDOG=1$/m.test(msg)) pings++;
  });
  sock.bind(notifyPath);

  const args = values.entry
    ? [values.entry, 'run', '--config', configPath]
    : ['--import', 'tsx', 'src/cli/main.ts', 'run', '--config', configPath];
  const t0 = performance.now();
  const nodeFlags = (values['node-flags'] ?? '').split(/\s+/).filter((f) => f !== '');
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    cwd: ROOT,
    env: { ...process.env, NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: '30000000' },
    stdio: 'ignore',
  });
  const pid = child.pid as number;
  while (readyAt === null && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  const readyMs = readyAt === null ? null : Math.round((readyAt as number) - t0);

  const first = procStats(pid);
  const startedAt = performance.now();
  const rss: number[] = [];
  const endAt = startedAt + minutes * 60_000;
  while (performance.now() < endAt && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 5000));
    rss.push(procStats(pid).rssKb);
  }
  const last = procStats(pid);
  const elapsedS = (performance.now() - startedAt) / 1000;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  sock.close();
  broker.child.kill('SIGTERM');
  await sim.stop();
  const perHour = (bytes: number) => Math.round((bytes / elapsedS) * 3600);
  const result = {
    mode: 'live',
    entry: values.entry ?? 'src/cli/main.ts (tsx)',
    nodeFlags,
    minutes: Math.round((elapsedS / 60) * 10) / 10,
    execToReadyMs: readyMs,
    rssMb: {
      start: Math.round(first.rssKb / 102.4) / 10,
      mean: Math.round(rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length) / 102.4) / 10,
      max: Math.round(Math.max(...rss) / 102.4) / 10,
      end: Math.round(last.rssKb / 102.4) / 10,
      peakHwm: Math.round(last.hwmKb / 102.4) / 10,
    },
    cpuPercent: Math.round(((last.cpuTicks - first.cpuTicks) / CLOCK_TICKS / elapsedS) * 100 * 100) / 100,
    diskWriteBytesPerHour: perHour(last.writeBytes - first.writeBytes),
    syscallWriteBytesPerHour: perHour(last.wchar - first.wchar),
    watchdogPings: pings,
    dbBytes: statSync(dbPath).size,
    unitExposure: unitExposure(),
  };
  if (!values.dir) rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

async function day(): Promise<void> {
  const hours = Number(values.hours);
  const dir = mkdtempSync(join(tmpdir(), 'pd-footprint-day-'));
  const sim = await startSimulator({ tcp: { port: 0 } });
  const broker = await startMosquitto(dir);
  const tcp = `127.0.0.1:${sim.tcpPort}`;
  let clock = Date.now();
  const config = configSchema.parse({
    home: { id: 'home-1', zone: 'zone-1' },
    devices: [
      { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp, unitId: 1, timeoutMs: 500 } },
      { id: 'grid-meter', profile: 'sdm630', modbus: { tcp, unitId: 2, timeoutMs: 500 } },
      { id: 'dc-shunt', profile: 'ina219', i2c: { bus: 1, address: 0x40, shuntOhms: 0.1 } },
      { id: 'enclosure', profile: 'tmp102', i2c: { bus: 1, address: 0x48 } },
    ],
    mqtt: { brokers: [broker.url] },
    store: { path: join(dir, 'powerdeal.db'), diskReserveMb: 0, readingsRetentionDays: 1 },
    web: { listen: `127.0.0.1:${await freePort()}` },
    control: { socket: join(dir, 'control.sock') },
  });
  const service = new Service(
    {
      config,
      profiles: loadProfiles(),
      log: silentLogger(),
      now: () => clock,
      simulated: true,
      version: 'measure',
    },
    [],
  );
  await service.start();
  // The cycle is driven here, one simulated second at a time.
  await service.cycle.stop();
  const mem = () => {
    const m = process.memoryUsage();
    const mb = (n: number) => Math.round(n / 1048576);
    return {
      rssMb: mb(m.rss),
      heapUsedMb: mb(m.heapUsed),
      heapTotalMb: mb(m.heapTotal),
      externalMb: mb(m.external),
      arrayBuffersMb: mb(m.arrayBuffers),
    };
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = mem();
  const t0 = performance.now();
  const cycles = hours * 3600;
  for (let i = 1; i <= cycles; i++) {
    clock += 1000;
    await service.cycle.runOnce();
    if (i % 3600 === 0) service.store.readings.prune(clock - 86_400_000);
    // Let the link drain between cycles, as it would in the second between real ones.
    if (i % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  gc?.();
  const after = mem();
  const status = service.status();
  await service.stop(5000);
  broker.child.kill('SIGTERM');
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(
    `${JSON.stringify(
      {
        mode: 'fast-clock day',
        simulatedHours: hours,
        realSeconds: Math.round((performance.now() - t0) / 1000),
        cycles: status.cycle?.cycles,
        memoryBefore: before,
        memoryAfter: after,
        outboxRows: status.outbox?.rows,
        published: status.link?.published,
        gcExposed: gc !== undefined,
      },
      null,
      2,
    )}\n`,
  );
}

await (values.day ? day() : live());

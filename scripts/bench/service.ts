/**
 * Footprint of `powerdeal run` at 1 Hz, every figure of docs/operations.md's footprint table, each next
 * to a baseline measured in the same run:
 *   - two homes reading a SunSpec inverter and an SDM630 over Modbus TCP (the simulator) and publishing
 *     to a real mosquitto, one with the default telemetry (10 s) and one with 1 s telemetry: CPU %,
 *     RSS and bytes written to storage per hour, sampled from /proc;
 *   - baselines: the floor process (Node + mqtt.js connected + better-sqlite3 open, nothing else) for
 *     RSS, a bare Node process (both with the unit's V8 flags), and a plain better-sqlite3 loop making the same inserts one commit each
 *     (a reading per second, a telemetry row inserted and deleted per interval) for the writes;
 *   - the unit's V8 flags draining a 100,000-row backlog (peak RSS), and the unit's exposure score.
 * BENCH_SERVICE_S sets the steady duration (default 120 s), BENCH_DRAIN_ROWS the backlog (100,000).
 * Runnable alone: node --import tsx scripts/bench/service.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startSimulator } from '../../src/sim/index.js';
import { startMosquitto } from '../../test/helpers/mosquitto.js';
import { measureFootprint } from './proc-sample.js';
import { benchDrain } from './service-drain.js';
import { benchHomeConfig, serviceEntry } from './service-entry.js';
import { unitExposure, unitNodeFlags } from './unit-file.js';
import { freePort } from './util.js';

const WARMUP_S = 15;

export async function benchService(): Promise<Record<string, unknown>> {
  const seconds = Number(process.env.BENCH_SERVICE_S ?? 120);
  const drainRows = Number(process.env.BENCH_DRAIN_ROWS ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-bench-service-'));
  const sim = await startSimulator({ tcp: { host: '127.0.0.1', port: 0 } });
  const broker = await startMosquitto({ conf: ['max_queued_messages 200000', 'max_inflight_messages 0'] });
  const flags = unitNodeFlags();
  const entry = serviceEntry();
  const children: ChildProcess[] = [];
  const start = (args: string[]) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, POWERDEAL_LOG_LEVEL: 'warn' },
    });
    children.push(child);
    return child.pid as number;
  };
  const home = async (name: string, telemetryMs: number) => {
    const homeDir = join(dir, name);
    mkdirSync(homeDir);
    const config = join(homeDir, 'config.yaml');
    writeFileSync(
      config,
      benchHomeConfig({
        home: name,
        simPort: sim.tcpPort as number,
        brokerUrl: broker.url,
        dir: homeDir,
        webPort: await freePort(),
        mqttExtra: `telemetryIntervalMs: ${telemetryMs}`,
      }),
    );
    return start([...flags, ...entry.args, 'run', '--config', config, '--simulated']);
  };
  try {
    const pids = {
      service: await home('home-10s', 10_000),
      service1sTelemetry: await home('home-1s', 1000),
      floor: start([...flags, 'scripts/bench/baselines/floor.mjs', broker.url, join(dir, 'floor.db')]),
      bareNode: start([...flags, '-e', 'setInterval(() => {}, 1000)']),
      sqliteLoop: start(['scripts/bench/baselines/sqlite-loop.mjs', join(dir, 'loop.db'), '10000']),
      sqliteLoop1sTelemetry: start([
        'scripts/bench/baselines/sqlite-loop.mjs',
        join(dir, 'loop1.db'),
        '1000',
      ]),
    };
    const measured = await Promise.all(
      Object.entries(pids).map(
        async ([k, pid]) => [k, await measureFootprint(pid, seconds, WARMUP_S)] as const,
      ),
    );
    const steady = Object.fromEntries(measured);
    for (const c of children.splice(0)) c.kill('SIGTERM');
    const drain = await benchDrain({
      dir,
      simPort: sim.tcpPort as number,
      brokerUrl: broker.url,
      rows: drainRows,
    });
    return {
      entry: entry.name,
      nodeFlags: flags,
      note: `${seconds} s after a ${WARMUP_S} s warm-up, all six processes at once; RSS mean/max from VmRSS each second, writes from /proc/<pid>/io write_bytes`,
      seconds,
      ...steady,
      drain,
      unitExposure: unitExposure(),
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await broker.dispose();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchService(), null, 2));
}

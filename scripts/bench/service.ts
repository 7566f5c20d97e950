/**
 * Footprint of `powerdeal run` at 1 Hz: CPU %, RSS and bytes written, sampled from /proc over a run
 * against the simulator (Modbus TCP) and a real mosquitto, next to a bare Node process sampled the
 * same way in the same run (the baseline: what Node alone costs). BENCH_SERVICE_S sets the duration
 * (default 60 s). Runnable alone: node --import tsx scripts/bench/service.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startSimulator } from '../../src/sim/index.js';
import { startMosquitto } from '../../test/helpers/mosquitto.js';
import { freePort } from '../../test/helpers/ports.js';

const TICKS_PER_S = 100; // USER_HZ on Linux

interface ProcSample {
  cpuTicks: number;
  rssKiB: number;
  writeBytes: number;
}

function sample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const writeBytes = Number(/write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  return { cpuTicks, rssKiB, writeBytes };
}

/** Samples a process every second for `seconds` after a warm-up, and summarises. */
async function measure(child: ChildProcess, seconds: number, warmupS: number) {
  const pid = child.pid as number;
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  const first = sample(pid);
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    rss.push(sample(pid).rssKiB);
  }
  const last = sample(pid);
  rss.sort((a, b) => a - b);
  return {
    cpuPercent: Math.round(((last.cpuTicks - first.cpuTicks) / TICKS_PER_S / seconds) * 1000) / 10,
    rssMiB: {
      p50: Math.round(rss[Math.floor(rss.length / 2)]! / 102.4) / 10,
      max: Math.round(rss.at(-1)! / 102.4) / 10,
    },
    writeMiBPerHour:
      Math.round((((last.writeBytes - first.writeBytes) / seconds) * 3600) / 1024 / 102.4) / 10,
  };
}

export async function benchService(): Promise<Record<string, unknown>> {
  const seconds = Number(process.env.BENCH_SERVICE_S ?? 60);
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-bench-service-'));
  const sim = await startSimulator({ tcp: { host: '127.0.0.1', port: 0 } });
  const broker = await startMosquitto();
  const webPort = await freePort();
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'home: { id: bench-home, zone: bench }',
      'cycleMs: 1000',
      'devices:',
      `  - { id: inverter, profile: sunspec-inverter, modbus: { tcp: "127.0.0.1:${sim.tcpPort}", unitId: 1 } }`,
      `  - { id: grid-meter, profile: sdm630, modbus: { tcp: "127.0.0.1:${sim.tcpPort}", unitId: 2 } }`,
      `mqtt: { brokers: ["${broker.url}"] }`,
      `store: { path: "${join(dir, 'powerdeal.db')}" }`,
      `web: { listen: "127.0.0.1:${webPort}" }`,
    ].join('\n'),
  );
  // The built service (what systemd runs) when `npm run build` has run, else through tsx.
  const built = existsSync('dist/cli/main.js');
  const entry = built ? ['dist/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
  const service = spawn(process.execPath, [...entry, 'run', '--config', config, '--simulated'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, POWERDEAL_LOG_LEVEL: 'warn' },
  });
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    const [svc, baseline] = await Promise.all([measure(service, seconds, 10), measure(bare, seconds, 10)]);
    return {
      entry: built ? 'dist/cli/main.js' : 'src/cli/main.ts via tsx',
      note: `powerdeal run reading a SunSpec inverter and an SDM630 over Modbus TCP at 1 Hz, telemetry every 10 s to mosquitto; baseline = a bare Node process; ${seconds} s after a 10 s warm-up`,
      seconds,
      service: svc,
      bareNode: baseline,
    };
  } finally {
    service.kill('SIGTERM');
    bare.kill('SIGKILL');
    await new Promise((r) => service.once('exit', r));
    await broker.dispose();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchService(), null, 2));
}

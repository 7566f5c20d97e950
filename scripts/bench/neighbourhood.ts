/**
 * Neighbourhood benchmark: how fast the deterministic simulation runs (simulated home-hours per wall and
 * per CPU second, with Ed25519 signatures and, as the baseline of what signing costs, without), and the
 * steady-state traffic per home and hour (sent and received, by type) for N = 3 … 300 homes on a
 * cloudless midday without faults, which shows how offers fan out to every home of the zone, with what
 * the homes' stores write for it (engine_state rewrites, inbox dedupe rows, SQLite bytes).
 * Run alone: node --import tsx scripts/bench/neighbourhood.ts [--max-homes N] [--homes 30,100] [--no-speed]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ALL_FAULTS,
  type NeighbourhoodOptions,
  type NeighbourhoodReport,
  NO_FAULTS,
  runNeighbourhood,
} from '../../src/neighbourhood/index.js';
import { round } from './util.js';

const HOUR_MS = 3_600_000;

async function timed(opts: NeighbourhoodOptions) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const report = await runNeighbourhood(opts);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { report, wallS, cpuS: (cpu.user + cpu.system) / 1e6 };
}

async function speed(faults: 'none' | 'all', signatures: boolean) {
  const homes = 10;
  const { report, wallS, cpuS } = await timed({
    seed: 1,
    homes,
    hours: 2,
    faults: faults === 'all' ? ALL_FAULTS : NO_FAULTS,
    signatures,
  });
  const homeHours = (homes * (report.end - report.start)) / HOUR_MS;
  return {
    homes,
    simulatedHours: round((report.end - report.start) / HOUR_MS),
    signatures,
    faults,
    trades: report.trades,
    events: report.events,
    wallS: round(wallS),
    cpuS: round(cpuS),
    homeHoursPerWallS: round(homeHours / wallS, 1),
    homeHoursPerCpuS: round(homeHours / cpuS, 1),
  };
}

type Counts = Record<string, number>;

function perHomeHour(report: NeighbourhoodReport, side: 'sent' | 'received', divide: number): Counts {
  const total: Counts = {};
  for (const h of report.homes) {
    for (const [type, n] of Object.entries(h.traffic[side])) total[type] = (total[type] ?? 0) + n;
  }
  return Object.fromEntries(
    Object.keys(total)
      .sort()
      .map((k) => [k, round(total[k]! / divide, 1)]),
  );
}

const sum = (c: Counts) =>
  round(
    Object.values(c).reduce((x, y) => x + y, 0),
    1,
  );

/** Bytes this process has passed to write() so far (Linux; null elsewhere). */
function bytesWritten(): number | null {
  try {
    const m = /^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * What the stores wrote per home and hour. State and dedupe rows are counted by the homes; the SQLite
 * bytes are everything the process wrote to the store files (WAL frames, checkpoints) in the window,
 * shared out over the homes (nothing else in the run writes files).
 */
function storeWrites(report: NeighbourhoodReport, per: number, written: number | null) {
  let rows = 0;
  let bytes = 0;
  let dedupe = 0;
  for (const h of report.homes) {
    rows += h.writes.stateRows;
    bytes += h.writes.stateBytes;
    dedupe += h.writes.dedupeRows;
  }
  return {
    engineStateRows: round(rows / per, 1),
    engineStateKB: round(bytes / per / 1024, 1),
    engineStateAvgBytes: rows > 0 ? Math.round(bytes / rows) : null,
    dedupeRows: round(dedupe / per, 1),
    sqliteKB: written === null ? null : round(written / per / 1024, 1),
  };
}

/**
 * Per-home traffic in a steady window of whole slots, after a warm-up of two slots (so the window also
 * sees the settlements of slots traded after the start). Signing changes no decision (the same seed trades
 * the same with and without it), so the large zones run unsigned to keep the benchmark short; the speed
 * runs above measure signing. The stores are files in a temporary directory, as on a home's SD card.
 */
async function traffic(homes: number) {
  const signatures = homes < 100;
  const warmHours = 0.5;
  const windowHours = homes < 300 ? 0.5 : 0.25;
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-bench-neighbourhood-'));
  const marks: (number | null)[] = [];
  try {
    const { report, cpuS } = await timed({
      seed: 7,
      homes,
      hours: warmHours + windowHours,
      trafficFromHours: warmHours,
      onTrafficWindow: () => marks.push(bytesWritten()),
      storeDir: dir,
      faults: NO_FAULTS,
      clearSky: true,
      startHour: 11.25,
      healMs: 0,
      cycleMs: 10_000,
      signatures,
    });
    const written = marks.length === 2 && marks[0] != null && marks[1] != null ? marks[1] - marks[0] : null;
    const per = homes * windowHours;
    const sent = perHomeHour(report, 'sent', per);
    const received = perHomeHour(report, 'received', per);
    return {
      homes,
      sellersWithPv: report.homes.filter((h) => h.pvKwp > 0).length,
      windowHours,
      signatures,
      perHomePerHour: {
        sent,
        received,
        sentTotal: sum(sent),
        receivedTotal: sum(received),
        store: storeWrites(report, per, written),
      },
      cpuS: round(cpuS),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface NeighbourhoodBenchOptions {
  /** The largest zone of the traffic runs (3, 10, 30, 100, 300). Default 300. */
  maxHomes?: number;
  /** Exactly these zone sizes instead. */
  homes?: number[];
  /** The speed runs too. Default true. */
  speed?: boolean;
}

export async function benchNeighbourhood(
  opts: NeighbourhoodBenchOptions = {},
): Promise<Record<string, unknown>> {
  const speedRuns: Awaited<ReturnType<typeof speed>>[] = [];
  for (const faults of opts.speed === false ? [] : (['none', 'all'] as const)) {
    for (const signatures of [true, false]) {
      process.stderr.write(`  speed: faults ${faults}, signatures ${signatures}\n`);
      speedRuns.push(await speed(faults, signatures));
    }
  }
  const signingCost = speedRuns
    .filter((r) => r.signatures)
    .map((r) => {
      const unsigned = speedRuns.find((u) => !u.signatures && u.faults === r.faults)!;
      return { faults: r.faults, cpuRatioSignedToUnsigned: round(r.cpuS / unsigned.cpuS) };
    });
  const maxHomes = opts.maxHomes ?? 300;
  const sizes = opts.homes ?? [3, 10, 30, 100, 300].filter((n) => n <= maxHomes);
  const trafficRuns: Awaited<ReturnType<typeof traffic>>[] = [];
  for (const n of sizes) {
    process.stderr.write(`  traffic: ${n} homes\n`);
    trafficRuns.push(await traffic(n));
  }
  return {
    speed: speedRuns,
    signingCost,
    steadyTraffic: {
      profile: 'no faults, cloudless, from 11:45 after 30 min of warm-up, 15-min slots, 10 s cycles',
      store:
        'per home and hour: engine_state rewrites (rows, KB, average row), inbox dedupe rows, and the bytes ' +
        'written to the SQLite files (/proc/self/io wchar over the window ÷ homes)',
      runs: trafficRuns,
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const max = arg('--max-homes');
  const homes = arg('--homes');
  const opts: NeighbourhoodBenchOptions = { speed: !process.argv.includes('--no-speed') };
  if (max !== undefined) opts.maxHomes = Number(max);
  if (homes !== undefined) opts.homes = homes.split(',').map(Number);
  console.log(JSON.stringify(await benchNeighbourhood(opts), null, 2));
}

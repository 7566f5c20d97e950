import { readFileSync } from 'node:fs';
import { round, sleep } from './util.js';

/** Footprint of a running process from /proc: CPU ticks, resident memory, bytes written to storage. */

const TICKS_PER_S = 100; // USER_HZ on Linux

export interface ProcSample {
  cpuTicks: number;
  rssKiB: number;
  /** Peak resident set (VmHWM). */
  hwmKiB: number;
  /** Bytes this process caused to be written to storage (/proc/<pid>/io write_bytes). */
  writeBytes: number;
}

export function sampleProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return {
    cpuTicks: Number(fields[11]) + Number(fields[12]), // utime + stime
    rssKiB: kib('VmRSS'),
    hwmKiB: kib('VmHWM'),
    writeBytes: Number(/^write_bytes: (\d+)/m.exec(io)?.[1] ?? 0),
  };
}

export const mib = (kib: number) => round(kib / 1024, 1);

export interface Footprint {
  cpuPercent: number;
  rssMiB: { mean: number; max: number };
  writeMiBPerHour: number;
}

/** Samples a process every second for `seconds` after `warmupS`, and summarises. */
export async function measureFootprint(pid: number, seconds: number, warmupS: number): Promise<Footprint> {
  await sleep(warmupS * 1000);
  const first = sampleProc(pid);
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    rss.push(sampleProc(pid).rssKiB);
  }
  const last = sampleProc(pid);
  return {
    cpuPercent: round(((last.cpuTicks - first.cpuTicks) / TICKS_PER_S / seconds) * 100, 2),
    rssMiB: { mean: mib(rss.reduce((a, b) => a + b, 0) / rss.length), max: mib(Math.max(...rss)) },
    writeMiBPerHour: round((((last.writeBytes - first.writeBytes) / seconds) * 3600) / 1048576, 2),
  };
}

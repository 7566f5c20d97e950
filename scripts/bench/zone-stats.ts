import { readFileSync } from 'node:fs';
import { round } from './util.js';

/** Figures shared by the zone benchmark's parent and workers (scripts/bench/zone-load.ts). */

/** Latencies in whole ms (envelope `ts` is whole ms), up to a minute; beyond that in the last bucket. */
const MAX_MS = 60_000;

export type SparseHistogram = [ms: number, count: number][];

export class Histogram {
  private counts = new Uint32Array(MAX_MS + 1);
  private n = 0;

  add(ms: number): void {
    this.counts[Math.min(MAX_MS, Math.max(0, Math.round(ms)))]!++;
    this.n++;
  }

  /** The non-empty buckets, then empties this histogram. */
  take(): SparseHistogram {
    const out: SparseHistogram = [];
    if (this.n > 0) {
      for (const [ms, c] of this.counts.entries()) if (c > 0) out.push([ms, c]);
    }
    this.counts.fill(0);
    this.n = 0;
    return out;
  }
}

/** n, p50, p99 and max of merged sparse histograms (ms). */
export function percentiles(parts: SparseHistogram[]): {
  n: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
} {
  const merged = new Map<number, number>();
  for (const part of parts) for (const [ms, c] of part) merged.set(ms, (merged.get(ms) ?? 0) + c);
  const sorted = [...merged.entries()].sort((a, b) => a[0] - b[0]);
  const n = sorted.reduce((s, [, c]) => s + c, 0);
  const at = (q: number) => {
    const rank = Math.ceil(q * n);
    let seen = 0;
    for (const [ms, c] of sorted) {
      seen += c;
      if (seen >= rank) return ms;
    }
    return null;
  };
  return { n, p50: n > 0 ? at(0.5) : null, p99: n > 0 ? at(0.99) : null, max: sorted.at(-1)?.[0] ?? null };
}

export function meanMax(values: number[], digits = 3): { mean: number; max: number } {
  if (values.length === 0) return { mean: 0, max: 0 };
  const sum = values.reduce((s, v) => s + v, 0);
  return { mean: round(sum / values.length, digits), max: round(Math.max(...values), digits) };
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux the project runs on). */
const USER_HZ = 100;

/** CPU seconds (user + system) a process has used, from /proc (Linux); null when it cannot be read. */
export function procCpuS(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/** Resident set size of a process in MiB, from /proc (Linux); null when it cannot be read. */
export function procRssMiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

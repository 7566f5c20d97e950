import { QUANTITY_NAMES, type QuantityName, type Snapshot } from '../core/quantities.js';
import type { Readings } from '../store/index.js';

const HOUR_MS = 3_600_000;
/** Longest history served (raw readings are pruned after store.readingsRetentionDays anyway). */
const MAX_HISTORY_MS = 7 * 24 * HOUR_MS;
/** Up to this window the series is built from the raw readings; beyond it from hourly means. */
const RAW_WINDOW_MS = 6 * HOUR_MS;
/** Points per series the page needs at most (a phone is a few hundred pixels wide). */
const TARGET_POINTS = 360;
const PAGE = 2000;

/** Column-oriented history for a chart: `ts[i]` goes with `series[q][i]`; null where no good value. */
export interface ReadingsSeries {
  since: number;
  until: number;
  /** Width of one point, seconds: its value is the mean of the good values in it. */
  stepS: number;
  source: 'raw' | 'hourly';
  ts: number[];
  series: Partial<Record<QuantityName, (number | null)[]>>;
}

/** Mean of the good values per step over [since, now]. Steps below one cycle are widened to it. */
export function readingsSeries(
  readings: Readings,
  since: number,
  now: number,
  opts: { stepS?: number; cycleMs: number },
): ReadingsSeries {
  const from = Math.max(since, now - MAX_HISTORY_MS);
  if (now - from > RAW_WINDOW_MS) return hourlySeries(readings, from, now);
  const auto = Math.ceil((now - from) / TARGET_POINTS / 1000);
  const stepMs = Math.max(opts.cycleMs, (opts.stepS ?? auto) * 1000);
  const sums = new Map<number, Map<QuantityName, { n: number; sum: number }>>();
  let cursor = from;
  for (;;) {
    const page = readings.since(cursor, PAGE);
    for (const s of page) addToBucket(sums, s, Math.floor(s.ts / stepMs) * stepMs);
    if (page.length < PAGE) break;
    cursor = (page[page.length - 1] as Snapshot).ts + 1;
  }
  return toSeries(sums, from, now, stepMs / 1000, 'raw');
}

function hourlySeries(readings: Readings, from: number, now: number): ReadingsSeries {
  const sums = new Map<number, Map<QuantityName, { n: number; sum: number }>>();
  for (const h of readings.hourly(from)) {
    const b = bucketOf(sums, h.hour);
    b.set(h.quantity, { n: h.count, sum: h.mean * h.count });
  }
  return toSeries(sums, from, now, 3600, 'hourly');
}

function bucketOf(
  sums: Map<number, Map<QuantityName, { n: number; sum: number }>>,
  at: number,
): Map<QuantityName, { n: number; sum: number }> {
  let b = sums.get(at);
  if (!b) {
    b = new Map();
    sums.set(at, b);
  }
  return b;
}

function addToBucket(
  sums: Map<number, Map<QuantityName, { n: number; sum: number }>>,
  s: Snapshot,
  bucket: number,
): void {
  const b = bucketOf(sums, bucket);
  for (const name of QUANTITY_NAMES) {
    const q = s.quantities[name];
    if (q?.quality !== 'good' || q.value === null) continue;
    const acc = b.get(name);
    if (acc) {
      acc.n++;
      acc.sum += q.value;
    } else b.set(name, { n: 1, sum: q.value });
  }
}

function toSeries(
  sums: Map<number, Map<QuantityName, { n: number; sum: number }>>,
  since: number,
  until: number,
  stepS: number,
  source: 'raw' | 'hourly',
): ReadingsSeries {
  const ts = [...sums.keys()].sort((a, b) => a - b);
  const present = QUANTITY_NAMES.filter((q) => ts.some((t) => sums.get(t)?.has(q)));
  const series: ReadingsSeries['series'] = {};
  for (const q of present) {
    series[q] = ts.map((t) => {
      const acc = sums.get(t)?.get(q);
      return acc ? round(acc.sum / acc.n) : null;
    });
  }
  return { since, until, stepS, source, ts, series };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export interface TodayEnergy {
  /** Start of the counting (local midnight, or the first reading of the day when later). */
  fromTs: number | null;
  pvWh: number | null;
  importWh: number | null;
  exportWh: number | null;
  /** pv + import − export (a battery, where there is one, shifts it within the day). */
  loadWh: number | null;
}

type Counter = 'pvEnergyWh' | 'gridImportWh' | 'gridExportWh';
const COUNTERS: readonly Counter[] = ['pvEnergyWh', 'gridImportWh', 'gridExportWh'];

/**
 * Today's energy from the meter and inverter counters: the newest value minus the first good one of the
 * local day. The day's first values are looked up once (then kept), so a refresh costs no database read.
 */
export class TodayCounters {
  private day = -1;
  private start: Partial<Record<Counter, number>> = {};
  private fromTs: number | null = null;
  private lastLookup = 0;
  /** The day's readings before this were looked at already. */
  private cursor = 0;

  constructor(private readonly readings: Readings) {}

  compute(latest: Snapshot | null | undefined, now: number): TodayEnergy {
    const midnight = new Date(now).setHours(0, 0, 0, 0);
    if (midnight !== this.day) {
      this.day = midnight;
      this.start = {};
      this.fromTs = null;
      this.lastLookup = 0;
      this.cursor = midnight;
    }
    if (COUNTERS.some((c) => this.start[c] === undefined) && now - this.lastLookup >= 60_000) {
      this.lastLookup = now;
      this.lookUp();
    }
    const delta = (c: Counter): number | null => {
      const q = latest?.quantities[c];
      const first = this.start[c];
      if (!q || q.value === null || q.quality === 'fault' || first === undefined) return null;
      return round(Math.max(0, q.value - first));
    };
    const pvWh = delta('pvEnergyWh');
    const importWh = delta('gridImportWh');
    const exportWh = delta('gridExportWh');
    const loadWh =
      pvWh !== null && importWh !== null && exportWh !== null
        ? round(Math.max(0, pvWh + importWh - exportWh)) // counters tick in whole Wh: no negative rounding
        : null;
    return { fromTs: this.fromTs, pvWh, importWh, exportWh, loadWh };
  }

  private lookUp(): void {
    const early = this.readings.since(this.cursor, 600);
    for (const s of early) {
      this.cursor = s.ts + 1;
      for (const c of COUNTERS) {
        const q = s.quantities[c];
        if (this.start[c] === undefined && q?.quality === 'good' && q.value !== null) {
          this.start[c] = q.value;
          this.fromTs ??= s.ts;
        }
      }
    }
  }
}

import {
  QUANTITY_NAMES,
  type QuantityName,
  type QuantityReading,
  type Snapshot,
} from '../core/quantities.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export const floorMinute = (ts: number) => Math.floor(ts / MINUTE_MS) * MINUTE_MS;
export const floorHour = (ts: number) => Math.floor(ts / HOUR_MS) * HOUR_MS;

/**
 * Counters that only grow: a minute row keeps their first good value of the minute, so the difference
 * between two rows is the energy between them exactly (today's energy counts from the first one).
 */
const CUMULATIVE: ReadonlySet<QuantityName> = new Set(['pvEnergyWh', 'gridImportWh', 'gridExportWh']);

interface QuantityMinute {
  /** Good samples in the minute. */
  n: number;
  sum: number;
  first: number | null;
  /** The newest reading of the minute, whatever its quality. */
  last: QuantityReading;
  /** The newest good reading of the minute. */
  lastGood: QuantityReading | null;
}

/**
 * The cycles of one minute folded into one snapshot: each quantity's mean of its good values (the first
 * good value for a counter), good when the minute had any good value, else as the minute's last reading
 * left it. The row's ts is the minute's start, its cycle the minute's last one.
 */
export class MinuteAccumulator {
  private readonly q = new Map<QuantityName, QuantityMinute>();
  private cycle = 0;

  constructor(readonly minute: number) {}

  add(s: Snapshot): void {
    if (s.cycle > this.cycle) this.cycle = s.cycle;
    for (const name of QUANTITY_NAMES) {
      const r = s.quantities[name];
      if (r === undefined) continue;
      const good = r.quality === 'good' && r.value !== null && Number.isFinite(r.value);
      const m = this.q.get(name);
      if (m === undefined) {
        this.q.set(name, {
          n: good ? 1 : 0,
          sum: good ? (r.value as number) : 0,
          first: good ? r.value : null,
          last: r,
          lastGood: good ? r : null,
        });
        continue;
      }
      m.last = r;
      if (!good) continue;
      m.n += 1;
      m.sum += r.value as number;
      m.first ??= r.value;
      m.lastGood = r;
    }
  }

  snapshot(): Snapshot {
    const quantities: Snapshot['quantities'] = {};
    for (const [name, m] of this.q) {
      if (m.lastGood === null) {
        quantities[name] = m.last;
        continue;
      }
      const value = CUMULATIVE.has(name) ? (m.first as number) : m.sum / m.n;
      quantities[name] = { value, quality: 'good', ts: m.lastGood.ts, source: m.lastGood.source };
    }
    return { cycle: this.cycle, ts: this.minute, quantities };
  }
}

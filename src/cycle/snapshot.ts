import type { QuantityName, QuantityReading, QuantityValues, Snapshot } from '../core/quantities.js';

/** The last good value of one quantity from one device. */
export interface LastGood {
  value: number;
  ts: number;
}

/**
 * Per-quantity memory across cycles: which device provides it and its last good value. A value turns
 * `stale` after its device's max age, and is `fault` when there never was one or the device faulted.
 */
export class QuantityMemory {
  private readonly last = new Map<QuantityName, LastGood & { source: string }>();

  /** Records a device's good read. The first device (in config order) that maps a quantity owns it. */
  record(
    source: string,
    values: QuantityValues,
    ts: number,
    owners: ReadonlyMap<QuantityName, string>,
  ): void {
    for (const [name, value] of Object.entries(values) as [QuantityName, number][]) {
      if (owners.get(name) !== source || !Number.isFinite(value)) continue;
      this.last.set(name, { value, ts, source });
    }
  }

  /**
   * Freezes the view at `now`. `maxAgeMs(source)` gives each device's max age; `faulted` lists devices
   * whose health is `fault` (breaker open or failing reads).
   */
  freeze(
    cycle: number,
    now: number,
    owners: ReadonlyMap<QuantityName, string>,
    maxAgeMs: (source: string) => number,
    faulted: ReadonlySet<string>,
  ): Snapshot {
    const quantities: Snapshot['quantities'] = {};
    for (const [name, source] of owners) {
      const last = this.last.get(name);
      if (!last) {
        quantities[name] = { value: null, quality: 'fault', ts: 0, source };
        continue;
      }
      // Good while young enough; past its max age it is stale, or a fault once its device has faulted.
      const fresh = now - last.ts <= maxAgeMs(source);
      const q = fresh ? 'good' : faulted.has(source) ? 'fault' : 'stale';
      quantities[name] = { value: last.value, quality: q, ts: last.ts, source };
    }
    const load = deriveLoad(quantities);
    if (load) quantities.loadPowerW = load;
    return { cycle, ts: now, quantities };
  }
}

const RANK = { good: 0, stale: 1, fault: 2 } as const;

/**
 * loadPowerW = pv + grid (+ battery discharge): only as good as its worst input, and never derived
 * from a faulted input. PV absent (no inverter configured) counts as 0 W; grid absent means no load.
 */
function deriveLoad(q: Snapshot['quantities']): QuantityReading | undefined {
  if (q.loadPowerW) return undefined; // a measured load wins over a derived one
  const grid = q.gridPowerW;
  if (!grid) return undefined;
  const inputs = [grid, q.pvPowerW, q.batteryPowerW].filter((x): x is QuantityReading => x !== undefined);
  const worst = inputs.reduce(
    (w, r) => (RANK[r.quality] > RANK[w] ? r.quality : w),
    'good' as QuantityReading['quality'],
  );
  if (worst === 'fault' || inputs.some((r) => r.value === null)) {
    return { value: null, quality: 'fault', ts: 0, source: 'derived' };
  }
  const value = inputs.reduce((sum, r) => sum + (r.value ?? 0), 0);
  return {
    value: Math.max(0, value),
    quality: worst,
    ts: Math.min(...inputs.map((r) => r.ts)),
    source: 'derived',
  };
}

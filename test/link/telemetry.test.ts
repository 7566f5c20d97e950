import { afterEach, describe, expect, it } from 'vitest';
import type { Quality, QuantityName, Snapshot } from '../../src/core/quantities.js';
import { createTelemetryAggregator, enqueueTelemetry } from '../../src/link/telemetry.js';
import { decodeEnvelope } from '../../src/protocol/envelope.js';
import { HOME, type TempStore, tempStore } from './helpers.js';

const T0 = Date.UTC(2030, 0, 1, 0, 0, 0);

function snap(ts: number, q: Partial<Record<QuantityName, [number | null, Quality]>>): Snapshot {
  const quantities: Snapshot['quantities'] = {};
  for (const [name, [value, quality]] of Object.entries(q) as [QuantityName, [number | null, Quality]][]) {
    quantities[name] = { value, quality, ts, source: 'test' };
  }
  return { cycle: 0, ts, quantities };
}

describe('telemetry aggregator', () => {
  let ts: TempStore | null = null;
  afterEach(() => {
    ts?.dispose();
    ts = null;
  });

  it('closes an epoch-aligned interval when a snapshot at or after its end arrives', () => {
    const agg = createTelemetryAggregator({ intervalMs: 10_000, home: HOME });
    // Starts mid-interval: [T0, T0 + 10 s).
    for (let i = 3; i < 10; i++)
      expect(agg.add(snap(T0 + i * 1000, { pvPowerW: [i * 100, 'good'] }))).toBeNull();
    const body = agg.add(snap(T0 + 10_000, { pvPowerW: [5000, 'good'] }));
    expect(body).toEqual({
      from: T0,
      to: T0 + 10_000,
      samples: 7,
      q: { pvPowerW: { n: 7, mean: 600, min: 300, max: 900, last: 900, quality: 'good' } },
    });
    // The closing snapshot opened the next interval.
    expect(agg.flush()).toMatchObject({ from: T0 + 10_000, samples: 1, q: { pvPowerW: { mean: 5000 } } });
    expect(agg.flush()).toBeNull();
  });

  it('keeps stale and faulted samples out of the statistics, but reports the last value and quality', () => {
    const agg = createTelemetryAggregator({ intervalMs: 5000, home: HOME });
    agg.add(snap(T0, { gridPowerW: [-200, 'good'], enclosureTempC: [null, 'fault'] }));
    agg.add(snap(T0 + 1000, { gridPowerW: [-100, 'good'], enclosureTempC: [null, 'fault'] }));
    agg.add(snap(T0 + 2000, { gridPowerW: [-100, 'stale'], enclosureTempC: [null, 'fault'] }));
    agg.add(snap(T0 + 3000, { gridPowerW: [9999, 'stale'] }));
    const body = agg.flush()!;
    expect(body.samples).toBe(4);
    expect(body.q.gridPowerW).toEqual({
      n: 2,
      mean: -150,
      min: -200,
      max: -100,
      last: 9999,
      quality: 'stale',
    });
    expect(body.q.enclosureTempC).toEqual({
      n: 0,
      mean: null,
      min: null,
      max: null,
      last: null,
      quality: 'fault',
    });
  });

  it('starts a new interval when the clock steps back, and skips intervals with no snapshot', () => {
    const agg = createTelemetryAggregator({ intervalMs: 10_000, home: HOME });
    agg.add(snap(T0 + 25_000, { pvPowerW: [1, 'good'] }));
    const back = agg.add(snap(T0 + 5000, { pvPowerW: [2, 'good'] }));
    expect(back).toMatchObject({ from: T0 + 20_000, samples: 1 });
    const jump = agg.add(snap(T0 + 95_000, { pvPowerW: [3, 'good'] }));
    expect(jump).toMatchObject({ from: T0, to: T0 + 10_000, samples: 1 });
    expect(agg.flush()).toMatchObject({ from: T0 + 90_000 });
  });

  it('is enqueued as a telemetry envelope with the store seq, in one transaction', () => {
    ts = tempStore();
    const agg = createTelemetryAggregator({ intervalMs: 10_000, home: HOME });
    agg.add(snap(T0, { pvPowerW: [1200, 'good'], batterySocPct: [55, 'good'] }));
    const body = agg.flush()!;
    const seq = ts.store.seq.peek();
    const rowId = enqueueTelemetry(ts.store, agg, body, T0 + 10_000);
    const row = ts.store.outbox.list()[0]!;
    expect(row).toMatchObject({ rowId, class: 'telemetry', topic: 'powerdeal/v1/zone-a/home-1/telemetry' });
    const decoded = decodeEnvelope(row.payload);
    expect(decoded.ok && decoded.envelope).toMatchObject({ type: 'telemetry', seq, from: HOME.id, body });
    expect(ts.store.seq.peek()).toBe(seq + 1);
  });
});

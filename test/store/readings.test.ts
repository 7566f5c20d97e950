import { describe, expect, it } from 'vitest';
import { QUANTITY_NAMES, type Snapshot } from '../../src/core/quantities.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/store/readings-codec.js';
import { storePerTest } from './helpers.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 5, 1, 10); // on an hour boundary

const { open } = storePerTest('readings.db');

/** A snapshot with pvPowerW = pv (good), gridPowerW = grid (stale) and a faulted temperature. */
function snap(cycle: number, ts: number, pv: number, grid = -pv): Snapshot {
  return {
    cycle,
    ts,
    quantities: {
      pvPowerW: { value: pv, quality: 'good', ts, source: 'inverter' },
      gridPowerW: { value: grid, quality: 'stale', ts: ts - 5000, source: 'grid-meter' },
      enclosureTempC: { value: null, quality: 'fault', ts: 0, source: 'temp' },
    },
  };
}

describe('packed rows', () => {
  it('round-trips every quantity, quality, value width and timestamp form exactly', () => {
    const ts = 1_750_000_000_123;
    const s: Snapshot = { cycle: 7, ts, quantities: {} };
    QUANTITY_NAMES.forEach((name, i) => {
      s.quantities[name] = {
        value: [1234, 0.1, -3.5, null, 1e15 + 0.5, Number.NaN][i % 6]!,
        quality: (['good', 'stale', 'fault'] as const)[i % 3]!,
        ts: [ts, ts - 1500, 0, ts + 10, 12.5][i % 5]!,
        source: ['inverter', 'grid-meter', 'derived', 'dc-shunt-ü'][i % 4]!,
      };
    });
    expect(decodeSnapshot(ts, 7, encodeSnapshot(s))).toEqual(s);
    expect(decodeSnapshot(ts, 0, encodeSnapshot({ cycle: 0, ts, quantities: {} }))).toEqual({
      cycle: 0,
      ts,
      quantities: {},
    });
  });

  it('keeps a full 13-quantity cycle under 200 bytes', () => {
    const ts = 1_750_000_000_000;
    const s: Snapshot = { cycle: 1, ts, quantities: {} };
    for (const name of QUANTITY_NAMES) {
      s.quantities[name] = { value: 1234.56789, quality: 'good', ts: ts - 120, source: 'grid-meter' };
    }
    expect(encodeSnapshot(s).length).toBeLessThan(200);
  });
});

describe('readings', () => {
  it('appends, gives the latest (also after reopen) and lists since a time', () => {
    let s = open();
    expect(s.readings.latest()).toBeUndefined();
    for (let i = 0; i < 10; i++) s.readings.append(snap(i, T0 + i * 1000, i * 100), T0 + i * 1000);
    expect(s.readings.latest()).toEqual(snap(9, T0 + 9000, 900));
    expect(s.readings.since(T0 + 3000, 4).map((r) => r.cycle)).toEqual([3, 4, 5, 6]);
    expect(s.readings.since(T0 + 8000)).toEqual([snap(8, T0 + 8000, 800), snap(9, T0 + 9000, 900)]);
    s = open();
    expect(s.readings.latest()).toEqual(snap(9, T0 + 9000, 900));
  });

  it('aggregates good values per hour, rolls complete hours up and keeps them through prune', () => {
    const s = open();
    // 2.5 hours at 1 Hz: pvPowerW goes 0..3599 in each hour; gridPowerW is stale and must not count.
    const n = 2.5 * 3600;
    s.transaction(() => {
      for (let i = 0; i < n; i++) s.readings.append(snap(i, T0 + i * 1000, i % 3600), T0 + i * 1000);
    });
    const rolled = s.db.prepare('SELECT count(*) AS n FROM readings_hourly').get() as { n: number };
    expect(rolled.n).toBe(2);
    const before = s.readings.hourly(T0);
    expect(before).toEqual([
      { hour: T0, quantity: 'pvPowerW', count: 3600, mean: 1799.5, min: 0, max: 3599, partial: false },
      { hour: T0 + H, quantity: 'pvPowerW', count: 3600, mean: 1799.5, min: 0, max: 3599, partial: false },
      { hour: T0 + 2 * H, quantity: 'pvPowerW', count: 1800, mean: 899.5, min: 0, max: 1799, partial: true },
    ]);
    expect(s.readings.hourly(T0 + H + 1234).map((a) => a.hour)).toEqual([T0 + H, T0 + 2 * H]);

    const deleted = s.readings.prune(T0 + 2 * H + 600_000);
    expect(deleted).toBe(2 * 3600 + 600);
    expect(s.readings.since(0, 1)[0]?.ts).toBe(T0 + 2 * H + 600_000);
    expect(s.readings.hourly(T0)).toEqual(before);
    // The rest of the hour keeps adding to the hour the prune rolled up early.
    s.readings.append(snap(n, T0 + 2.5 * H, 5000), T0 + 2.5 * H);
    const last = s.readings.hourly(T0 + 2 * H)[0];
    expect(last).toMatchObject({ count: 1801, max: 5000, min: 0 });
    expect(last?.mean).toBeCloseTo((899.5 * 1800 + 5000) / 1801, 9);
  });

  it('merges a row that arrives late for an hour already rolled up (clock stepped back)', () => {
    const s = open();
    s.readings.append(snap(1, T0 + 10, 100), T0);
    s.readings.append(snap(2, T0 + H + 10, 300), T0 + H);
    s.readings.append(snap(3, T0 + 20, 200), T0 + H);
    expect(s.readings.hourly(T0)[0]).toMatchObject({ hour: T0, count: 2, mean: 150, min: 100, max: 200 });
    expect(s.readings.latest()?.cycle).toBe(2);
  });

  it('buffers in memory when asked, still answers latest(), and writes the buffer on close', () => {
    let s = open({ readingsFlushMs: 10_000 });
    for (let i = 0; i < 5; i++) s.readings.append(snap(i, T0 + i * 1000, i), T0 + i * 1000);
    const rows = () => (s.db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
    expect(rows()).toBe(0);
    expect(s.readings.latest()?.cycle).toBe(4);
    for (let i = 5; i <= 10; i++) s.readings.append(snap(i, T0 + i * 1000, i), T0 + i * 1000);
    expect(rows()).toBe(11);
    s.readings.append(snap(11, T0 + 11_000, 11), T0 + 11_000);
    expect(rows()).toBe(11);
    s = open();
    expect(s.readings.since(0).map((r) => r.cycle)).toEqual([...Array(12).keys()]);
  });

  it.each([0, 10_000])(
    'keeps the snapshots of a transaction that rolled back, and the aggregates right (flush every %i ms)',
    (readingsFlushMs) => {
      const s = open({ readingsFlushMs });
      s.readings.append(snap(1, T0, 1), T0);
      expect(() =>
        s.transaction(() => {
          s.readings.append(snap(2, T0 + H, 2), T0 + H);
          throw new Error('cycle failed');
        }),
      ).toThrow('cycle failed');
      expect(s.db.prepare('SELECT count(*) AS n FROM readings WHERE ts > ?').get(T0)).toEqual({ n: 0 });
      s.readings.append(snap(3, T0 + 2 * H, 3), T0 + 2 * H);
      expect(s.readings.since(0).map((r) => r.cycle)).toEqual([1, 2, 3]);
      expect(s.readings.hourly(T0).map((a) => [a.hour, a.count, a.mean])).toEqual([
        [T0, 1, 1],
        [T0 + H, 1, 2],
        [T0 + 2 * H, 1, 3],
      ]);
    },
  );
});

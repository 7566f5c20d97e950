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
  const rows = (s: ReturnType<typeof open>) =>
    (s.db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;

  it('appends, gives the latest and lists since a time; after a restart the minute rows serve', () => {
    let s = open();
    expect(s.readings.latest()).toBeUndefined();
    for (let i = 0; i < 10; i++) s.readings.append(snap(i, T0 + i * 1000, i * 100), T0 + i * 1000);
    expect(s.readings.latest()).toEqual(snap(9, T0 + 9000, 900));
    expect(s.readings.since(T0 + 3000, 4).map((r) => r.cycle)).toEqual([3, 4, 5, 6]);
    expect(s.readings.since(T0 + 8000)).toEqual([snap(8, T0 + 8000, 800), snap(9, T0 + 9000, 900)]);
    s = open();
    // The minute as one row: the mean of the good values, the rest as the minute's last cycle left them.
    const minute = {
      cycle: 9,
      ts: T0,
      quantities: {
        pvPowerW: { value: 450, quality: 'good', ts: T0 + 9000, source: 'inverter' },
        gridPowerW: snap(9, T0 + 9000, 900).quantities.gridPowerW,
        enclosureTempC: { value: null, quality: 'fault', ts: 0, source: 'temp' },
      },
    };
    expect(s.readings.latest()).toEqual(minute);
    expect(s.readings.since(0)).toEqual([minute]);
  });

  it('keeps counters at the first good value of each minute, so differences are exact', () => {
    let s = open();
    for (let i = 0; i < 120; i++) {
      s.readings.append(
        {
          cycle: i,
          ts: T0 + i * 1000,
          quantities: { gridImportWh: { value: 1000 + i, quality: 'good', ts: T0 + i * 1000, source: 'm' } },
        },
        T0 + i * 1000,
      );
    }
    s = open();
    expect(s.readings.since(0).map((r) => r.quantities.gridImportWh?.value)).toEqual([1000, 1060]);
  });

  it('writes one row a minute, and serves minutes then the last 15 minutes of cycles', () => {
    const s = open();
    const n = 2 * 3600;
    for (let i = 0; i < n; i++) s.readings.append(snap(i, T0 + i * 1000, i % 60), T0 + i * 1000);
    expect(rows(s)).toBeLessThanOrEqual(120);
    const all = s.readings.since(T0, 5000);
    const minutes = all.filter((r) => r.ts < T0 + 105 * 60_000);
    expect(minutes.map((r) => r.ts)).toEqual(Array.from({ length: 105 }, (_, i) => T0 + i * 60_000));
    expect(minutes.every((r) => r.quantities.pvPowerW?.value === 29.5)).toBe(true);
    const cycles = all.slice(105);
    expect(cycles).toHaveLength(900);
    expect(cycles[0]?.ts).toBe(T0 + 105 * 60_000);
    expect(cycles.at(-1)).toEqual(snap(n - 1, T0 + (n - 1) * 1000, (n - 1) % 60));
    // Paging by ts walks the same sequence.
    const paged: number[] = [];
    for (let cursor = T0; ; ) {
      const page = s.readings.since(cursor, 100);
      paged.push(...page.map((r) => r.ts));
      if (page.length < 100) break;
      cursor = (page.at(-1)?.ts ?? 0) + 1;
    }
    expect(paged).toEqual(all.map((r) => r.ts));
  });

  it('aggregates every good cycle per hour and keeps the aggregates through prune', () => {
    const s = open();
    // 2.5 hours at 1 Hz: pvPowerW goes 0..3599 in each hour; gridPowerW is stale and must not count.
    const n = 2.5 * 3600;
    s.transaction(() => {
      for (let i = 0; i < n; i++) s.readings.append(snap(i, T0 + i * 1000, i % 3600), T0 + i * 1000);
    });
    const before = s.readings.hourly(T0);
    expect(before).toEqual([
      { hour: T0, quantity: 'pvPowerW', count: 3600, mean: 1799.5, min: 0, max: 3599, partial: false },
      { hour: T0 + H, quantity: 'pvPowerW', count: 3600, mean: 1799.5, min: 0, max: 3599, partial: false },
      { hour: T0 + 2 * H, quantity: 'pvPowerW', count: 1800, mean: 899.5, min: 0, max: 1799, partial: true },
    ]);
    expect(s.readings.hourly(T0 + H + 1234).map((a) => a.hour)).toEqual([T0 + H, T0 + 2 * H]);

    s.readings.flush();
    const deleted = s.readings.prune(T0 + 2 * H + 600_000);
    expect(deleted).toBe(130);
    expect(s.readings.since(0, 1)[0]?.ts).toBe(T0 + 2 * H + 600_000);
    expect(s.readings.hourly(T0)).toEqual(before);
    s.readings.append(snap(n, T0 + 2.5 * H, 5000), T0 + 2.5 * H);
    const last = s.readings.hourly(T0 + 2 * H)[0];
    expect(last).toMatchObject({ count: 1801, max: 5000, min: 0 });
    expect(last?.mean).toBeCloseTo((899.5 * 1800 + 5000) / 1801, 9);
  });

  it('aggregates the per-cycle rows of a database written before minute rows, once', () => {
    let s = open();
    s.db.prepare('INSERT INTO readings_hourly VALUES (?, ?, ?, ?, ?, ?)').run(T0, 'pvPowerW', 5, 10, 1, 20);
    for (let i = 0; i < 10; i++) {
      const r = snap(i, T0 + H + i * 1000, 100);
      s.db.prepare('INSERT INTO readings (ts, cycle, data) VALUES (?, ?, ?)').run(r.ts, i, encodeSnapshot(r));
    }
    s.meta.set('readings.rolledUpTo', String(T0 + H));
    s = open();
    expect(s.meta.get('readings.rolledUpTo')).toBeUndefined();
    expect(s.readings.hourly(T0).map((a) => [a.hour, a.count, a.mean])).toEqual([
      [T0, 5, 10],
      [T0 + H, 10, 100],
    ]);
    s = open();
    expect(s.readings.hourly(T0 + H)[0]?.count).toBe(10);
  });

  it('merges a row that arrives late for an hour already rolled up (clock stepped back)', () => {
    const s = open();
    s.readings.append(snap(1, T0 + 10, 100), T0);
    s.readings.append(snap(2, T0 + H + 10, 300), T0 + H);
    s.readings.append(snap(3, T0 + 20, 200), T0 + H);
    expect(s.readings.hourly(T0)[0]).toMatchObject({ hour: T0, count: 2, mean: 150, min: 100, max: 200 });
    expect(s.readings.latest()?.cycle).toBe(2);
  });

  it('buffers in memory when asked, serves the buffer without writing it, and writes it on close', () => {
    let s = open({ readingsFlushMs: 10_000 });
    for (let i = 0; i < 5; i++) s.readings.append(snap(i, T0 + i * 1000, i), T0 + i * 1000);
    expect(rows(s)).toBe(0);
    expect(s.readings.latest()?.cycle).toBe(4);
    // Readers see the buffer without writing it: a page open on the chart costs no commits.
    expect(s.readings.since(T0 + 2000).map((r) => r.cycle)).toEqual([2, 3, 4]);
    expect(s.readings.hourly(T0)).toMatchObject([{ hour: T0, quantity: 'pvPowerW', count: 5, mean: 2 }]);
    expect(rows(s)).toBe(0);
    for (let i = 5; i <= 10; i++) s.readings.append(snap(i, T0 + i * 1000, i), T0 + i * 1000);
    expect(rows(s)).toBe(1);
    s.readings.append(snap(11, T0 + 11_000, 11), T0 + 11_000);
    s = open();
    expect(s.readings.since(0).map((r) => [r.cycle, r.quantities.pvPowerW?.value])).toEqual([[11, 5.5]]);
    expect(s.readings.hourly(T0)[0]?.count).toBe(12);
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

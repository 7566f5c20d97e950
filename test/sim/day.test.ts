import { afterEach, describe, expect, it } from 'vitest';
import { type SimTruth, type Simulator, startSimulator } from '../../src/sim/index.js';

const DAY0 = Date.UTC(2024, 5, 21, 0, 0, 0);
const H = 3_600_000;

const started: Simulator[] = [];
afterEach(async () => {
  for (const sim of started.splice(0)) await sim.stop();
});

/** A simulator without any transport, on a clock the test moves by hand. */
async function model(seed: number, start = DAY0, extra: { timeScale?: number; utcOffsetMin?: number } = {}) {
  const clock = { now: start };
  const sim = await startSimulator({ seed, clock: () => clock.now, utcOffsetMin: 0, ...extra });
  started.push(sim);
  return { sim, clock };
}

describe('the simulated day', () => {
  it('is the same for the same seed and clock, however often it is read', async () => {
    const a = await model(7);
    const b = await model(7);
    const c = await model(8);
    const seenA: SimTruth[] = [];
    const seenC: SimTruth[] = [];
    for (let t = DAY0; t <= DAY0 + 24 * H; t += 7 * 60_000) {
      a.clock.now = t;
      c.clock.now = t;
      seenA.push(a.sim.truth());
      seenC.push(c.sim.truth());
    }
    // b is read only once, at the end: its counters must still match a's, integrated step by step.
    b.clock.now = DAY0 + 24 * H - ((24 * H) % (7 * 60_000));
    expect(b.sim.truth()).toEqual(seenA.at(-1));
    expect(seenC).not.toEqual(seenA);
    const again = await model(7);
    again.clock.now = DAY0 + 12 * H;
    a.clock.now = DAY0 + 12 * H;
    expect(again.sim.truth().pvPowerW).toBe(a.sim.truth().pvPowerW);
  });

  it('has PV only between sunrise and sunset, positive at noon, and grid = load - pv', async () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const { sim, clock } = await model(seed, DAY0 + seed * 24 * H);
      const base = clock.now;
      let maxLoad = 0;
      let minLoad = Number.POSITIVE_INFINITY;
      for (let t = base; t < base + 24 * H; t += 60_000) {
        clock.now = t;
        const truth = sim.truth();
        const hour = (t - base) / H;
        if (hour <= 6 || hour >= 20) expect(truth.pvPowerW, `seed ${seed} at ${hour} h`).toBe(0);
        if (hour >= 11 && hour <= 14)
          expect(truth.pvPowerW, `seed ${seed} at ${hour} h`).toBeGreaterThan(500);
        expect(truth.pvPowerW).toBeLessThanOrEqual(5000);
        expect(truth.gridPowerW).toBe(truth.loadPowerW - truth.pvPowerW);
        expect(Math.abs(truth.gridVoltageV - 230)).toBeLessThan(6);
        expect(Math.abs(truth.gridFrequencyHz - 50)).toBeLessThan(0.1);
        maxLoad = Math.max(maxLoad, truth.loadPowerW);
        minLoad = Math.min(minLoad, truth.loadPowerW);
      }
      // A base load at night and appliance spikes on top.
      expect(minLoad).toBeGreaterThanOrEqual(50);
      expect(minLoad).toBeLessThan(500);
      expect(maxLoad).toBeGreaterThan(1200);
    }
  });

  it('places the sun by the local time offset', async () => {
    const utc = await model(3, DAY0 + 19.5 * H);
    const east = await model(3, DAY0 + 19.5 * H, { utcOffsetMin: 120 });
    expect(utc.sim.truth().pvPowerW).toBeGreaterThan(0);
    expect(east.sim.truth().pvPowerW).toBe(0);
  });

  it('keeps counters monotonic: PV energy by day, import at night', async () => {
    const { sim, clock } = await model(5);
    let prev = sim.truth();
    const start = prev;
    let nightImport = 0;
    for (let t = DAY0 + 600_000; t <= DAY0 + 24 * H; t += 600_000) {
      clock.now = t;
      const now = sim.truth();
      expect(now.pvEnergyWh).toBeGreaterThanOrEqual(prev.pvEnergyWh);
      expect(now.gridImportWh).toBeGreaterThanOrEqual(prev.gridImportWh);
      expect(now.gridExportWh).toBeGreaterThanOrEqual(prev.gridExportWh);
      const hour = (t - DAY0) / H;
      if (hour <= 6) {
        expect(now.pvEnergyWh).toBe(prev.pvEnergyWh);
        nightImport += now.gridImportWh - prev.gridImportWh;
      }
      prev = now;
    }
    expect(nightImport).toBeGreaterThan(6 * 100);
    // A clear-ish June day on 5 kWp: some kWh, not more than the array could give.
    const pvDay = prev.pvEnergyWh - start.pvEnergyWh;
    expect(pvDay).toBeGreaterThan(5000);
    expect(pvDay).toBeLessThan(5 * 0.8 * 14 * 1000);
    expect(prev.gridExportWh).toBeGreaterThan(start.gridExportWh);
  });

  it('integrates pinned power exactly into the counters', async () => {
    const { sim, clock } = await model(9, DAY0 + 12 * H);
    sim.pin({ pvPowerW: 3000, loadPowerW: 1000 });
    const before = sim.truth();
    expect(before.pvPowerW).toBe(3000);
    expect(before.loadPowerW).toBe(1000);
    expect(before.gridPowerW).toBe(-2000);
    clock.now += H;
    const after = sim.truth();
    expect(after.gridPowerW).toBe(-2000);
    expect(after.pvEnergyWh - before.pvEnergyWh).toBeGreaterThanOrEqual(2999);
    expect(after.pvEnergyWh - before.pvEnergyWh).toBeLessThanOrEqual(3000);
    // The meter counts in float32 kWh: one unit in the last place is about 1 Wh at these totals.
    expect(Math.abs(after.gridExportWh - before.gridExportWh - 2000)).toBeLessThanOrEqual(2);
    expect(after.gridImportWh).toBe(before.gridImportWh);
    sim.unpin();
    clock.now = DAY0 + 2 * H + 24 * H;
    expect(sim.truth().pvPowerW).toBe(0);
  });

  it('runs simulated time faster by the time scale', async () => {
    const { sim, clock } = await model(4, DAY0 + 3 * H, { timeScale: 60 });
    const simStart = sim.simTimeMs();
    expect(sim.truth().pvPowerW).toBe(0);
    clock.now += 9 * 60_000; // nine real minutes: nine simulated hours, now at noon
    expect(sim.simTimeMs() - simStart).toBe(9 * H);
    expect(sim.truth().pvPowerW).toBeGreaterThan(0);
    expect(sim.exportLimitPct()).toBeNull();
  });
});

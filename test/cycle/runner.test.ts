import { afterEach, describe, expect, it } from 'vitest';
import { sleepOn } from '../../src/core/clock.js';
import type { QuantityValues } from '../../src/core/quantities.js';
import { CycleRunner } from '../../src/cycle/runner.js';
import { type Device, type DeviceHealth, newHealth } from '../../src/devices/device.js';
import { silentLogger } from '../../src/log/logger.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** A scripted device: the cycle's logic is what is under test here, not a driver. */
class ScriptedDevice implements Device {
  readonly profileId = 'scripted';
  private readonly h: DeviceHealth;
  reads = 0;
  constructor(
    readonly id: string,
    readonly quantities: Device['quantities'],
    public behaviour: () => Promise<QuantityValues>,
  ) {
    this.h = newHealth(id, 'scripted', 'memory');
  }
  async start() {}
  async stop() {}
  health() {
    return this.h;
  }
  async read() {
    this.reads++;
    try {
      const v = await this.behaviour();
      this.h.state = 'ok';
      this.h.consecutiveFailures = 0;
      return v;
    } catch (err) {
      this.h.consecutiveFailures++;
      if (this.h.consecutiveFailures >= 3) this.h.state = 'fault';
      throw err;
    }
  }
}

const never = () => new Promise<QuantityValues>(() => undefined);
let runner: CycleRunner | undefined;
afterEach(async () => {
  await runner?.stop();
  runner = undefined;
});

describe('cycle', () => {
  it('freezes canonical quantities with quality and derives loadPowerW = pv + grid', async () => {
    const inverter = new ScriptedDevice('inverter', ['pvPowerW'], async () => ({ pvPowerW: 3000 }));
    const meter = new ScriptedDevice('meter', ['gridPowerW'], async () => ({ gridPowerW: -1800 }));
    runner = new CycleRunner({ devices: [inverter, meter], cycleMs: 1000, log: silentLogger(), sinks: [] });
    const snap = await runner.runOnce();
    expect(snap.quantities.pvPowerW).toMatchObject({ value: 3000, quality: 'good', source: 'inverter' });
    expect(snap.quantities.gridPowerW).toMatchObject({ value: -1800, quality: 'good' });
    expect(snap.quantities.loadPowerW).toMatchObject({ value: 1200, quality: 'good', source: 'derived' });
  });

  it('turns values stale after max age and fault once the device faults; load is never derived from a fault', async () => {
    const clock = new ManualClock();
    let fail = false;
    const meter = new ScriptedDevice('meter', ['gridPowerW'], async () => {
      if (fail) throw new Error('timeout');
      return { gridPowerW: 500 };
    });
    const inverter = new ScriptedDevice('inverter', ['pvPowerW'], async () => ({ pvPowerW: 100 }));
    runner = new CycleRunner({
      devices: [inverter, meter],
      cycleMs: 1000,
      log: silentLogger(),
      sinks: [],
      clock,
      maxAgeMs: () => 2500,
    });
    await runner.runOnce();
    fail = true;
    const qualities: string[] = [];
    for (let i = 0; i < 4; i++) {
      await clock.advance(1000);
      const s = await runner.runOnce();
      qualities.push(s.quantities.gridPowerW?.quality ?? 'missing');
      if (i === 3) expect(s.quantities.loadPowerW?.quality).toBe('fault');
    }
    // age 1000, 2000 good; 3000 > max age and the device faulted on its 3rd failure.
    expect(qualities).toEqual(['good', 'good', 'fault', 'fault']);
    expect(runner.latest()?.quantities.pvPowerW?.quality).toBe('good');
  });

  it('a never-answering device neither blocks the cycle nor gets a second request stacked on it', async () => {
    const silent = new ScriptedDevice('silent', ['pvPowerW'], never);
    const meter = new ScriptedDevice('meter', ['gridPowerW'], async () => ({ gridPowerW: 10 }));
    const clock = new ManualClock();
    runner = new CycleRunner({
      devices: [silent, meter],
      cycleMs: 100,
      log: silentLogger(),
      sinks: [],
      clock,
    });
    runner.start();
    await clock.advance(1050);
    // The cycle begun at 1000 ms waits out its read budget (80 ms) before it stops.
    const stopped = runner.stop();
    await clock.advance(100);
    await stopped;
    const stats = runner.stats();
    expect(silent.reads).toBe(1);
    // Ticks at 0, 100, … 1000 ms: eleven cycles, the silent device skipped in every one after the first.
    expect(meter.reads).toBe(11);
    expect(stats.busySkips).toBe(10);
    expect(runner.latest()?.quantities.pvPowerW?.quality).toBe('fault');
  });

  it('flags an overrun and skips the missed ticks instead of stacking cycles', async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    const slow = new ScriptedDevice('slow', ['gridPowerW'], async () => ({ gridPowerW: 1 }));
    const clock = new ManualClock();
    runner = new CycleRunner({
      devices: [slow],
      cycleMs: 50,
      clock,
      log: silentLogger(),
      sinks: [
        {
          name: 'slow-sink',
          accept: async () => {
            concurrent++;
            maxConcurrent = Math.max(maxConcurrent, concurrent);
            await sleepOn(clock, 130);
            concurrent--;
          },
        },
      ],
    });
    runner.start();
    await clock.advance(700);
    const stopped = runner.stop();
    await clock.advance(200);
    await stopped;
    const stats = runner.stats();
    expect(maxConcurrent).toBe(1);
    // Cycles start at 0, 150, 300, 450, 600 ms (each takes 130 ms on a 50 ms grid): every one overruns
    // and skips the two ticks it covered.
    expect(stats.overruns).toBe(5);
    expect(stats.skippedTicks).toBe(10);
  });

  it('a failing sink is counted and reported but does not stop the cycle; progress only when sinks succeed', async () => {
    const meter = new ScriptedDevice('meter', ['gridPowerW'], async () => ({ gridPowerW: 1 }));
    let broken = true;
    runner = new CycleRunner({
      devices: [meter],
      cycleMs: 1000,
      log: silentLogger(),
      sinks: [
        {
          name: 'store',
          accept: () => {
            if (broken) throw new Error('SQLITE_FULL');
          },
        },
      ],
    });
    await runner.runOnce();
    expect(runner.stats()).toMatchObject({ sinkErrors: 1, lastProgressTs: null });
    expect(runner.stats().lastSinkError).toContain('SQLITE_FULL');
    broken = false;
    await runner.runOnce();
    expect(runner.stats().lastProgressTs).not.toBeNull();
  });
});

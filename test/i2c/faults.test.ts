import { afterEach, describe, expect, it } from 'vitest';
import type { FakeI2cBus } from '../../src/devices/i2c/fake-bus.js';
import { FakeIna219, FakeTmp102 } from '../../src/devices/i2c/fake-chips.js';
import { createI2cBusRegistry, type I2cBusRegistry } from '../../src/devices/i2c/registry.js';
import { ina219, manualClock, tmp102 } from './helpers.js';

let registry: I2cBusRegistry;
afterEach(async () => {
  await registry.closeAll();
});

function bench(latencyMs = 0) {
  registry = createI2cBusRegistry({ simulated: true, retryDelayMs: 1, simulatedLatencyMs: latencyMs });
  const fake = registry.simulator(1) as FakeI2cBus;
  const shunt = new FakeIna219({ currentA: 1, busVoltageV: 12 });
  const temp = new FakeTmp102({ temperatureC: 30 });
  fake.attach(0x40, shunt);
  fake.attach(0x48, temp);
  return { fake, shunt, temp };
}

describe('an unplugged sensor', () => {
  it('start() does not throw; the device is in fault and the other sensor on the bus still reads', async () => {
    const { fake } = bench();
    fake.unplug(0x40);
    const shunt = ina219(registry);
    const temp = tmp102(registry);
    await expect(shunt.start()).resolves.toBeUndefined();
    await temp.start();
    const h = shunt.health();
    expect(h).toMatchObject({ id: 'dc-shunt', profile: 'ina219', transport: 'i2c-1 0x40', state: 'fault' });
    expect(h.lastError).toMatch(
      /i2c-1 0x40: i2c-1 0x40 write 0x00: no acknowledge after 3 attempts \(EREMOTEIO\)/,
    );
    // The first init write was tried three times (1 + 2 retries), nothing after it.
    expect(fake.accesses(0x40)).toBe(3);
    await expect(shunt.read()).rejects.toThrow(/no acknowledge/);
    expect(await temp.read()).toEqual({ enclosureTempC: 30 });
    expect(temp.health()).toMatchObject({ state: 'ok', consecutiveFailures: 0, failures: 0 });
  });

  it('backs off after repeated failures, retries after the pause, and recovers when plugged back', async () => {
    const { fake, shunt: chip } = bench();
    const clock = manualClock();
    fake.unplug(0x40);
    const dev = ina219(registry, {}, { now: clock.now });
    await dev.start(); // failure 1
    await expect(dev.read()).rejects.toThrow(/no acknowledge/); // 2
    await expect(dev.read()).rejects.toThrow(/no acknowledge/); // 3: the breaker opens for 1 s
    expect(dev.health()).toMatchObject({
      state: 'fault',
      consecutiveFailures: 3,
      breaker: 'open',
      failures: 3,
    });
    const touched = fake.accesses(0x40);
    await expect(dev.read()).rejects.toThrow(/backing off after 3 failures, next try in 1000 ms/);
    clock.advance(999);
    await expect(dev.read()).rejects.toThrow(/backing off/);
    expect(fake.accesses(0x40)).toBe(touched); // the bus was left alone

    clock.advance(1);
    expect(dev.health().breaker).toBe('half-open');
    await expect(dev.read()).rejects.toThrow(/no acknowledge/); // 4: the pause doubles to 2 s
    expect(fake.accesses(0x40)).toBe(touched + 3);
    clock.advance(1999);
    await expect(dev.read()).rejects.toThrow(/next try in 1 ms/);

    fake.plug(0x40); // power-on registers: calibration 0
    expect(chip.registers().calibration).toBe(0);
    clock.advance(1);
    expect(await dev.read()).toEqual({ dcVoltageV: 12, dcCurrentA: 1 });
    expect(chip.registers().calibration).toBe(4194); // re-initialised before reading
    expect(dev.health()).toMatchObject({
      state: 'ok',
      consecutiveFailures: 0,
      breaker: 'closed',
      lastError: null,
      lastSuccessTs: clock.now(),
      failures: 4,
    });
  });

  it('the pause is capped', async () => {
    const { fake } = bench();
    const clock = manualClock();
    fake.unplug(0x48);
    const dev = tmp102(registry, {}, { now: clock.now });
    await dev.start();
    // Reads of an unplugged chip fail by design: the backoff they build up is what is checked.
    for (let i = 0; i < 12; i++) {
      await dev.read().catch(() => undefined);
      clock.advance(60_000);
    }
    await dev.read().catch(() => undefined);
    await expect(dev.read()).rejects.toThrow(/next try in 60000 ms/);
  });
});

describe('a flaky sensor', () => {
  it('every 3rd access NACKs: the bus retries and every reading is good', async () => {
    const { fake } = bench();
    const dev = ina219(registry);
    await dev.start();
    fake.setFlaky(0x40, 3);
    for (let i = 0; i < 10; i++) expect(await dev.read()).toEqual({ dcVoltageV: 12, dcCurrentA: 1 });
    expect(dev.health()).toMatchObject({ state: 'ok', failures: 0, reads: 10 });
    expect(registry.bus(1).stats().retries).toBeGreaterThanOrEqual(6);
    expect(fake.nacks(0x40)).toBe(registry.bus(1).stats().retries);
  });

  it('a burst of NACKs longer than the retries faults one read; the next read recovers', async () => {
    const { fake } = bench();
    const dev = ina219(registry);
    await dev.start();
    fake.unplug(0x40);
    await expect(dev.read()).rejects.toThrow(/no acknowledge after 3 attempts/);
    fake.plug(0x40);
    expect(await dev.read()).toEqual({ dcVoltageV: 12, dcCurrentA: 1 });
    expect(dev.health()).toMatchObject({ state: 'ok', reads: 2, failures: 1 });
  });
});

describe('one bus, many devices', () => {
  it('concurrent reads from both sensors are serialized on the wire', async () => {
    const { fake } = bench(1);
    const shunt = ina219(registry);
    const temp = tmp102(registry);
    await Promise.all([shunt.start(), temp.start()]);
    const results = await Promise.all(Array.from({ length: 10 }, () => [shunt.read(), temp.read()]).flat());
    expect(results.filter((r) => 'enclosureTempC' in r)).toHaveLength(10);
    expect(fake.peakConcurrency).toBe(1);
  });

  it('both devices share the registry’s single bus for i2c-1', () => {
    bench();
    expect(registry.bus(1)).toBe(registry.bus(1));
    expect(registry.bus(2)).not.toBe(registry.bus(1));
  });

  it('a stopped device refuses to read', async () => {
    bench();
    const dev = tmp102(registry);
    await dev.start();
    await dev.stop();
    await expect(dev.read()).rejects.toThrow(/stopped/);
  });
});

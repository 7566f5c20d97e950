import { afterEach, describe, expect, it } from 'vitest';
import { createI2cDevice } from '../../src/devices/i2c/device.js';
import type { FakeI2cBus } from '../../src/devices/i2c/fake-bus.js';
import { FakeIna219 } from '../../src/devices/i2c/fake-chips.js';
import { createI2cBusRegistry, type I2cBusRegistry } from '../../src/devices/i2c/registry.js';
import { ProfileError } from '../../src/devices/profile-error.js';
import type { ProfileFile } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';
import { deviceConfig, ina219, profile } from './helpers.js';

let registry: I2cBusRegistry;
afterEach(async () => {
  await registry.closeAll();
});

function bench(truth: { currentA?: number; busVoltageV?: number; shuntOhms?: number } = {}) {
  registry = createI2cBusRegistry({ simulated: true, retryDelayMs: 1 });
  const fake = registry.simulator(1) as FakeI2cBus;
  const chip = new FakeIna219({ shuntOhms: truth.shuntOhms ?? 0.1, ...truth });
  fake.attach(0x40, chip);
  return { fake, chip };
}

describe('INA219 conversion', () => {
  it('reads bus voltage (bits 15..3, 4 mV) and current from the shunt voltage (10 µV / shuntOhms)', async () => {
    bench({ currentA: 1.5, busVoltageV: 12.0 });
    const dev = ina219(registry);
    await dev.start();
    expect(dev.health().state).toBe('ok');
    expect(await dev.read()).toEqual({ dcVoltageV: 12, dcCurrentA: 1.5 });
    expect(dev.quantities).toEqual(['dcVoltageV', 'dcCurrentA']);
  });

  it('reads a negative current (charging: shunt voltage below zero, two’s complement)', async () => {
    const { chip } = bench({ currentA: -2.25, busVoltageV: 13.8 });
    const dev = ina219(registry);
    await dev.start();
    expect(await dev.read()).toEqual({ dcVoltageV: 13.8, dcCurrentA: -2.25 });
    chip.set({ currentA: -0.0001 });
    expect((await dev.read()).dcCurrentA).toBe(-0.0001);
  });

  it('resolves to the chip’s LSBs: 10 µV over 0.01 Ω is 1 mA, 4 mV steps on the bus', async () => {
    bench({ currentA: 12.345, busVoltageV: 25.123, shuntOhms: 0.01 });
    const dev = ina219(registry, { shuntOhms: 0.01 });
    await dev.start();
    const v = await dev.read();
    expect(v.dcCurrentA).toBe(12.345);
    expect(v.dcVoltageV).toBe(25.124);
  });

  it('writes the configuration and a calibration computed from shuntOhms and maxCurrentA', async () => {
    const { chip } = bench({ busVoltageV: 5 });
    const dev = ina219(registry);
    await dev.start();
    // Default maxCurrentA = 0.32 V / 0.1 Ω = 3.2 A: trunc(0.04096 / (3.2/32768 × 0.1)) = 4194.
    expect(chip.registers()).toEqual({ config: 0x399f, calibration: 4194 });
    await registry.closeAll();

    const second = bench({ busVoltageV: 5 });
    const dev2 = ina219(registry, { maxCurrentA: 2 });
    await dev2.start();
    // trunc(0.04096 / (2/32768 × 0.1)) = 6710.
    expect(second.chip.registers().calibration).toBe(6710);
  });

  it('a wrong calibration in the chip cannot skew the current', async () => {
    const { fake, chip } = bench({ currentA: 0.8, busVoltageV: 12 });
    const dev = ina219(registry);
    await dev.start();
    // Someone (or a glitch) rewrites the calibration register behind the driver's back.
    fake.chip<FakeIna219>(0x40).write(0x05, [0x00, 0x10]);
    expect(chip.registers().calibration).toBe(0x10);
    expect(await dev.read()).toEqual({ dcVoltageV: 12, dcCurrentA: 0.8 });
  });

  it('OVF (current beyond maxCurrentA) fails the read instead of returning a number', async () => {
    const { chip } = bench({ currentA: 0.5, busVoltageV: 12 });
    const dev = ina219(registry, { maxCurrentA: 1 });
    await dev.start();
    expect((await dev.read()).dcCurrentA).toBe(0.5);
    chip.set({ currentA: 2 });
    await expect(dev.read()).rejects.toThrow(/i2c-1 0x40: .*OVF/);
    expect(dev.health().state).toBe('fault');
    chip.set({ currentA: 0.5 });
    expect((await dev.read()).dcCurrentA).toBe(0.5);
    expect(dev.health().state).toBe('ok');
  });

  it('a shunt voltage on the rail (clipped by the PGA) is not reported as a current', async () => {
    const { chip } = bench({ currentA: 1, busVoltageV: 12 });
    const dev = ina219(registry);
    await dev.start();
    chip.set({ currentA: 5 }); // 0.5 V across 0.1 Ω: beyond ±320 mV
    await expect(dev.read()).rejects.toThrow(
      /shuntVoltage \(0x01\) = 0x7d00: 32000 counts is outside -31999\.\.31999/,
    );
  });

  it('CNVR clear (no completed conversion) fails the read', async () => {
    registry = createI2cBusRegistry({ simulated: true });
    registry.simulator(1)!.attach(0x40, new FakeIna219({ busVoltageV: 12, conversionMs: 60_000 }));
    const dev = ina219(registry);
    await dev.start();
    await expect(dev.read()).rejects.toThrow(/CNVR clear/);
  });

  it('garbage on the bus (all ones) fails the start verification, not a reading of 0xFFFF', async () => {
    const { fake } = bench({ currentA: 1, busVoltageV: 12 });
    fake.setGarbage(0x40);
    const dev = ina219(registry);
    await dev.start();
    expect(dev.health().state).toBe('fault');
    expect(dev.health().lastError).toMatch(/reads back 0xffff after writing 0x399f/);
    await expect(dev.read()).rejects.toThrow(/reads back 0xffff/);
    fake.setGarbage(0x40, null);
    expect(await dev.read()).toEqual({ dcVoltageV: 12, dcCurrentA: 1 });
  });

  it('a profile that forgets the byte swap would fail loudly on this chip', async () => {
    bench({ currentA: 1.5, busVoltageV: 12 });
    const p = profile('ina219');
    const littleEndian: ProfileFile = { ...p, body: { ...p.body, byteOrder: 'le' } };
    const dev = createI2cDevice(
      deviceConfig({ id: 'x', profile: 'ina219', i2c: { bus: 1, address: 0x40, shuntOhms: 0.1 } }),
      littleEndian,
      { i2c: registry, log: silentLogger() },
    );
    await dev.start();
    expect(dev.health().state).toBe('fault');
    expect(dev.health().lastError).toMatch(/reads back 0x9f39 after writing 0x399f/);
  });
});

describe('INA219 config errors name the key to fix', () => {
  it('needs shuntOhms', () => {
    registry = createI2cBusRegistry({ simulated: true });
    const cfg = deviceConfig({ id: 'dc-shunt', profile: 'ina219', i2c: { bus: 1, address: 0x40 } });
    expect(() => createI2cDevice(cfg, profile('ina219'), { i2c: registry, log: silentLogger() })).toThrow(
      /device "dc-shunt": i2c\.shuntOhms is required by profile ina219 \(.*ina219\.yaml\)/,
    );
  });

  it('rejects a calibration that does not fit the register', () => {
    registry = createI2cBusRegistry({ simulated: true });
    expect(() => ina219(registry, { shuntOhms: 0.0001, maxCurrentA: 0.001 })).toThrow(ProfileError);
    expect(() => ina219(registry, { shuntOhms: 0.0001, maxCurrentA: 0.001 })).toThrow(/i2c\.maxCurrentA/);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { FakeI2cBus } from '../../src/devices/i2c/fake-bus.js';
import { FakeTmp102 } from '../../src/devices/i2c/fake-chips.js';
import { createI2cBusRegistry, type I2cBusRegistry } from '../../src/devices/i2c/registry.js';
import { tmp102 } from './helpers.js';

let registry: I2cBusRegistry;
afterEach(async () => {
  await registry.closeAll();
});

function bench(temperatureC: number) {
  registry = createI2cBusRegistry({ simulated: true, retryDelayMs: 1 });
  const fake = registry.simulator(1) as FakeI2cBus;
  const chip = new FakeTmp102({ temperatureC });
  fake.attach(0x48, chip);
  return { fake, chip };
}

describe('TMP102 conversion (12-bit two’s complement, 0.0625 °C)', () => {
  it.each([
    [25, 25],
    [31.5, 31.5],
    [0.0625, 0.0625],
    [0, 0],
    [-0.0625, -0.0625],
    [-25, -25],
    [-40.125, -40.125],
    [127.9375, 127.9375],
    [-55, -55],
    [21.03, 21], // rounded by the chip to its resolution
  ])('%s °C reads as %s', async (truth, expected) => {
    bench(truth);
    const dev = tmp102(registry);
    await dev.start();
    expect(await dev.read()).toEqual({ enclosureTempC: expected });
  });

  it('puts a sensor left in extended (13-bit) mode back into normal mode at start', async () => {
    const { chip } = bench(-12.5);
    chip.write(0x01, [0x60, 0xb0]); // EM bit set by someone else
    expect(chip.read(0x00, 2)[1]! & 0x01).toBe(1);
    const dev = tmp102(registry);
    await dev.start();
    expect(await dev.read()).toEqual({ enclosureTempC: -12.5 });
  });

  it('garbage (all ones would be −0.0625 °C) is caught by the always-zero low bits', async () => {
    const { fake } = bench(22);
    const dev = tmp102(registry);
    await dev.start();
    fake.setGarbage(0x48, 0xffff);
    await expect(dev.read()).rejects.toThrow(/temperature \(0x00\) = 0xffff: bits 0x000f should be 0/);
    expect(dev.health().state).toBe('fault');
    fake.setGarbage(0x48, null);
    expect(await dev.read()).toEqual({ enclosureTempC: 22 });
  });
});

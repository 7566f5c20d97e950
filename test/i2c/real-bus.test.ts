import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { I2cError } from '../../src/devices/i2c/errors.js';
import { I2cBusAdapter } from '../../src/devices/i2c/i2c-bus-adapter.js';
import { createI2cBusRegistry, type I2cBusRegistry, i2cBusPresent } from '../../src/devices/i2c/registry.js';
import { scanI2c } from '../../src/devices/i2c/scan.js';
import { SmbusI2cBus } from '../../src/devices/i2c/smbus-bus.js';
import { ina219, tmp102 } from './helpers.js';

/** A bus number no machine running these tests has. */
const ABSENT = 250;

let registry: I2cBusRegistry | undefined;
afterEach(async () => {
  await registry?.closeAll();
  registry = undefined;
});

describe('the real i2c-bus adapter on a bus that does not exist', () => {
  it('the precondition holds: /dev/i2c-250 is absent', () => {
    expect(existsSync(`/dev/i2c-${ABSENT}`)).toBe(false);
    expect(i2cBusPresent(ABSENT)).toBe(false);
  });

  it('open() probes at once and rejects with ENOENT (the native module loads, nothing crashes)', async () => {
    const adapter = new I2cBusAdapter(ABSENT);
    await expect(adapter.open()).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(adapter.readWord(0x40, 0)).rejects.toThrow(/not open/);
  });

  it('through the shared bus code it is a clean no-bus error with the fix', async () => {
    const bus = new SmbusI2cBus(ABSENT, new I2cBusAdapter(ABSENT));
    const err = await bus.readWord(0x40, 0x02, 'be').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(I2cError);
    expect(err).toMatchObject({ kind: 'no-bus', code: 'ENOENT' });
    expect((err as Error).message).toBe(
      `/dev/i2c-${ABSENT} does not exist: enable I2C (sudo raspi-config nonint do_i2c 0, or dtparam=i2c_arm=on) and reboot`,
    );
    await expect(scanI2c(bus)).rejects.toThrow(/does not exist/);
    await bus.close();
  });

  it('devices on it start in fault (no throw, no crash) and keep failing cleanly', async () => {
    registry = createI2cBusRegistry({ simulated: false });
    const shunt = ina219(registry, { bus: ABSENT });
    const temp = tmp102(registry, { bus: ABSENT });
    await shunt.start();
    await temp.start();
    for (const dev of [shunt, temp]) {
      expect(dev.health().state).toBe('fault');
      expect(dev.health().lastError).toMatch(new RegExp(`/dev/i2c-${ABSENT} does not exist`));
      await expect(dev.read()).rejects.toThrow(/does not exist/);
    }
    expect(registry.simulator(ABSENT)).toBeUndefined();
  });
});

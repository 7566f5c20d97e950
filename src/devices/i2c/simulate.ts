import type { DeviceConfig } from '../../config/schema.js';
import type { ProfileFile } from '../profiles.js';
import type { FakeI2cBus } from './fake-bus.js';
import { type FakeI2cChip, FakeIna219, FakeTmp102 } from './fake-chips.js';
import type { I2cBusRegistry } from './registry.js';

/** A simulated chip of the profile's `chip` model, with plausible readings; undefined if unknown. */
export function simulatedChip(model: string, cfg?: DeviceConfig['i2c']): FakeI2cChip | undefined {
  switch (model) {
    case 'ina219':
      return new FakeIna219({ shuntOhms: cfg?.shuntOhms ?? 0.1, currentA: 1.25, busVoltageV: 12.6 });
    case 'tmp102':
      return new FakeTmp102({ temperatureC: 31.5 });
    default:
      return undefined;
  }
}

/**
 * Places a simulated chip for every configured I2C device on the registry's simulated buses, so a
 * simulated service reads what the config describes. Returns the device ids it could not simulate.
 */
export function simulateConfiguredI2c(
  registry: I2cBusRegistry,
  devices: DeviceConfig[],
  profiles: ReadonlyMap<string, ProfileFile>,
): string[] {
  const missing: string[] = [];
  for (const device of devices) {
    if (!device.i2c) continue;
    const fake = registry.simulator(device.i2c.bus);
    const model = profiles.get(device.profile)?.body.chip;
    const chip = fake && typeof model === 'string' ? simulatedChip(model, device.i2c) : undefined;
    if (!fake || !chip) {
      missing.push(device.id);
      continue;
    }
    fake.attach(device.i2c.address, chip);
  }
  return missing;
}

/** The bench `powerdeal i2c scan --simulated` shows: an INA219 at 0x40 and a TMP102 at 0x48. */
export function seedBench(fake: FakeI2cBus): void {
  fake.attach(0x40, simulatedChip('ina219')!);
  fake.attach(0x48, simulatedChip('tmp102')!);
}

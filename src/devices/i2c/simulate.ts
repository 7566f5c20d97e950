import type { DeviceConfig } from '../../config/schema.js';
import type { ProfileFile } from '../profile-file.js';
import type { FakeI2cBus } from './fake-bus.js';
import { type FakeI2cChip, FakeIna219, FakeTmp102 } from './fake-chips.js';
import { i2cProfileOf } from './profile.js';
import type { I2cBusRegistry } from './registry.js';

/** A simulated chip of the profile's `chip` model, with plausible readings; undefined if unknown. */
function simulatedChip(model: string | undefined, cfg?: DeviceConfig['i2c']): FakeI2cChip | undefined {
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
  devices: readonly DeviceConfig[],
  profiles: ReadonlyMap<string, ProfileFile>,
): string[] {
  const missing: string[] = [];
  for (const device of devices) {
    if (!device.i2c) continue;
    const fake = registry.simulator(device.i2c.bus);
    const chip = fake && simulatedChip(chipModel(profiles.get(device.profile)), device.i2c);
    if (!fake || !chip) {
      missing.push(device.id);
      continue;
    }
    fake.attach(device.i2c.address, chip);
  }
  return missing;
}

/** The chip model of an I2C profile; undefined for a missing, broken or non-I2C one (not simulated). */
function chipModel(file: ProfileFile | undefined): string | undefined {
  if (file?.kind !== 'i2c') return undefined;
  try {
    return i2cProfileOf(file).chip;
  } catch {
    // A broken profile is reported by the config checks; its device stays unsimulated (and faulted).
    return undefined;
  }
}

/** The bench `powerdeal i2c scan --simulated` shows: an INA219 at 0x40 and a TMP102 at 0x48. */
export function seedBench(fake: FakeI2cBus): void {
  fake.attach(0x40, simulatedChip('ina219')!);
  fake.attach(0x48, simulatedChip('tmp102')!);
}

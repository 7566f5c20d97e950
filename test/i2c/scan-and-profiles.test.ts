import { afterEach, describe, expect, it } from 'vitest';
import { register } from '../../src/cli/commands/i2c.js';
import { createI2cDevice } from '../../src/devices/i2c/device.js';
import type { FakeI2cBus } from '../../src/devices/i2c/fake-bus.js';
import { parseI2cProfile } from '../../src/devices/i2c/profile.js';
import { createI2cBusRegistry, type I2cBusRegistry } from '../../src/devices/i2c/registry.js';
import { scanI2c } from '../../src/devices/i2c/scan.js';
import { seedBench, simulateConfiguredI2c } from '../../src/devices/i2c/simulate.js';
import { ProfileError } from '../../src/devices/profile-error.js';
import type { ProfileFile } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';
import { pinCliConfig } from '../helpers/cli.js';
import { devicesFromConfig, profile, profiles, runVerb } from './helpers.js';

// The verbs run in this process: a service on this machine's default socket must not answer them.
pinCliConfig();

let registry: I2cBusRegistry | undefined;
afterEach(async () => {
  await registry?.closeAll();
  registry = undefined;
});

describe('scanI2c', () => {
  it('lists the addresses that acknowledge, in order, and leaves out an unplugged chip', async () => {
    registry = createI2cBusRegistry({ simulated: true });
    const fake = registry.simulator(1) as FakeI2cBus;
    seedBench(fake);
    expect(await scanI2c(registry.bus(1))).toEqual([0x40, 0x48]);
    fake.unplug(0x48);
    expect(await scanI2c(registry.bus(1))).toEqual([0x40]);
    // Every address 0x03..0x77 was probed once per scan.
    expect(fake.accesses(0x03)).toBe(2);
    expect(fake.accesses(0x77)).toBe(2);
    expect(fake.accesses(0x02)).toBe(0);
    expect(fake.accesses(0x78)).toBe(0);
  });
});

describe('simulating the configured devices', () => {
  it('places a chip of each profile’s model at the configured address; the drivers read them', async () => {
    registry = createI2cBusRegistry({ simulated: true });
    const devices = devicesFromConfig([
      { id: 'shunt', profile: 'ina219', i2c: { bus: 1, address: 0x41, shuntOhms: 0.05 } },
      { id: 'box', profile: 'tmp102', i2c: { bus: 1, address: 0x49 } },
      { id: 'heater', profile: 'relay', gpio: { line: 17 } },
    ]);
    expect(simulateConfiguredI2c(registry, devices, profiles)).toEqual([]);
    expect(registry.simulator(1)!.addresses()).toEqual([0x41, 0x49]);
    const shunt = createI2cDevice(devices[0]!, profile('ina219'), { i2c: registry, log: silentLogger() });
    await shunt.start();
    expect(await shunt.read()).toEqual({ dcVoltageV: 12.6, dcCurrentA: 1.25 });
  });
});

describe('i2c profiles', () => {
  it('the shipped profiles parse and map the DESIGN quantities', () => {
    expect(parseI2cProfile(profile('ina219')).quantities.map((q) => q.name)).toEqual([
      'dcVoltageV',
      'dcCurrentA',
    ]);
    expect(parseI2cProfile(profile('tmp102')).quantities.map((q) => q.name)).toEqual(['enclosureTempC']);
  });

  it('errors name the file and every bad key', () => {
    const p = profile('tmp102');
    const broken: ProfileFile = {
      ...p,
      body: {
        ...p.body,
        registers: [{ name: 'temperature', register: 0x00, lsb: -1, colour: 'red' }],
        quantities: { enclosureTempC: { from: 'temprature' }, notAQuantity: { from: 'temperature' } },
      },
    };
    let message = '';
    try {
      parseI2cProfile(broken);
    } catch (err) {
      expect(err).toBeInstanceOf(ProfileError);
      message = (err as Error).message;
    }
    expect(message).toContain(`${p.file}: invalid i2c profile`);
    expect(message).toMatch(/registers\.0\.lsb: lsb is the value of one count/);
    expect(message).toMatch(/registers\.0: Unrecognized key: "colour"/);
    expect(message).toMatch(
      /quantities: Unrecognized key: "notAQuantity" \(quantities: pvPowerW, .*enclosureTempC\)/,
    );
  });

  it('a quantity from an unknown register is named with the registers that exist', () => {
    const p = profile('tmp102');
    const broken: ProfileFile = {
      ...p,
      body: { ...p.body, quantities: { enclosureTempC: { from: 'temp' } } },
    };
    expect(() => parseI2cProfile(broken)).toThrow(
      /quantities\.enclosureTempC\.from: no register named "temp" \(registers: temperature\)/,
    );
  });

  it('a non-i2c profile is refused for an I2C device', () => {
    expect(() => parseI2cProfile(profile('relay'))).toThrow(
      /kind is "gpio", an I2C device needs a kind: i2c profile/,
    );
  });
});

describe('powerdeal i2c scan', () => {
  it('without hardware: exit 1 and says what to do', async () => {
    const r = await runVerb(register, ['i2c', 'scan']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no I2C bus here: \/dev\/i2c-1 does not exist/);
    expect(r.stderr).toMatch(/raspi-config/);
    expect(r.stderr).toMatch(/--simulated/);
  });

  it('--simulated lists the bench with the profiles that fit each address', async () => {
    const r = await runVerb(register, ['i2c', 'scan', '--simulated']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/i2c-1 \(simulated\): 2 device\(s\)/);
    expect(r.stdout).toMatch(/0x40\s+ina219\n/);
    expect(r.stdout).toMatch(/0x48\s+ina219, tmp102\n/);
  });

  it('--json', async () => {
    const r = await runVerb(register, ['i2c', 'scan', '--simulated', '--json', '--bus', '3']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      bus: 3,
      simulated: true,
      devices: [
        { address: 64, hex: '0x40', candidates: ['ina219'] },
        { address: 72, hex: '0x48', candidates: ['ina219', 'tmp102'] },
      ],
    });
  });

  it('a bad --bus is a usage error (exit 2)', async () => {
    const r = await runVerb(register, ['i2c', 'scan', '--bus', 'one']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--bus must be a whole number/);
  });
});

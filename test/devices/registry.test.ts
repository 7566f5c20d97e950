import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { configSchema, type DeviceConfig } from '../../src/config/schema.js';
import { systemClock } from '../../src/core/clock.js';
import { isExportLimiter, isSwitch } from '../../src/devices/capabilities.js';
import { capabilitiesOf, FAMILIES, familyOfKind, PROFILE_KINDS } from '../../src/devices/families.js';
import { loadProfiles } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';
import { buildHardware, type Hardware } from '../../src/service/hardware.js';
import { homeYaml, problemsOf } from '../config/checks.js';

const profiles = loadProfiles();

const allFamilies = [
  { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp: '127.0.0.1:1', timeoutMs: 50 } },
  { id: 'meter', profile: 'sdm630', modbus: { tcp: '127.0.0.1:1', unitId: 2, timeoutMs: 50 } },
  { id: 'shunt', profile: 'ina219', i2c: { address: 0x40, shuntOhms: 0.1 } },
  { id: 'box', profile: 'tmp102', i2c: { address: 0x48 } },
  { id: 'heater', profile: 'relay', gpio: { line: 17 } },
];

function configOf(devices: unknown[]) {
  return configSchema.parse({ home: { id: 'home-1', zone: 'z1' }, devices });
}

function byId(devices: readonly DeviceConfig[], id: string): DeviceConfig {
  const d = devices.find((x) => x.id === id);
  if (!d) throw new Error(`no device ${id}`);
  return d;
}

let hardware: Hardware | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await hardware?.stop();
  hardware = undefined;
});

describe('the device-family registry', () => {
  it('has a complete record per family: kinds, a transport key of the config, a parser and a factory', () => {
    expect(FAMILIES.map((f) => f.name)).toEqual(['modbus', 'i2c', 'gpio']);
    const deviceKeys = Object.keys(configSchema.shape.devices.unwrap().element.shape);
    for (const family of FAMILIES) {
      expect(family.kinds.length, family.name).toBeGreaterThan(0);
      expect(deviceKeys, family.name).toContain(family.transport);
      expect(['reader', 'switch']).toContain(family.role);
      expect(typeof family.profile).toBe('function');
      expect(typeof family.capabilities).toBe('function');
      expect(typeof family.create).toBe('function');
    }
    // Every kind and every transport key belongs to exactly one family.
    expect(new Set(PROFILE_KINDS).size).toBe(PROFILE_KINDS.length);
    expect(new Set(FAMILIES.map((f) => f.transport)).size).toBe(FAMILIES.length);
  });

  it('every shipped profile has a family, which parses it once into a typed value', () => {
    for (const file of profiles.values()) {
      const family = familyOfKind(file.kind);
      expect(family, file.id).toBeDefined();
      const parsed = family?.profile(file);
      expect(parsed).toMatchObject({ id: file.id });
      expect(family?.profile(file)).toBe(parsed);
    }
  });

  it('profile loading refuses a kind no family reads, naming the kinds that exist', () => {
    const dir = mkdtempSync(join(tmpdir(), 'powerdeal-registry-'));
    try {
      writeFileSync(join(dir, 'can-bus.yaml'), 'id: can-bus\nkind: canbus\ndescription: x\n');
      expect(() => loadProfiles(dir)).toThrow(/"kind" must be modbus, sunspec, i2c or gpio/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the config checks go through the family of each profile', () => {
    const i2c = FAMILIES.find((f) => f.name === 'i2c');
    const modbus = FAMILIES.find((f) => f.name === 'modbus');
    if (!i2c?.checkDevice || !modbus?.checkAll) throw new Error('families without checks');
    const parse = vi.spyOn(i2c, 'profile');
    const checkDevice = vi
      .spyOn(i2c, 'checkDevice')
      .mockReturnValue([{ path: 'devices.0', message: 'from i2c' }]);
    const checkAll = vi.spyOn(modbus, 'checkAll');
    const text = homeYaml('devices:\n  - { id: box, profile: tmp102, i2c: { address: 0x48 } }\n');
    expect(problemsOf(text)).toEqual(['devices.0: from i2c']);
    expect(parse).toHaveBeenCalledWith(profiles.get('tmp102') ?? expect.anything());
    expect(checkDevice).toHaveBeenCalledTimes(1);
    expect(checkAll).toHaveBeenCalledTimes(1);
  });

  it('the hardware is built by the family of each profile, simulated where the family can', async () => {
    const creates = FAMILIES.map((f) => vi.spyOn(f, 'create'));
    const simulate = vi.spyOn(FAMILIES.find((f) => f.name === 'i2c')!, 'simulate');
    const config = configOf(allFamilies);
    hardware = await buildHardware({
      config,
      profiles,
      log: silentLogger(),
      clock: systemClock,
      now: systemClock.now,
      simulated: true,
      version: 'test',
    });
    expect(creates.map((c) => c.mock.calls.map(([cfg]) => cfg.id))).toEqual([
      ['inverter', 'meter'],
      ['shunt', 'box'],
      ['heater'],
    ]);
    expect(simulate).toHaveBeenCalledTimes(1);
    expect(hardware.devices.map((d) => d.id)).toEqual(['inverter', 'meter', 'shunt', 'box']);
    expect(hardware.relays.map((r) => r.id)).toEqual(['heater']);
    // The simulated I2C chips answer the drivers the family built.
    expect(await hardware.devices.find((d) => d.id === 'box')?.read()).toEqual({ enclosureTempC: 31.5 });
  });
});

describe('capabilities', () => {
  it('only a SunSpec inverter with the model 123 control is an export limiter; only a relay is a switch', async () => {
    hardware = await buildHardware({
      config: configOf(allFamilies),
      profiles,
      log: silentLogger(),
      clock: systemClock,
      now: systemClock.now,
      simulated: true,
      version: 'test',
    });
    const limiters = hardware.devices.filter((d) => isExportLimiter(d)).map((d) => d.id);
    expect(limiters).toEqual(['inverter']);
    expect(hardware.devices.filter((d) => isSwitch(d))).toEqual([]);
    expect(hardware.relays.every((r) => isSwitch(r) && !isExportLimiter(r))).toBe(true);
  });

  it('a meter has a writeExportLimit method but not the capability, and refuses the write', async () => {
    hardware = await buildHardware({
      config: configOf(allFamilies),
      profiles,
      log: silentLogger(),
      clock: systemClock,
      now: systemClock.now,
      simulated: true,
      version: 'test',
    });
    const meter = hardware.devices.find((d) => d.id === 'meter');
    if (!meter) throw new Error('no meter');
    expect('writeExportLimit' in meter).toBe(true);
    expect(isExportLimiter(meter)).toBe(false);
    await expect(
      (meter as unknown as { writeExportLimit(p: number): Promise<void> }).writeExportLimit(50),
    ).rejects.toThrow(/maps no SunSpec export limit control/);
  });

  it('capabilitiesOf reads the profile through its family; a device on the wrong transport has none', () => {
    const config = configOf([
      ...allFamilies,
      { id: 'odd', profile: 'sunspec-inverter', i2c: { address: 0x41 } },
    ]);
    expect(capabilitiesOf(byId(config.devices, 'inverter'), profiles)).toEqual(['export-limit']);
    expect(capabilitiesOf(byId(config.devices, 'meter'), profiles)).toEqual([]);
    expect(capabilitiesOf(byId(config.devices, 'heater'), profiles)).toEqual(['switch']);
    expect(capabilitiesOf(byId(config.devices, 'odd'), profiles)).toEqual([]);
  });
});

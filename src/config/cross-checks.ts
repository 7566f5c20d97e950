import { accessSync, constants } from 'node:fs';
import { parseGpioProfile } from '../devices/gpio/profile.js';
import { parseI2cProfile } from '../devices/i2c/profile.js';
import { parseRegisterProfile } from '../devices/modbus/profile-schema.js';
import { busAddress } from '../devices/modbus/transport.js';
import type { ProfileFile, ProfileKind } from '../devices/profiles.js';
import type { ConfigProblem, CrossCheck } from './load.js';
import type { Config, DeviceConfig, ModbusConfig } from './schema.js';

const TRANSPORT_FOR_KIND: Record<ProfileKind, 'modbus' | 'i2c' | 'gpio'> = {
  modbus: 'modbus',
  sunspec: 'modbus',
  i2c: 'i2c',
  gpio: 'gpio',
};

function transportOf(d: DeviceConfig): 'modbus' | 'i2c' | 'gpio' | undefined {
  return d.modbus ? 'modbus' : d.i2c ? 'i2c' : d.gpio ? 'gpio' : undefined;
}

/** Each family's validator of a profile body: a broken profile file is a config problem too. */
const PROFILE_VALIDATORS: Record<ProfileKind, (p: ProfileFile) => unknown> = {
  modbus: parseRegisterProfile,
  sunspec: parseRegisterProfile,
  i2c: parseI2cProfile,
  gpio: parseGpioProfile,
};

/** Whole-file checks: unique ids, known profiles that suit the transport, consistent shared buses. */
export function crossChecks(profiles: ReadonlyMap<string, ProfileFile>): CrossCheck[] {
  return [uniqueIds, (c) => profileChecks(c, profiles), sharedBusChecks, secretFileChecks];
}

function uniqueIds(config: Config): ConfigProblem[] {
  const seen = new Map<string, number>();
  const problems: ConfigProblem[] = [];
  config.devices.forEach((d, i) => {
    const first = seen.get(d.id);
    if (first !== undefined) {
      problems.push({
        path: `devices.${i}.id`,
        message: `"${d.id}" is already used by devices.${first}: ids must be unique`,
      });
    } else seen.set(d.id, i);
  });
  return problems;
}

function profileChecks(config: Config, profiles: ReadonlyMap<string, ProfileFile>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.devices.forEach((d, i) => {
    const profile = profiles.get(d.profile);
    if (!profile) {
      problems.push({
        path: `devices.${i}.profile`,
        message: `unknown profile "${d.profile}": use one of ${[...profiles.keys()].join(', ')} (or add hardware/profiles/${d.profile}.yaml)`,
      });
      return;
    }
    try {
      PROFILE_VALIDATORS[profile.kind](profile);
    } catch (err) {
      problems.push({
        path: `devices.${i}.profile`,
        message: `profile file is invalid: ${(err as Error).message}`,
      });
      return;
    }
    const want = TRANSPORT_FOR_KIND[profile.kind];
    const have = transportOf(d);
    if (have !== want) {
      problems.push({
        path: `devices.${i}`,
        message: `profile "${d.profile}" is a ${profile.kind} device: give it a "${want}" transport, not "${have}"`,
      });
    }
    if (d.load && profile.kind !== 'gpio') {
      problems.push({
        path: `devices.${i}.load`,
        message: 'only a relay (gpio) device switches a load: remove "load"',
      });
    }
    if (d.profile === 'ina219' && d.i2c && d.i2c.shuntOhms === undefined) {
      problems.push({
        path: `devices.${i}.i2c.shuntOhms`,
        message: 'an INA219 needs its shunt resistance, e.g. shuntOhms: 0.1',
      });
    }
  });
  return problems;
}

function sharedBusChecks(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const buses = new Map<string, { index: number; m: ModbusConfig }>();
  const units = new Map<string, number>();
  config.devices.forEach((d, i) => {
    if (!d.modbus) return;
    // The runtime's bus key: a udev symlink and the device it points at are one bus.
    const key = busAddress(d.modbus).key;
    const unitKey = `${key}#${d.modbus.unitId}`;
    const other = units.get(unitKey);
    if (other !== undefined) {
      problems.push({
        path: `devices.${i}.modbus.unitId`,
        message: `unit ${d.modbus.unitId} on ${key} is already devices.${other}: give each device on a bus its own unitId`,
      });
    } else units.set(unitKey, i);
    const first = buses.get(key);
    if (!first) {
      buses.set(key, { index: i, m: d.modbus });
      return;
    }
    if (d.modbus.rtu) {
      for (const k of ['baudRate', 'parity', 'dataBits', 'stopBits'] as const) {
        if (first.m[k] !== d.modbus[k]) {
          problems.push({
            path: `devices.${i}.modbus.${k}`,
            message: `shares ${d.modbus.rtu} with devices.${first.index} but has ${k} ${d.modbus[k]} instead of ${first.m[k]}: one serial line has one setting`,
          });
        }
      }
    }
  });
  return problems;
}

function secretFileChecks(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const key of ['passwordFile', 'caFile'] as const) {
    const file = config.mqtt?.[key];
    if (!file) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      problems.push({
        path: `mqtt.${key}`,
        message: `cannot read ${file}: create it (readable by the powerdeal user) or remove the key`,
      });
    }
  }
  return problems;
}

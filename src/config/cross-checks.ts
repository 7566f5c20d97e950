import { accessSync, constants, existsSync } from 'node:fs';
import { parseGpioProfile } from '../devices/gpio/profile.js';
import { parseI2cProfile } from '../devices/i2c/profile.js';
import { parseRegisterProfile } from '../devices/modbus/profile-schema.js';
import { busAddress } from '../devices/modbus/transport.js';
import type { ProfileFile, ProfileKind } from '../devices/profiles.js';
import { readKeyring, readPrivateKey } from '../protocol/keyring.js';
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

/**
 * Whole-file checks: unique ids, known profiles that suit the transport, consistent shared buses,
 * readable secret files, usable trading keys and a no-export device that can take the limit.
 */
export function crossChecks(profiles: ReadonlyMap<string, ProfileFile>): CrossCheck[] {
  return [
    uniqueIds,
    (c) => profileChecks(c, profiles),
    sharedBusChecks,
    secretFileChecks,
    keyFileChecks,
    (c) => noExportChecks(c, profiles),
  ];
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

/** Whether this process may read the file (a CLI verb run by another user cannot: the service checks it). */
function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The home's key and the zone keyring. A missing file only turns trading off (the service says why and
 * how to fix it); a file that exists but is broken, or a keyring of another zone, is a config error.
 */
function keyFileChecks(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { privateKeyFile, keyringFile } = config.keys;
  if (existsSync(privateKeyFile) && readable(privateKeyFile)) {
    try {
      // A key readable by others still works: the service reports that, it is no reason to refuse.
      readPrivateKey(privateKeyFile, { warn: () => undefined });
    } catch (err) {
      problems.push({ path: 'keys.privateKeyFile', message: (err as Error).message });
    }
  }
  if (existsSync(keyringFile) && readable(keyringFile)) {
    try {
      const keyring = readKeyring(keyringFile);
      if (keyring.zone !== config.home.zone) {
        problems.push({
          path: 'keys.keyringFile',
          message: `${keyringFile} is the keyring of zone "${keyring.zone}" but home.zone is "${config.home.zone}": use the keyring of zone ${config.home.zone} (or fix home.zone)`,
        });
      }
    } catch (err) {
      problems.push({ path: 'keys.keyringFile', message: (err as Error).message });
    }
  }
  return problems;
}

/** engine.noExport limits the inverter through SunSpec model 123: it must name such a device. */
function noExportChecks(config: Config, profiles: ReadonlyMap<string, ProfileFile>): ConfigProblem[] {
  const target = config.engine.noExport?.device;
  if (target === undefined) return [];
  const inverters = config.devices
    .filter((d) => d.modbus && profiles.get(d.profile)?.kind === 'sunspec')
    .map((d) => d.id);
  const hint = inverters.length
    ? `name a SunSpec inverter device (${inverters.join(', ')})`
    : 'add the inverter as a modbus device with a SunSpec profile (e.g. sunspec-inverter), or remove engine.noExport';
  const device = config.devices.find((d) => d.id === target);
  if (!device) {
    return [{ path: 'engine.noExport.device', message: `no device "${target}": ${hint}` }];
  }
  if (!inverters.includes(target)) {
    return [
      {
        path: 'engine.noExport.device',
        message: `"${target}" is not a modbus inverter with a SunSpec profile (its export limit cannot be written): ${hint}`,
      },
    ];
  }
  if (!device.enabled) {
    return [{ path: 'engine.noExport.device', message: `"${target}" is disabled: enable it or ${hint}` }];
  }
  return [];
}

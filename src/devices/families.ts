import type { ConfigProblem } from '../config/load.js';
import type { Config, DeviceConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Capability } from './capabilities.js';
import type { Device } from './device.js';
import type { GpioBackend } from './gpio/backend.js';
import { gpioProfileOf } from './gpio/profile.js';
import { createRelay, type Relay } from './gpio/relay.js';
import { createI2cDevice } from './i2c/device.js';
import { i2cProfileOf, needsShunt } from './i2c/profile.js';
import type { I2cBusRegistry } from './i2c/registry.js';
import { simulateConfiguredI2c } from './i2c/simulate.js';
import type { BusRegistry } from './modbus/bus-registry.js';
import { sharedBusChecks } from './modbus/config-checks.js';
import { createModbusDevice, modbusCapabilities } from './modbus/device.js';
import { registerProfileOf } from './modbus/profile-schema.js';
import type { ProfileFile } from './profile-file.js';

/**
 * The device families: one record each, read by profile loading (which kinds exist), the config checks
 * (which transport a profile needs, what a profile must be given) and the hardware wiring (which driver
 * builds a device). Adding a family is adding a record here (docs/profiles.md); adding a meter or a
 * sensor of an existing family is adding a file in hardware/profiles/.
 */

/** The shared things a family's driver builds its devices on. */
export interface FamilyContext {
  buses: BusRegistry;
  i2c: I2cBusRegistry;
  gpio: GpioBackend;
  log: Logger;
  now: () => number;
}

/** The transport keys of a device's config: each family owns one. */
export type TransportKey = 'modbus' | 'i2c' | 'gpio';

export interface DeviceFamily<P = unknown> {
  readonly name: string;
  /** The profile kinds it reads (`kind:` in hardware/profiles/*.yaml). */
  readonly kinds: readonly string[];
  /** The key of a device's config that holds its transport. */
  readonly transport: TransportKey;
  /** What the family's devices are: read every cycle, or switched. */
  readonly role: 'reader' | 'switch';
  /** The typed profile of one of its files, parsed once per file; throws ProfileError. */
  profile(file: ProfileFile): P;
  /** What a device with this profile can do besides being read (capabilities.ts). */
  capabilities(profile: P): readonly Capability[];
  /** Builds a device of the family; a config or profile mistake throws, naming the key to fix. */
  create(cfg: DeviceConfig, file: ProfileFile, ctx: FamilyContext): Device | Relay;
  /** Places simulated hardware for its configured devices, when the home runs simulated. */
  simulate?(
    devices: readonly DeviceConfig[],
    profiles: ReadonlyMap<string, ProfileFile>,
    ctx: FamilyContext,
  ): void;
  /** What one device must be given for its profile, beyond the schema. */
  checkDevice?(cfg: DeviceConfig, index: number, profile: P): ConfigProblem[];
  /** Checks across the family's devices (e.g. devices sharing a bus). */
  checkAll?(config: Config): ConfigProblem[];
}

/**
 * SunSpec inverters and register-mapped meters over Modbus TCP, RTU or an RTU gateway. Its simulator is a
 * whole Modbus server (`powerdeal sim`, src/sim) that devices reach through their usual transport, so the
 * family has no simulation hook.
 */
const modbus: DeviceFamily<ReturnType<typeof registerProfileOf>> = {
  name: 'modbus',
  kinds: ['modbus', 'sunspec'],
  transport: 'modbus',
  role: 'reader',
  profile: registerProfileOf,
  capabilities: modbusCapabilities,
  create: (cfg, file, ctx) => createModbusDevice(cfg, file, { buses: ctx.buses, log: ctx.log, now: ctx.now }),
  checkAll: sharedBusChecks,
};

/** Sensors on an I2C bus; simulated, a chip of the profile's model answers at each configured address. */
const i2c: DeviceFamily<ReturnType<typeof i2cProfileOf>> = {
  name: 'i2c',
  kinds: ['i2c'],
  transport: 'i2c',
  role: 'reader',
  profile: i2cProfileOf,
  capabilities: () => [],
  create: (cfg, file, ctx) => createI2cDevice(cfg, file, { i2c: ctx.i2c, log: ctx.log, now: ctx.now }),
  simulate(devices, profiles, ctx) {
    const missing = simulateConfiguredI2c(ctx.i2c, devices, profiles);
    if (missing.length > 0) ctx.log.warn({ devices: missing }, 'no simulated chip for these I2C devices');
  },
  checkDevice(cfg, index, profile) {
    if (cfg.i2c && cfg.i2c.shuntOhms === undefined && needsShunt(profile)) {
      return [
        {
          path: `devices.${index}.i2c.shuntOhms`,
          message: `an ${profile.chip.toUpperCase()} needs its shunt resistance, e.g. shuntOhms: 0.1`,
        },
      ];
    }
    return [];
  },
};

/** Relays on a header GPIO; simulated, the in-memory GPIO backend stands in for the header. */
const gpio: DeviceFamily<ReturnType<typeof gpioProfileOf>> = {
  name: 'gpio',
  kinds: ['gpio'],
  transport: 'gpio',
  role: 'switch',
  profile: gpioProfileOf,
  capabilities: () => ['switch'],
  create: (cfg, file, ctx) => createRelay(cfg, file, { gpio: ctx.gpio, log: ctx.log, now: ctx.now }),
};

export const FAMILIES: readonly DeviceFamily[] = [modbus, i2c, gpio];

/** Every profile kind, in registry order. */
export const PROFILE_KINDS: readonly string[] = FAMILIES.flatMap((f) => f.kinds);

export function familyOfKind(kind: string): DeviceFamily | undefined {
  return FAMILIES.find((f) => f.kinds.includes(kind));
}

/** The family whose transport key a device's config has (the schema allows exactly one). */
export function transportOf(cfg: DeviceConfig): TransportKey | undefined {
  return FAMILIES.find((f) => cfg[f.transport] !== undefined)?.transport;
}

/** What a configured device can do, from its profile; none when the profile is unknown or broken. */
export function capabilitiesOf(
  cfg: DeviceConfig,
  profiles: ReadonlyMap<string, ProfileFile>,
): readonly Capability[] {
  const file = profiles.get(cfg.profile);
  const family = file && familyOfKind(file.kind);
  if (!file || !family || transportOf(cfg) !== family.transport) return [];
  try {
    return family.capabilities(family.profile(file));
  } catch {
    // A broken profile is reported as a problem of the device itself (config-checks.ts).
    return [];
  }
}

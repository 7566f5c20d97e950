import { Command, CommanderError } from 'commander';
import { vi } from 'vitest';
import { type Config, configSchema, type DeviceConfig } from '../../src/config/schema.js';
import { CliError } from '../../src/control/client/exit-codes.js';
import { createI2cDevice } from '../../src/devices/i2c/device.js';
import type { I2cBusRegistry } from '../../src/devices/i2c/registry.js';
import { loadProfiles, type ProfileFile } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';

export const profiles = loadProfiles();

export function profile(id: string): ProfileFile {
  const p = profiles.get(id);
  if (!p) throw new Error(`no profile ${id}`);
  return p;
}

/** Device entries go through the real config schema, defaults included. */
export function devicesFromConfig(devices: unknown[]): DeviceConfig[] {
  const config: Config = configSchema.parse({ home: { id: 'home-1', zone: 'zone-1' }, devices });
  return config.devices;
}

export function deviceConfig(device: Record<string, unknown>): DeviceConfig {
  return devicesFromConfig([device])[0]!;
}

/** A manual clock for backoff tests. */
export function manualClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

export function ina219(
  registry: I2cBusRegistry,
  i2c: Record<string, unknown> = {},
  opts: { now?: () => number; id?: string } = {},
) {
  const cfg = deviceConfig({
    id: opts.id ?? 'dc-shunt',
    profile: 'ina219',
    i2c: { bus: 1, address: 0x40, shuntOhms: 0.1, ...i2c },
  });
  return createI2cDevice(cfg, profile('ina219'), { i2c: registry, log: silentLogger(), now: opts.now });
}

export function tmp102(
  registry: I2cBusRegistry,
  i2c: Record<string, unknown> = {},
  opts: { now?: () => number } = {},
) {
  const cfg = deviceConfig({ id: 'enclosure', profile: 'tmp102', i2c: { bus: 1, address: 0x48, ...i2c } });
  return createI2cDevice(cfg, profile('tmp102'), { i2c: registry, log: silentLogger(), now: opts.now });
}

export interface VerbResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a verb the way src/cli/main.ts does (exitOverride, CliError → its exit code, commander usage
 * errors → 2), in this process, capturing what it prints.
 */
export async function runVerb(register: (program: Command) => void, args: string[]): Promise<VerbResult> {
  let stdout = '';
  let stderr = '';
  const program = new Command('powerdeal')
    .option('--config <file>')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  register(program);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const before = process.exitCode;
  let code = 0;
  try {
    await program.parseAsync(['node', 'powerdeal', ...args]);
    code = process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CliError) {
      stderr += `powerdeal: ${err.message}\n`;
      code = err.exitCode;
    } else if (err instanceof CommanderError) {
      code = err.exitCode === 0 ? 0 : 2;
    } else throw err;
  } finally {
    spy.mockRestore();
    process.exitCode = before;
  }
  return { code, stdout, stderr };
}

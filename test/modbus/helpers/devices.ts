import { configSchema, type DeviceConfig, type ModbusConfig } from '../../../src/config/schema.js';
import { loadProfiles, type ProfileFile } from '../../../src/devices/profiles.js';

const profiles = loadProfiles();

export function profile(id: string): ProfileFile {
  const p = profiles.get(id);
  if (p === undefined) throw new Error(`no profile ${id}`);
  return p;
}

/** A device config as the config loader would produce it (defaults filled in by the real schema). */
export function deviceConfig(id: string, profileId: string, modbus: Partial<ModbusConfig>): DeviceConfig {
  const config = configSchema.parse({
    home: { id: 'home-1', zone: 'zone-1' },
    devices: [{ id, profile: profileId, modbus }],
  });
  return config.devices[0] as DeviceConfig;
}

import { ConfigError, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { loadProfiles } from '../../src/devices/profiles.js';
import { crossChecks } from '../../src/setup/config-checks.js';

export const shippedProfiles = loadProfiles();

/** Parses a config with every cross-check `powerdeal config check` runs; its problems as `path: message`. */
export function problemsOf(text: string, profiles = shippedProfiles): string[] {
  try {
    parseConfig(text, 'config.yaml', crossChecks(profiles));
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

export function parsed(text: string): Config {
  return parseConfig(text, 'config.yaml', crossChecks(shippedProfiles));
}

/** A config of one home in zone z1 with the given extra YAML (keys point nowhere: trading checks stay quiet). */
export function homeYaml(rest: string): string {
  return `home: { id: home-1, zone: z1 }\nkeys: { privateKeyFile: /nonexistent/home.key, keyringFile: /nonexistent/keyring.yaml }\n${rest}`;
}

import { accessSync, constants } from 'node:fs';
import type { ConfigProblem, CrossCheck } from './load.js';
import type { Config } from './schema.js';

/**
 * The whole-file checks that need only the config itself: unique device ids and readable secret files.
 * Checks against profiles and key files live with what they check (src/devices/config-checks.ts,
 * src/setup/config-checks.ts); `powerdeal config check` runs them all through src/setup.
 */
export const configChecks: readonly CrossCheck[] = [uniqueIds, secretFileChecks];

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

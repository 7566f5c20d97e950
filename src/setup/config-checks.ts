import { accessSync, constants, existsSync } from 'node:fs';
import { configChecks } from '../config/cross-checks.js';
import type { ConfigProblem, CrossCheck } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import { deviceChecks } from '../devices/config-checks.js';
import type { ProfileFile } from '../devices/profiles.js';
import { readKeyring, readPrivateKey } from '../protocol/keyring.js';

/**
 * Every check `powerdeal config check` (and every verb that loads the config) runs after the schema:
 * this layer sits above config, devices and protocol, so config itself imports neither.
 */
export function crossChecks(profiles: ReadonlyMap<string, ProfileFile>): CrossCheck[] {
  return [...configChecks, ...deviceChecks(profiles), keyFileChecks];
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
      problems.push({ path: 'keys.privateKeyFile', message: errorText(err) });
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
      problems.push({ path: 'keys.keyringFile', message: errorText(err) });
    }
  }
  return problems;
}

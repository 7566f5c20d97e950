import type { Command } from 'commander';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { CliError, EXIT } from '../control/client/exit-codes.js';
import { loadProfiles, type ProfileFile } from '../devices/profiles.js';
import { crossChecks } from '../setup/config-checks.js';

export interface LoadedConfig {
  file: string;
  config: Config;
  profiles: Map<string, ProfileFile>;
}

/** Loads and fully checks the config a verb was pointed at (`--config`, `$POWERDEAL_CONFIG`, default). */
export function loadVerbConfig(cmd: Command, file?: string): LoadedConfig {
  const path = configPath(file ?? (cmd.optsWithGlobals() as { config?: string }).config);
  const profiles = loadProfiles();
  try {
    return { file: path, config: loadConfig(path, crossChecks(profiles)), profiles };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.problem);
    throw err;
  }
}

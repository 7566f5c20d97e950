import type { Command } from 'commander';
import { ConfigError, configPath, loadConfig } from '../../config/load.js';
import { EXIT } from '../../control/client/exit-codes.js';
import { loadProfiles } from '../../devices/profiles.js';
import { crossChecks } from '../../setup/config-checks.js';
import { green, printJson, red } from '../output.js';

/** `powerdeal config check [FILE]`: validates a config the way `run` would, without starting anything. */
export function register(program: Command): void {
  const config = program.command('config').description('work with the config file');
  config
    .command('check [file]')
    .description('validate a config file: every problem with its key, line and fix')
    .option('--json', 'machine-readable result')
    .action((file: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const path = configPath(file ?? (cmd.optsWithGlobals() as { config?: string }).config);
      try {
        const loaded = loadConfig(path, crossChecks(loadProfiles()));
        if (opts.json) printJson({ ok: true, file: path, config: loaded });
        else
          process.stdout.write(
            `${green('ok')} ${path}: ${loaded.devices.length} device(s), home ${loaded.home.id}\n`,
          );
        process.exitCode = EXIT.ok;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (opts.json) printJson({ ok: false, file: path, problems: err.problems });
        else process.stdout.write(`${red('invalid')} ${err.message}\n`);
        process.exitCode = EXIT.problem;
      }
    });
}

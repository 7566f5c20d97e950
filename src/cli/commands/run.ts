import type { Command } from 'commander';
import { CliError } from '../../control/client/exit-codes.js';
import { runService } from '../../service/run.js';
import { loadVerbConfig } from '../config-context.js';

/** Exit status for a config that does not validate (sysexits EX_CONFIG): the unit does not restart on it. */
const EXIT_CONFIG = 78;

export function register(program: Command): void {
  program
    .command('run')
    .description('run the controller in the foreground (what the systemd unit starts)')
    .option('--simulated', 'use the in-memory GPIO and I2C backends even where hardware exists')
    .action(async (opts: { simulated?: boolean }, cmd: Command) => {
      let loaded: ReturnType<typeof loadVerbConfig>;
      try {
        loaded = loadVerbConfig(cmd);
      } catch (err) {
        if (err instanceof CliError) {
          throw new CliError(`refusing to start: ${err.message}`, EXIT_CONFIG);
        }
        throw err;
      }
      process.exitCode = await runService({
        config: loaded.config,
        profiles: loaded.profiles,
        simulated: opts.simulated,
      });
    });
}

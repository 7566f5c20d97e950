import type { Command } from 'commander';
import { CliError } from '../../control/client/exit-codes.js';
import { runService } from '../../service/run.js';
import { DatabaseLockedError } from '../../store/lock.js';
import { loadVerbConfig } from '../config-context.js';

/**
 * Exit status for a start that cannot succeed as configured (sysexits EX_CONFIG): a config that does
 * not validate, or a database another controller holds. The unit does not restart on it, since a
 * restart would only meet the same refusal until the operator acts.
 */
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
      try {
        process.exitCode = await runService({
          config: loaded.config,
          profiles: loaded.profiles,
          simulated: opts.simulated,
        });
      } catch (err) {
        if (err instanceof DatabaseLockedError) {
          throw new CliError(
            `refusing to start: ${err.message}: one controller per home; stop that one first, or give this config its own store.path`,
            EXIT_CONFIG,
          );
        }
        throw err;
      }
    });
}

import type { Command } from 'commander';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import type { Snapshot } from '../../core/quantities.js';
import { loadVerbConfig } from '../config-context.js';
import { DaemonClient } from '../daemon-client.js';
import { readingsTable } from '../format-readings.js';

/** `powerdeal readings`: the running service's latest snapshot: canonical quantities with quality. */
export function register(program: Command): void {
  program
    .command('readings')
    .description("show the home's current readings (canonical quantities with quality)")
    .option('--json', 'machine-readable output')
    .option('--watch', 'refresh every second until interrupted')
    .action(async (opts: { json?: boolean; watch?: boolean }, cmd: Command) => {
      const { config } = loadVerbConfig(cmd);
      const client = new DaemonClient(config);
      const show = async (): Promise<void> => {
        const snapshot = await client.get<Snapshot | null>('/api/readings');
        if (snapshot === undefined) {
          throw new CliError(
            `the service is not reachable at ${client.address} (is it running? systemctl status powerdeal)`,
            EXIT.unreachable,
          );
        }
        if (snapshot === null) {
          throw new CliError(
            'the service has not completed a cycle yet: try again in a second',
            EXIT.problem,
          );
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(snapshot)}\n`);
        else {
          if (opts.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
          process.stdout.write(`${readingsTable(snapshot, Date.now())}\n`);
        }
        const faulted = Object.values(snapshot.quantities).some((q) => q?.quality !== 'good');
        process.exitCode = faulted ? EXIT.problem : EXIT.ok;
      };
      if (!opts.watch) {
        await show();
        return;
      }
      for (;;) {
        await show();
        await new Promise((r) => setTimeout(r, config.cycleMs));
      }
    });
}

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { connectService } from '../../control/client/service-call.js';
import { ControlError } from '../../control/protocol.js';
import { loadVerbConfig } from '../config-context.js';
import { printJson } from '../output.js';
import { restoreDatabase } from '../restore.js';
import { lockForVerb } from '../verb-lock.js';

/** `powerdeal restore FILE`: puts a backup back in place of the database, with the service stopped. */
export function register(program: Command): void {
  program
    .command('restore <file>')
    .description('replace the database with a backup (the service must be stopped; the old one is kept)')
    .option('--json', 'machine-readable output')
    .action(async (fileArg: string, opts: { json?: boolean }, cmd: Command) => {
      const { config } = loadVerbConfig(cmd);
      const service = await connectService(config.control.socket);
      if (service) {
        service.close();
        throw new CliError(
          'the service is running: stop it first (sudo systemctl stop powerdeal), restore, then start it again',
          EXIT.problem,
        );
      }
      // A service this config's socket does not reach still holds the lock.
      const lock = lockForVerb(
        config.store.path,
        (held) =>
          new CliError(
            `refusing to restore: ${held}: stop it first (sudo systemctl stop powerdeal)`,
            EXIT.problem,
          ),
      );
      let result: ReturnType<typeof restoreDatabase>;
      try {
        result = restoreDatabase(resolve(fileArg), config.store.path, Date.now());
      } catch (err) {
        if (err instanceof ControlError) {
          throw new CliError(
            `refusing to restore: ${err.message}`,
            err.kind === 'usage' ? EXIT.usage : EXIT.problem,
          );
        }
        throw err;
      } finally {
        lock.release();
      }
      if (opts.json) printJson(result);
      else {
        process.stdout.write(
          `restored ${result.from} to ${result.path} (schema ${result.schemaVersion}, ${result.bytes} bytes)\n`,
        );
        process.stdout.write(
          result.keptAs
            ? `the replaced database is kept as ${result.keptAs}\n`
            : 'there was no database before\n',
        );
        process.stdout.write('start the service again: sudo systemctl start powerdeal\n');
      }
    });
}

import { Command, CommanderError } from 'commander';
import { register as registerModbus } from '../../../src/cli/commands/modbus.js';
import { register as registerSunspec } from '../../../src/cli/commands/sunspec.js';
import { CliError, EXIT } from '../../../src/cli/exit-codes.js';

/**
 * Runs the `modbus` and `sunspec` verbs the way src/cli/main.ts does (same error and exit-code
 * handling), as a child process for the CLI tests.
 */
const program = new Command('powerdeal').option('--config <file>').exitOverride();
registerModbus(program);
registerSunspec(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  else if (err instanceof CliError) {
    process.stderr.write(`powerdeal: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`powerdeal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT.problem;
  }
}

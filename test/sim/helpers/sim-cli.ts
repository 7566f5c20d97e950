import { Command, CommanderError } from 'commander';
import { register } from '../../../src/cli/commands/sim.js';
import { CliError, EXIT } from '../../../src/cli/exit-codes.js';

/** Runs the `sim` verb the way `powerdeal sim ...` does, for tests that spawn it as a process. */
const program = new Command('powerdeal').exitOverride();
register(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`powerdeal: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    throw err;
  }
}

#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CliError, EXIT } from '../control/client/exit-codes.js';
import { VERSION } from '../core/version.js';
import { registerCommands } from './commands/index.js';

/** `powerdeal <verb>`: every verb lives in src/cli/commands/<verb>.ts and registers itself there. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('powerdeal')
    .description('Powerdeal home energy controller')
    .version(VERSION)
    .option('--config <file>', 'config file (default: $POWERDEAL_CONFIG or /etc/powerdeal/config.yaml)')
    .showHelpAfterError()
    .exitOverride();
  await registerCommands(program, argv.slice(2));
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with code 0.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`powerdeal: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`powerdeal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.problem;
  }
}

const code = await main(process.argv);
process.exitCode = code;

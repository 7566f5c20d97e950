import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Command } from 'commander';
import { ConfigError, configPath, loadConfig } from '../../config/load.js';
import { EXIT } from '../../control/client/exit-codes.js';
import { loadProfiles } from '../../devices/profiles.js';
import { allowedIn, configAddresses, DROP_IN, systemdDropIn } from '../../setup/addresses.js';
import { crossChecks } from '../../setup/config-checks.js';
import { loadVerbConfig } from '../config-context.js';
import { green, printJson, red, table, yellow } from '../output.js';

/**
 * `powerdeal config check [FILE]`: validates a config the way `run` would, without starting anything.
 * `powerdeal config addresses [FILE]`: the addresses the unit must allow (src/setup/addresses.ts).
 */
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
  config
    .command('addresses [file]')
    .description("the addresses the service talks to, and whether the unit's IP allow list has them")
    .option('--systemd', 'print the drop-in scripts/install.sh writes')
    .option('--json', 'machine-readable result')
    .action(async (file: string | undefined, opts: { systemd?: boolean; json?: boolean }, cmd: Command) => {
      const loaded = loadVerbConfig(cmd, file);
      const found = await configAddresses(loaded.config, {
        lookup: async (host) => (await lookup(host, { all: true })).map((a) => a.address),
        nameservers: nameservers(),
        interfaces: networkInterfaces(),
      });
      for (const p of found.problems) process.stderr.write(`${yellow('warning')} ${p}\n`);
      process.exitCode = found.problems.length > 0 ? EXIT.problem : EXIT.ok;
      if (opts.systemd) {
        process.stdout.write(systemdDropIn(found, loaded.file));
        return;
      }
      const installed = readText(DROP_IN);
      const listed = installed === undefined ? new Set<string>() : allowedIn(installed);
      const missing = found.allow.filter((a) => !listed.has(a.prefix)).map((a) => a.prefix);
      if (missing.length > 0) process.exitCode = EXIT.problem;
      if (opts.json) {
        printJson({ ...found, dropIn: installed === undefined ? null : DROP_IN, missing });
        return;
      }
      const rows = found.allow.map((a) => [
        a.prefix,
        listed.has(a.prefix) ? green('allowed') : red('missing'),
        a.why.join(', '),
      ]);
      if (rows.length > 0) process.stdout.write(`${table(['address', 'unit', 'needed by'], rows)}\n`);
      else process.stdout.write('only localhost and link-local: the unit allows those itself\n');
      if (missing.length > 0) {
        process.stdout.write(
          `${installed === undefined ? `no ${DROP_IN}` : `${DROP_IN} lacks ${missing.join(', ')}`}: run sudo scripts/install.sh to write it\n`,
        );
      }
    });
}

/** The resolvers of /etc/resolv.conf (without an IPv6 zone). */
function nameservers(): string[] {
  const text = readText('/etc/resolv.conf') ?? '';
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => (m[1] ?? '').replace(/%.*$/, ''));
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

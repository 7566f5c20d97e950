import { type Command, Option } from 'commander';
import { ConfigError, configPath, loadConfig } from '../../config/load.js';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { KeyError, readKeyring } from '../../protocol/keyring.js';
import {
  ACL_FORMATS,
  type AclFormat,
  brokerAcl,
  homeAccess,
  RABBITMQ_DEFAULTS,
  rabbitmqPermissions,
  USER_PREFIX_PATTERN,
} from '../../setup/broker-acl.js';
import { printJson } from '../output.js';

/** `powerdeal broker acl`: the broker's access rules for the zone, from the keyring (docs/brokers.md). */

interface AclOpts {
  format: AclFormat;
  keyring?: string;
  userPrefix?: string;
  vhost?: string;
  exchange?: string;
  json?: boolean;
}

/**
 * `--keyring`, or the config's `keys.keyringFile`. With `--keyring` no config is read: the broker's host
 * usually has none.
 */
function keyringFile(opts: AclOpts, cmd: Command): string {
  if (opts.keyring !== undefined) return opts.keyring;
  const file = configPath((cmd.optsWithGlobals() as { config?: string }).config);
  try {
    return loadConfig(file).keys.keyringFile;
  } catch (err) {
    if (err instanceof ConfigError)
      throw new CliError(`${err.message}\n(or name the keyring: --keyring FILE)`);
    throw err;
  }
}

export function register(program: Command): void {
  const broker = program
    .command('broker')
    .description("the MQTT broker's side of the zone (docs/brokers.md)");

  broker
    .command('acl')
    .description(
      'print the access rules for every home of the keyring: a mosquitto acl_file, or rabbitmqctl commands',
    )
    .addOption(
      new Option('--format <format>', 'mosquitto acl_file, or a sh script of rabbitmqctl commands')
        .choices(ACL_FORMATS)
        .default('mosquitto'),
    )
    .option('--keyring <file>', 'the zone keyring (default: keys.keyringFile of the config)')
    .option('--user-prefix <prefix>', "each home's MQTT username is this prefix and its home id")
    .option(
      '--vhost <vhost>',
      `rabbitmq: the MQTT plugin's virtual host (default ${RABBITMQ_DEFAULTS.vhost})`,
    )
    .option(
      '--exchange <name>',
      `rabbitmq: the MQTT plugin's topic exchange (default ${RABBITMQ_DEFAULTS.exchange})`,
    )
    .option('--json', 'machine-readable output: what each home may publish and subscribe to')
    .action((opts: AclOpts, cmd: Command) => {
      if (opts.format !== 'rabbitmq' && (opts.vhost !== undefined || opts.exchange !== undefined)) {
        throw new CliError('--vhost and --exchange go with --format rabbitmq', EXIT.usage);
      }
      if (opts.userPrefix !== undefined && !USER_PREFIX_PATTERN.test(opts.userPrefix)) {
        throw new CliError(
          `--user-prefix "${opts.userPrefix}": only letters, digits, '.', '_', '@' and '-'`,
          EXIT.usage,
        );
      }
      const file = keyringFile(opts, cmd);
      let keyring: ReturnType<typeof readKeyring>;
      try {
        keyring = readKeyring(file);
      } catch (err) {
        if (err instanceof KeyError) throw new CliError(err.message);
        throw err;
      }
      const homes = [...keyring.members.keys()];
      if (homes.length === 0) throw new CliError(`keyring ${file} has no members: there is nobody to let in`);
      const acl = {
        zone: keyring.zone,
        homes,
        source: file,
        ...(opts.userPrefix !== undefined ? { userPrefix: opts.userPrefix } : {}),
        ...(opts.vhost !== undefined ? { vhost: opts.vhost } : {}),
        ...(opts.exchange !== undefined ? { exchange: opts.exchange } : {}),
      };
      if (opts.json) {
        printJson({
          keyring: file,
          zone: keyring.zone,
          format: opts.format,
          homes: homeAccess(acl).map((a) =>
            opts.format === 'rabbitmq' ? { ...a, rabbitmq: rabbitmqPermissions(a, acl) } : a,
          ),
        });
        return;
      }
      process.stdout.write(brokerAcl(opts.format, acl));
    });
}

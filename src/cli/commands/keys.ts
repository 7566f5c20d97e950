import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError, configPath, loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { ID_RULE_TEXT, isValidId } from '../../core/ids.js';
import {
  generateHomeKey,
  KeyError,
  KeyExistsError,
  type Keyring,
  keyringText,
  memberKeyTexts,
  parseKeyring,
  parsePublicKeyText,
  publicKeyText,
  readKeyring,
  readKeyringText,
  readPrivateKey,
  withMemberKeys,
  writeKeyring,
  writePrivateKey,
} from '../../protocol/keyring.js';
import { dim, printJson, red, table, yellow } from '../output.js';

/**
 * `powerdeal keys`: the home's Ed25519 key (init, show) and the zone keyring every home shares
 * (keyring add, remove, list). docs/keys.md tells the whole story.
 */

interface LoadedConfig {
  file: string;
  config: Config;
}

/**
 * The config without the cross-checks other verbs run: those refuse a broken key or keyring, which is
 * exactly what these verbs are for repairing. They only need home.* and keys.*.
 */
function loadKeysConfig(cmd: Command): LoadedConfig {
  const file = configPath((cmd.optsWithGlobals() as { config?: string }).config);
  try {
    return { file, config: loadConfig(file) };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.problem);
    throw err;
  }
}

/** Runs `fn`, turning a key or keyring problem into a one-line CLI error with `code`. */
function keyErrors<T>(fn: () => T, code: number = EXIT.problem): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof KeyError) throw new CliError(err.message, code);
    throw err;
  }
}

const warn = (message: string) => process.stderr.write(`${yellow('warning:')} ${message}\n`);
const note = (message: string) => process.stderr.write(`${dim(message)}\n`);

function homeArg(home: string): string {
  if (!isValidId(home)) {
    throw new CliError(
      `"${home}" is not a home id (${ID_RULE_TEXT}, as in that home's config "home.id")`,
      EXIT.usage,
    );
  }
  return home;
}

function keyArg(text: string): string {
  const key = keyErrors(() => parsePublicKeyText(text.trim()), EXIT.usage);
  return publicKeyText(key);
}

/** The keyring file's text, or null when it does not exist yet. */
function keyringFileText(path: string): string | null {
  return existsSync(path) ? keyErrors(() => readKeyringText(path)) : null;
}

function checkZone(loaded: LoadedConfig, keyring: Keyring): void {
  const { config, file } = loaded;
  if (keyring.zone !== config.home.zone) {
    throw new CliError(
      `keyring ${config.keys.keyringFile} is for zone ${keyring.zone}, but this home (${file}) is in zone ` +
        `${config.home.zone}: fix "zone:" in the keyring or "home.zone" in the config`,
    );
  }
}

export function register(program: Command): void {
  const keys = program
    .command('keys')
    .description("the home's signing key and the zone keyring (docs/keys.md)");

  keys
    .command('init')
    .description("create this home's private key and print its keyring line")
    .option('--force', 'replace an existing key (every home must then get the new line)')
    .option('--json', 'machine-readable output')
    .action((opts: { force?: boolean; json?: boolean }, cmd: Command) => {
      const { config } = loadKeysConfig(cmd);
      const file = config.keys.privateKeyFile;
      const replaced = existsSync(file);
      const key = generateHomeKey();
      try {
        writePrivateKey(file, key, { force: opts.force === true });
      } catch (err) {
        if (!(err instanceof KeyError)) throw err;
        // An existing key without --force is a refusal of the command as given, not a failure.
        throw new CliError(err.message, err instanceof KeyExistsError ? EXIT.usage : EXIT.problem);
      }
      const publicKey = publicKeyText(key);
      const line = `${config.home.id}: ${publicKey}`;
      if (opts.json) {
        printJson({ file, home: config.home.id, zone: config.home.zone, publicKey, line, replaced });
        return;
      }
      process.stdout.write(`${line}\n`);
      note(
        `${replaced ? 'replaced' : 'created'} ${file}. Add the line above to the zone keyring on every home:\n` +
          `  powerdeal keys keyring add ${config.home.id} ${publicKey}` +
          (replaced
            ? '\nand restart the service here once every keyring has it: it then signs with the new key ' +
              '(docs/keys.md "Rotation")'
            : ''),
      );
    });

  keys
    .command('show')
    .description("print this home's keyring line (home id and public key)")
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const { config } = loadKeysConfig(cmd);
      const file = config.keys.privateKeyFile;
      const publicKey = publicKeyText(keyErrors(() => readPrivateKey(file, { warn })));
      const line = `${config.home.id}: ${publicKey}`;
      if (opts.json) printJson({ file, home: config.home.id, zone: config.home.zone, publicKey, line });
      else process.stdout.write(`${line}\n`);
    });

  const keyring = keys.command('keyring').description("the zone keyring: every home's public key");

  keyring
    .command('add <home> <key>')
    .description('add a home\'s key (the line "powerdeal keys show" prints on that home)')
    .option('--json', 'machine-readable output')
    .action((homeText: string, keyText: string, opts: { json?: boolean }, cmd: Command) => {
      const home = homeArg(homeText);
      const key = keyArg(keyText);
      const loaded = loadKeysConfig(cmd);
      const file = loaded.config.keys.keyringFile;
      const text = keyringFileText(file);
      let result: 'added' | 'present' | 'rotating';
      let next: string;
      let before: string[] = [];
      if (text === null) {
        result = 'added';
        next = keyringText({
          zone: loaded.config.home.zone,
          members: new Map([[home, parsePublicKeyText(key)]]),
        });
      } else {
        const current = keyErrors(() => parseKeyring(text, file));
        checkZone(loaded, current);
        before = memberKeyTexts(current, home);
        result = before.includes(key) ? 'present' : before.length > 0 ? 'rotating' : 'added';
        // A home that already has a key keeps it as a previous key until it is removed (a rotation).
        next =
          result === 'present'
            ? text
            : keyErrors(() => withMemberKeys(text, file, home, [key, ...before]), EXIT.usage);
      }
      if (result !== 'present') keyErrors(() => writeKeyring(file, next));
      const keysNow = result === 'present' ? before : [key, ...before];
      if (opts.json) {
        printJson({ file, home, result, keys: keysNow });
        return;
      }
      if (result === 'present') process.stdout.write(`${home} already has this key in ${file}\n`);
      else process.stdout.write(`added ${home}: ${key} to ${file}\n`);
      if (result === 'rotating') {
        note(
          `${home} now has ${keysNow.length} keys (new first). Once ${home} signs with the new key, remove ` +
            `the old one:\n${before.map((k) => `  powerdeal keys keyring remove ${home} ${k}`).join('\n')}`,
        );
      }
      if (result !== 'present') note('restart the service to use the new keyring, and copy it to every home');
    });

  keyring
    .command('remove <home> [key]')
    .description("remove one of a home's keys (after a rotation), or the home with all its keys")
    .option('--json', 'machine-readable output')
    .action((homeText: string, keyText: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const home = homeArg(homeText);
      const key = keyText === undefined ? undefined : keyArg(keyText);
      const { config } = loadKeysConfig(cmd);
      const file = config.keys.keyringFile;
      const text = keyErrors(() => readKeyringText(file));
      const before = memberKeyTexts(
        keyErrors(() => parseKeyring(text, file)),
        home,
      );
      if (before.length === 0) throw new CliError(`${home} is not in keyring ${file}`);
      if (key !== undefined && !before.includes(key)) {
        throw new CliError(`${home} has no key ${key} in ${file} (it has: ${before.join(', ')})`);
      }
      const after = key === undefined ? [] : before.filter((k) => k !== key);
      keyErrors(() => writeKeyring(file, withMemberKeys(text, file, home, after)));
      if (opts.json) {
        printJson({ file, home, removed: key === undefined ? before : [key], keys: after });
        return;
      }
      process.stdout.write(
        after.length === 0 ? `removed ${home} from ${file}\n` : `removed ${key} of ${home} from ${file}\n`,
      );
      note('restart the service to use the new keyring, and copy it to every home');
    });

  keyring
    .command('list')
    .description(
      'list the keyring and check this home against it (exit 1 if this home is missing or differs)',
    )
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const loaded = loadKeysConfig(cmd);
      const { config } = loaded;
      const file = config.keys.keyringFile;
      const ring = keyErrors(() => readKeyring(file));
      const self = config.home.id;
      const members = [...ring.members.keys()]
        .sort()
        .map((home) => ({ home, keys: memberKeyTexts(ring, home) }));

      const problems: string[] = [];
      if (ring.zone !== config.home.zone) {
        problems.push(
          `the keyring is for zone ${ring.zone}, but this home is in zone ${config.home.zone} (${loaded.file}): ` +
            'every message would be refused as from an unknown sender',
        );
      }
      let ownKey: string | null = null;
      try {
        ownKey = publicKeyText(readPrivateKey(config.keys.privateKeyFile, { warn }));
      } catch (err) {
        if (!(err instanceof KeyError)) throw err;
        problems.push(err.message);
      }
      const listed = memberKeyTexts(ring, self);
      if (ownKey !== null && listed.length === 0) {
        problems.push(
          `this home (${self}) is not in the keyring: powerdeal keys keyring add ${self} ${ownKey}`,
        );
      } else if (ownKey !== null && !listed.includes(ownKey)) {
        problems.push(
          `this home's key (${ownKey}) is not the one the keyring lists for ${self}: neighbours with this ` +
            `keyring refuse its messages; powerdeal keys keyring add ${self} ${ownKey}`,
        );
      }

      if (opts.json) {
        printJson({ file, zone: ring.zone, members, self: { home: self, key: ownKey }, problems });
      } else {
        process.stdout.write(`keyring ${file}: zone ${ring.zone}, ${members.length} home(s)\n`);
        const rows = members.flatMap((m) =>
          m.keys.map((k, i) => {
            const notes = [
              ...(m.home === self ? ['this home'] : []),
              ...(i > 0 ? ['previous key'] : []),
              ...(m.home === self && k === ownKey ? ['matches'] : []),
            ];
            return [m.home, k, notes.join(', ')];
          }),
        );
        if (rows.length > 0) process.stdout.write(`${table(['HOME', 'KEY', 'NOTE'], rows)}\n`);
        for (const p of problems) process.stderr.write(`${red('problem:')} ${p}\n`);
      }
      process.exitCode = problems.length > 0 ? EXIT.problem : EXIT.ok;
    });
}

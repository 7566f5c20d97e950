import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  generateHomeKey,
  memberKeyTexts,
  publicKeyText,
  readKeyring,
  writePrivateKey,
} from '../../src/protocol/keyring.js';
import { runCli } from '../helpers/cli.js';

/** `powerdeal keys …` as the installed binary runs it, on a config in a temp dir. */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Home {
  dir: string;
  keyFile: string;
  keyringFile: string;
  cli(...args: string[]): ReturnType<typeof runCli>;
}

function home(zone = 'lyon-7'): Home {
  const dir = mkdtempSync(join(tmpdir(), 'pd-keys-cli-'));
  dirs.push(dir);
  const keyFile = join(dir, 'etc', 'home.key');
  const keyringFile = join(dir, 'keyring.yaml');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `home: { id: home-42, zone: ${zone} }\nkeys: { privateKeyFile: ${keyFile}, keyringFile: ${keyringFile} }\n` +
      `store: { path: ${join(dir, 'powerdeal.db')} }\n`,
  );
  return {
    dir,
    keyFile,
    keyringFile,
    cli: (...args) => runCli(['keys', ...args, '--config', config], { timeoutMs: 50_000 }),
  };
}

const LINE = /^home-42: (ed25519:[A-Za-z0-9_-]{43})$/;
const mode = (path: string) => statSync(path).mode & 0o777;

// The cases are independent (a temp dir each) and mostly wait for child processes: run them side by side,
// with room for a loaded machine (each verb is a fresh Node process).
describe.concurrent('powerdeal keys', () => {
  it('init creates the key once, refuses to overwrite it without --force, show prints its line', async () => {
    const h = home();
    const init = await h.cli('init');
    expect(init.code, init.stderr).toBe(0);
    const line = init.stdout.trim();
    expect(line).toMatch(LINE);
    expect(init.stderr).toContain(`powerdeal keys keyring add home-42 ${line.split(' ')[1]}`);
    expect(mode(h.keyFile)).toBe(0o600);
    expect(mode(join(h.dir, 'etc'))).toBe(0o700);
    const pem = readFileSync(h.keyFile, 'utf8');

    const again = await h.cli('init');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/a key already exists; keep it, or replace it with --force/);
    expect(readFileSync(h.keyFile, 'utf8')).toBe(pem);

    const shown = await h.cli('show', '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      home: 'home-42',
      zone: 'lyon-7',
      file: h.keyFile,
      line,
    });

    // A damaged key: show says so, and init --force (which needs no working key) replaces it.
    writeFileSync(h.keyFile, 'not a key\n');
    const damaged = await h.cli('show');
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain(`private key ${h.keyFile}: not a PEM private key`);
    const forced = await h.cli('init', '--force', '--json');
    expect(forced.code, forced.stderr).toBe(0);
    const replaced = JSON.parse(forced.stdout) as { line: string; replaced: boolean };
    expect(replaced.replaced).toBe(true);
    expect(replaced.line).toMatch(LINE);
    expect(replaced.line).not.toBe(line);
    expect((await h.cli('show')).stdout.trim()).toBe(replaced.line);
  }, 120_000);

  it('keyring add creates and extends the keyring, rotates a key, remove and list maintain it', async () => {
    const h = home();
    const ownKey = generateHomeKey();
    writePrivateKey(h.keyFile, ownKey);
    const own = publicKeyText(ownKey);
    const neighbour = publicKeyText(generateHomeKey());
    expect((await h.cli('keyring', 'add', 'home-42', own)).code).toBe(0);
    const added = await h.cli('keyring', 'add', 'home-7', neighbour);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe(`added home-7: ${neighbour} to ${h.keyringFile}\n`);
    const ring = readKeyring(h.keyringFile);
    expect(ring.zone).toBe('lyon-7');
    expect(memberKeyTexts(ring, 'home-42')).toEqual([own]);
    expect(memberKeyTexts(ring, 'home-7')).toEqual([neighbour]);

    const bad = await h.cli('keyring', 'add', 'home-8', 'ed25519:tooshort');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not an Ed25519 public key \("ed25519:" \+ 43 base64url characters\)/);

    // home-7 changes its key: both are accepted until the old one is removed.
    const rotated = publicKeyText(generateHomeKey());
    const rotating = await h.cli('keyring', 'add', 'home-7', rotated);
    expect(rotating.code).toBe(0);
    expect(rotating.stderr).toContain(`powerdeal keys keyring remove home-7 ${neighbour}`);
    expect(memberKeyTexts(readKeyring(h.keyringFile), 'home-7')).toEqual([rotated, neighbour]);
    const list = await h.cli('keyring', 'list', '--json');
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual({
      file: h.keyringFile,
      zone: 'lyon-7',
      members: [
        { home: 'home-42', keys: [own] },
        { home: 'home-7', keys: [rotated, neighbour] },
      ],
      self: { home: 'home-42', key: own },
      problems: [],
    });
    expect((await h.cli('keyring', 'remove', 'home-7', neighbour)).code).toBe(0);
    expect(memberKeyTexts(readKeyring(h.keyringFile), 'home-7')).toEqual([rotated]);

    // This home's key no longer matches what the keyring says: neighbours would refuse its messages.
    writePrivateKey(h.keyFile, generateHomeKey(), { force: true });
    const stale = await h.cli('keyring', 'list');
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(new RegExp(`home-42 +${own} +this home\n`));
    expect(stale.stdout).toMatch(new RegExp(`home-7 +${rotated}`));
    expect(stale.stderr).toMatch(
      /this home's key \(ed25519:\S+\) is not the one the keyring lists for home-42/,
    );
  }, 120_000);

  it('a broken keyring or one of another zone is a clear error naming the file, the line and the fix', async () => {
    const h = home();
    const neighbour = publicKeyText(generateHomeKey());
    writeFileSync(h.keyringFile, `zone: lyon-7\nmembers:\n  home-1: ${neighbour}\n  home-7: ed25519:abc\n`);
    const expected =
      `keyring ${h.keyringFile}: members.home-7 (line 4): not an Ed25519 public key ` +
      '("ed25519:" + 43 base64url characters); copy the line printed by "powerdeal keys show" on that home';
    const list = await h.cli('keyring', 'list');
    expect(list.code).toBe(1);
    expect(list.stderr.trim()).toBe(`powerdeal: ${expected}`);
    const add = await h.cli('keyring', 'add', 'home-8', publicKeyText(generateHomeKey()));
    expect(add.code).toBe(1);
    expect(add.stderr).toContain(expected);

    const other = home('paris-1');
    writeFileSync(other.keyringFile, `zone: lyon-7\nmembers:\n  home-1: ${neighbour}\n`);
    const wrongZone = await other.cli('keyring', 'add', 'home-8', publicKeyText(generateHomeKey()));
    expect(wrongZone.code).toBe(1);
    expect(wrongZone.stderr).toMatch(
      /is for zone lyon-7, but this home \(.*config\.yaml\) is in zone paris-1/,
    );
    expect(readFileSync(other.keyringFile, 'utf8')).not.toContain('home-8');
  }, 120_000);
});

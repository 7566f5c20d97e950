import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  generateHomeKey,
  KeyError,
  KeyExistsError,
  keyringText,
  memberKeyTexts,
  parseKeyring,
  parsePublicKeyText,
  publicKeyText,
  readKeyring,
  readPrivateKey,
  withMemberKeys,
  writeKeyring,
  writePrivateKey,
} from '../../src/protocol/keyring.js';

const FILE = '/etc/powerdeal/keyring.yaml';
const k1 = publicKeyText(generateHomeKey());
const k2 = publicKeyText(generateHomeKey());
const k3 = publicKeyText(generateHomeKey());

const mode = (path: string) => statSync(path).mode & 0o777;
const parseError = (text: string): string => {
  try {
    parseKeyring(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(KeyError);
    return (err as Error).message;
  }
  throw new Error('parsed without an error');
};

describe('public key text', () => {
  it('is "ed25519:" + the raw key in base64url and parses back to the same key', () => {
    const priv = generateHomeKey();
    const text = publicKeyText(priv);
    expect(text).toMatch(/^ed25519:[A-Za-z0-9_-]{43}$/);
    expect(publicKeyText(createPublicKey(priv))).toBe(text);
    const parsed = parsePublicKeyText(text);
    expect(parsed.type).toBe('public');
    expect(parsed.export({ format: 'der', type: 'spki' })).toEqual(
      createPublicKey(priv).export({ format: 'der', type: 'spki' }),
    );
  });

  it('refuses anything else, saying what a key looks like and where to get one', () => {
    const x = k1.slice('ed25519:'.length);
    const last = x.at(-1)!;
    // The last character holds 4 key bits and 2 zero bits: setting one of those gives a second spelling.
    const noncanonical = `ed25519:${x.slice(0, -1)}${String.fromCharCode(last.charCodeAt(0) + 1)}`;
    for (const bad of [
      `ssh-ed25519:${x}`,
      x,
      `ed25519:${x}A`,
      `ed25519:${x.slice(1)}`,
      `ed25519:${x.slice(0, -1)}+`,
      noncanonical,
      '',
    ]) {
      expect(() => parsePublicKeyText(bad), bad).toThrow(
        /not an Ed25519 public key \("ed25519:" \+ 43 base64url characters\); copy the line printed by "powerdeal keys show"/,
      );
    }
    expect(() => publicKeyText(generateKeyPairSync('x25519').publicKey)).toThrow(KeyError);
  });
});

describe('keyring file', () => {
  it('parses members with one key or a list of keys, comments allowed', () => {
    const k = parseKeyring(
      `# the zone\nzone: lyon-7\nmembers:\n  home-1: ${k1} # alice\n  home-2:\n    - ${k2}\n    - ${k3}\n`,
      FILE,
    );
    expect(k.zone).toBe('lyon-7');
    expect([...k.members.keys()]).toEqual(['home-1', 'home-2']);
    expect(memberKeyTexts(k, 'home-1')).toEqual([k1]);
    expect(memberKeyTexts(k, 'home-2')).toEqual([k2, k3]);
    expect(memberKeyTexts(k, 'home-3')).toEqual([]);
    expect(parseKeyring('zone: lyon-7\nmembers:\n', FILE).members.size).toBe(0);
  });

  it('writes YAML sorted by home that parses back to the same keyring', () => {
    const k = parseKeyring(`zone: lyon-7\nmembers:\n  home-b: [${k2}, ${k3}]\n  home-a: ${k1}\n`, FILE);
    const text = keyringText(k);
    expect(text.indexOf('home-a')).toBeLessThan(text.indexOf('home-b'));
    expect(text).toContain(`home-a: ${k1}\n`);
    const back = parseKeyring(text, FILE);
    expect(back.zone).toBe('lyon-7');
    for (const home of ['home-a', 'home-b'])
      expect(memberKeyTexts(back, home)).toEqual(memberKeyTexts(k, home));
    expect(keyringText({ zone: 'z', members: new Map() })).toContain('members: {}');
  });

  it('a member in the object form carries its fallback endpoint; the string form stays valid', () => {
    const text =
      `zone: lyon-7\nmembers:\n  home-1: ${k1}\n  home-2: { keys: ${k2}, fallback: "10.0.0.2:1884" }\n` +
      `  home-3:\n    keys: [${k3}]\n    fallback: "[fd00::3]:1884"\n`;
    const k = parseKeyring(text, FILE);
    expect([...k.members.keys()]).toEqual(['home-1', 'home-2', 'home-3']);
    expect(memberKeyTexts(k, 'home-2')).toEqual([k2]);
    expect([...(k.fallbacks ?? [])]).toEqual([
      ['home-2', '10.0.0.2:1884'],
      ['home-3', '[fd00::3]:1884'],
    ]);
    const back = parseKeyring(keyringText(k), FILE);
    expect([...(back.fallbacks ?? [])]).toEqual([...(k.fallbacks ?? [])]);
    expect(keyringText(k)).toContain(`home-1: ${k1}\n`);
    // A key change keeps the endpoint.
    const rotated = parseKeyring(
      withMemberKeys(text, FILE, 'home-2', [publicKeyText(generateHomeKey()), k2]),
      FILE,
    );
    expect(rotated.fallbacks?.get('home-2')).toBe('10.0.0.2:1884');
    expect(memberKeyTexts(rotated, 'home-2')).toHaveLength(2);

    expect(parseError(`zone: lyon-7\nmembers:\n  home-1: { keys: ${k1}, fallback: "10.0.0.1" }\n`)).toBe(
      `keyring ${FILE}: members.home-1.fallback (line 3): the fallback endpoint is "HOST:PORT" on the ` +
        `neighbourhood's network, e.g. "10.0.0.7:1884" (config "fallback.listen" of that home)`,
    );
    expect(parseError(`zone: lyon-7\nmembers:\n  home-1: { key: ${k1} }\n`)).toBe(
      `keyring ${FILE}: members.home-1.key (line 3): unknown key "key": a member has "keys" and optionally "fallback"`,
    );
    expect(parseError(`zone: lyon-7\nmembers:\n  home-1: { fallback: "h:1" }\n`)).toMatch(
      /members\.home-1 \(line 3\): no key; /,
    );
  });

  it('names the file, the member and its line, and the fix, for every problem', () => {
    expect(parseError(`zone: lyon-7\nmembers:\n  home-1: ${k1}\n  home-7: ed25519:abc\n`)).toBe(
      `keyring ${FILE}: members.home-7 (line 4): not an Ed25519 public key ("ed25519:" + 43 base64url characters); ` +
        'copy the line printed by "powerdeal keys show" on that home',
    );
    const several = parseError(`zone: Lyon 7\nmembers:\n  Home_1: ${k1}\n  home-2: []\nextra: 1\n`);
    expect(several).toContain(`keyring ${FILE}: 4 problems`);
    expect(several).toMatch(/zone \(line 1\): must be the zone id of config "home.zone"/);
    expect(several).toMatch(/members\.Home_1 \(line 3\): not a home id/);
    expect(several).toMatch(
      /members\.home-2 \(line 4\): no key; copy the line printed by "powerdeal keys show"/,
    );
    expect(several).toMatch(/extra \(line 5\): unknown key "extra"/);

    expect(parseError(`zone: lyon-7\nmembers:\n  home-1: ${k1}\n  home-1: ${k2}\n`)).toMatch(
      /line 4: a key is listed twice: keep one line per home/,
    );
    expect(parseError(`zone: lyon-7\nmembers:\n  home-1: ${k1}\n  home-2: ${k1}\n`)).toMatch(
      /members\.home-2 \(line 4\): the same key as home-1; every home has its own key: run "powerdeal keys init" on home-2/,
    );
    expect(parseError(`members:\n  home-1: ${k1}\n`)).toMatch(/zone: missing: add "zone: <zone>"/);
    expect(parseError('zone: lyon-7\n')).toMatch(/members: missing/);
    expect(parseError('zone: lyon-7\nmembers: [a, b]\n')).toMatch(
      /members \(line 2\): expected one "<home id>: ed25519:…" line/,
    );
    expect(parseError('- just\n- a list\n')).toMatch(/line 1: expected "zone: <zone>" and "members:"/);
    expect(parseError('zone: lyon-7\nmembers:\n  home-1: [oops\n')).toMatch(
      /line \d+: YAML syntax: .*fix the indentation or quoting/,
    );
  });
});

describe('keys on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pd-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the private key 0600 in a new 0700 directory and reads it back', () => {
    const file = join(dir, 'etc', 'home.key');
    const key = generateHomeKey();
    writePrivateKey(file, key);
    expect(mode(file)).toBe(0o600);
    expect(mode(join(dir, 'etc'))).toBe(0o700);
    expect(readFileSync(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const warnings: string[] = [];
    expect(publicKeyText(readPrivateKey(file, { warn: (m) => warnings.push(m) }))).toBe(publicKeyText(key));
    expect(warnings).toEqual([]);
    expect(readdirSync(join(dir, 'etc'))).toEqual(['home.key']);
  });

  it('refuses to replace a key without force; with force it replaces it and keeps the mode', () => {
    const file = join(dir, 'home.key');
    const first = generateHomeKey();
    writePrivateKey(file, first);
    chmodSync(file, 0o640);
    expect(() => writePrivateKey(file, generateHomeKey())).toThrow(KeyExistsError);
    expect(() => writePrivateKey(file, generateHomeKey())).toThrow(
      /already exists; keep it, or replace it with --force/,
    );
    expect(publicKeyText(readPrivateKey(file))).toBe(publicKeyText(first));
    const second = generateHomeKey();
    writePrivateKey(file, second, { force: true });
    expect(publicKeyText(readPrivateKey(file))).toBe(publicKeyText(second));
    expect(mode(file)).toBe(0o640);
    expect(() => writePrivateKey(join(dir, 'pub.key'), createPublicKey(second))).toThrow(KeyError);
  });

  it("gives a new key the group of a directory shared with the service (install.sh's root:powerdeal 0750)", () => {
    const etc = join(dir, 'etc');
    mkdirSync(etc);
    const group = 65534; // nogroup: any group but the writer's own
    chownSync(etc, -1, group);
    chmodSync(etc, 0o750);
    writePrivateKey(join(etc, 'home.key'), generateHomeKey());
    expect(mode(join(etc, 'home.key'))).toBe(0o640);
    expect(statSync(join(etc, 'home.key')).gid).toBe(group);
  });

  it('reads a key others can read, with a warning; refuses missing, garbage and non-Ed25519 keys', () => {
    const file = join(dir, 'home.key');
    writePrivateKey(file, generateHomeKey());
    chmodSync(file, 0o644);
    const warnings: string[] = [];
    readPrivateKey(file, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      `private key ${file}: mode 0644 lets other users read or change it; chmod 600 ${file}`,
    ]);

    expect(() => readPrivateKey(join(dir, 'none.key'))).toThrow(
      /none\.key: missing; create it with "powerdeal keys init"/,
    );
    writeFileSync(join(dir, 'garbage.key'), 'hello\n');
    expect(() => readPrivateKey(join(dir, 'garbage.key'))).toThrow(/garbage\.key: not a PEM private key/);
    const x25519 = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
    writeFileSync(join(dir, 'x.key'), x25519, { mode: 0o600 });
    expect(() => readPrivateKey(join(dir, 'x.key'))).toThrow(/x\.key: a x25519 key, not Ed25519/);
  });

  it('edits a keyring keeping comments, adds members in order, and refuses an edit that breaks it', () => {
    const file = join(dir, 'keyring.yaml');
    const original = `# Rue des Lilas\nzone: lyon-7\nmembers:\n  home-1: ${k1} # alice\n  home-3: ${k3}\n`;
    writeKeyring(file, original);
    expect(mode(file)).toBe(0o644);
    const added = withMemberKeys(readFileSync(file, 'utf8'), file, 'home-2', [k2]);
    expect(added).toBe(
      `# Rue des Lilas\nzone: lyon-7\nmembers:\n  home-1: ${k1} # alice\n  home-2: ${k2}\n  home-3: ${k3}\n`,
    );
    chmodSync(file, 0o640);
    writeKeyring(file, added);
    expect(mode(file)).toBe(0o640);
    expect(readdirSync(dir)).toEqual(['keyring.yaml']);
    expect([...readKeyring(file).members.keys()]).toEqual(['home-1', 'home-2', 'home-3']);

    const removed = withMemberKeys(added, file, 'home-1', []);
    expect(removed).not.toContain('home-1');
    expect(removed).toContain('# Rue des Lilas');
    expect(() => withMemberKeys(added, file, 'home-4', [k1])).toThrow(
      /members\.home-4 \(line \d+\): the same key as home-1/,
    );
    expect(() => withMemberKeys(added, file, 'home-4', ['ed25519:nope'])).toThrow(
      /not an Ed25519 public key/,
    );
    expect(withMemberKeys('zone: lyon-7\nmembers: {}\n', file, 'home-1', [k1])).toBe(
      `zone: lyon-7\nmembers:\n  home-1: ${k1}\n`,
    );
    expect(() => readKeyring(join(dir, 'none.yaml'))).toThrow(
      /none\.yaml: missing; add every home of the zone with "powerdeal keys keyring add/,
    );
  });
});

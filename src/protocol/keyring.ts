import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMap, isScalar, stringify } from 'yaml';
import { isValidId } from '../core/ids.js';
import { KeyError } from './key-error.js';
import { describeFsError, statOrNull, writeFileAtomic } from './key-files.js';
import { parsePublicKeyText, publicKeyText } from './key-text.js';
import { HOME_ID_TEXT, type Keyring, parseKeyring, parseKeyringDocument } from './keyring-file.js';

/**
 * The home's Ed25519 key and the zone keyring (docs/keys.md): reading the keyring file, its members and
 * their keys, and editing it for a new member or a key rotation. The file format lives in
 * keyring-file.ts, key text in key-text.ts, the home's private key in home-key.ts; this module is the
 * one the rest of the code imports.
 */
export { readPrivateKey, writePrivateKey } from './home-key.js';
export { KeyError, KeyExistsError } from './key-error.js';
export { generateHomeKey, parsePublicKeyText, publicKeyText } from './key-text.js';
export { isEndpoint, type Keyring, parseKeyring } from './keyring-file.js';

export function readKeyring(path: string): Keyring {
  return parseKeyring(readKeyringText(path), path);
}

/** The keyring file's text, unchecked; a missing or unreadable file is a KeyError saying what to do. */
export function readKeyringText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new KeyError(
        `keyring ${path}: missing; add every home of the zone with "powerdeal keys keyring add <home> <key>" ` +
          '(the key is what "powerdeal keys show" prints on that home), then copy the file to every home',
      );
    }
    if (code === 'EACCES') {
      throw new KeyError(`keyring ${path}: permission denied; make it readable by the powerdeal user`);
    }
    throw new KeyError(`keyring ${path}: cannot read it (${describeFsError(err)})`);
  }
}

/** Every key of a member, current first, as keyring text. */
export function memberKeyTexts(keyring: Keyring, home: string): string[] {
  const current = keyring.members.get(home);
  if (!current) return [];
  return [current, ...(keyring.previousKeys?.get(home) ?? [])].map(publicKeyText);
}

const KEYRING_HEADER =
  '# Powerdeal zone keyring: the public key of every home of the zone. The same file goes to every home;\n' +
  '# "powerdeal keys show" on a home prints its line (docs/keys.md).\n';

/** The keyring as YAML, members sorted by home id. */
export function keyringText(k: Keyring): string {
  const members: Record<string, string | string[] | { keys: string | string[]; fallback: string }> = {};
  for (const home of [...k.members.keys()].sort()) {
    const texts = memberKeyTexts(k, home);
    const keys = texts.length === 1 ? texts[0]! : texts;
    const fallback = k.fallbacks?.get(home);
    members[home] = fallback === undefined ? keys : { keys, fallback };
  }
  return KEYRING_HEADER + stringify({ zone: k.zone, members });
}

/**
 * Sets one member's keys (current first; none removes the member) in a keyring file's text, keeping its
 * comments, layout and the member's fallback endpoint. The result is checked like a keyring read from disk.
 */
export function withMemberKeys(text: string, file: string, home: string, keys: readonly string[]): string {
  const { doc } = parseKeyringDocument(text, file);
  if (!isValidId(home)) throw new KeyError(`"${home}" is ${HOME_ID_TEXT}`);
  for (const key of keys) parsePublicKeyText(key);
  let members = doc.get('members', true);
  if (!isMap(members)) {
    members = doc.createNode({});
    doc.set('members', members);
  }
  if (!isMap(members)) throw new KeyError(`keyring ${file}: members is not a map`);
  if (keys.length === 0) members.delete(home);
  else {
    const value = keys.length === 1 ? keys[0]! : doc.createNode([...keys]);
    const entry = members.get(home, true);
    // A member in the object form keeps its fallback endpoint: only its keys change.
    if (isMap(entry)) entry.set('keys', value);
    else if (members.has(home)) members.set(home, value);
    else {
      // A new member goes in sorted position; existing lines keep their place and comments.
      const pair = doc.createPair(home, value);
      const at = members.items.findIndex((p) => String(isScalar(p.key) ? p.key.value : p.key) > home);
      members.items.splice(at < 0 ? members.items.length : at, 0, pair);
    }
    members.flow = false;
  }
  const out = doc.toString();
  parseKeyring(out, file);
  return out;
}

/** Writes a keyring file atomically (a reader sees the old or the new file, never a part). */
export function writeKeyring(path: string, text: string): void {
  const old = statOrNull(path);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileAtomic(
      path,
      text,
      old ? { mode: old.mode & 0o777, uid: old.uid, gid: old.gid } : { mode: 0o644 },
    );
  } catch (err) {
    throw new KeyError(`keyring ${path}: cannot write it (${describeFsError(err)})`);
  }
}

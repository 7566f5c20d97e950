import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  stringify,
} from 'yaml';

/**
 * The home's Ed25519 key and the zone keyring: the public key of every home of the zone, one YAML file
 * copied to every home (docs/keys.md). Keys are node:crypto KeyObjects, parsed once when the keyring is
 * read, so checking a signature costs one Ed25519 verification and nothing else.
 */
export interface Keyring {
  zone: string;
  /** Each member's current key. */
  members: ReadonlyMap<string, KeyObject>;
  /** Further keys still accepted for a member while it changes its key (docs/keys.md "Rotation"). */
  previousKeys?: ReadonlyMap<string, readonly KeyObject[]>;
}

/** A key or keyring problem; the message names the file, the key or line, and the fix. */
export class KeyError extends Error {
  override name = 'KeyError';
}

/** writePrivateKey found a key already there and was not told to replace it. */
export class KeyExistsError extends KeyError {
  override name = 'KeyExistsError';
}

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const KEY_TEXT = /^ed25519:([A-Za-z0-9_-]{43})$/;
const KEY_TEXT_HINT = '"ed25519:" + 43 base64url characters';
const SHOW_FIX = 'copy the line printed by "powerdeal keys show" on that home';

export function generateHomeKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/** `ed25519:` + the raw 32-byte public key in base64url: one line that fits in a keyring. */
export function publicKeyText(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') {
    throw new KeyError(`a ${pub.asymmetricKeyType ?? pub.type} key is not an Ed25519 key`);
  }
  return `ed25519:${pub.export({ format: 'jwk' }).x}`;
}

/** The public key, or why the text is not one. */
function decodeKeyText(text: unknown): KeyObject | string {
  const x = typeof text === 'string' ? KEY_TEXT.exec(text)?.[1] : undefined;
  // 43 characters carry 258 bits: the last 2 must be zero, so each key has exactly one text.
  if (x === undefined || Buffer.from(x, 'base64url').toString('base64url') !== x) {
    return `not an Ed25519 public key (${KEY_TEXT_HINT})`;
  }
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
}

export function parsePublicKeyText(text: string): KeyObject {
  const key = decodeKeyText(text);
  if (typeof key === 'string') {
    const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
    throw new KeyError(`${JSON.stringify(shown)}: ${key}; ${SHOW_FIX}`);
  }
  return key;
}

// ---- the home's private key ---------------------------------------------------------------------------

/**
 * Writes the private key as PKCS#8 PEM, atomically. A new file is mode 0600; in a directory shared with
 * the service's group (install.sh makes /etc/powerdeal root:powerdeal 0750) it gets that group and 0640,
 * so the service can read a key created by root. A replaced file keeps its owner, group and mode (never
 * more open than 0640). Refuses to replace an existing key unless `force`.
 */
export function writePrivateKey(path: string, key: KeyObject, opts: { force?: boolean } = {}): void {
  const where = `private key ${path}`;
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') {
    throw new KeyError(`${where}: refusing to write a key that is not an Ed25519 private key`);
  }
  const old = statOrNull(path);
  if (old && !opts.force) {
    throw new KeyExistsError(
      `${where}: a key already exists; keep it, or replace it with --force and then give every home ` +
        'the new "powerdeal keys show" line (docs/keys.md "Rotation")',
    );
  }
  const dir = dirname(path);
  const pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const parent = statSync(dir);
    const sharedGroup = (parent.mode & 0o070) !== 0 && (parent.mode & 0o007) === 0 && parent.gid !== getgid();
    const owner = old
      ? { mode: old.mode & 0o640, uid: old.uid, gid: old.gid }
      : sharedGroup
        ? { mode: 0o640, gid: parent.gid }
        : { mode: 0o600 };
    writeFileAtomic(path, pem, owner);
  } catch (err) {
    throw new KeyError(`${where}: cannot write it (${describeFsError(err)})`);
  }
}

/** Modes that let someone other than the owner and the service's group read or change the key. */
const TOO_OPEN = 0o027;

/**
 * Reads the home's private key. A file readable by other users still works (the key is the home's
 * identity, so a running home keeps running) but is reported through `warn`.
 */
export function readPrivateKey(path: string, opts: { warn?: (message: string) => void } = {}): KeyObject {
  const where = `private key ${path}`;
  let pem: string;
  let mode: number;
  try {
    pem = readFileSync(path, 'utf8');
    mode = statSync(path).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new KeyError(`${where}: missing; create it with "powerdeal keys init"`);
    if (code === 'EACCES') {
      throw new KeyError(`${where}: permission denied; make it readable by the powerdeal user (mode 0640)`);
    }
    throw new KeyError(`${where}: cannot read it (${describeFsError(err)})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new KeyError(
      `${where}: not a PEM private key; restore it from a backup, or create a new one with ` +
        '"powerdeal keys init --force" and give every home its new "powerdeal keys show" line',
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KeyError(
      `${where}: a ${key.asymmetricKeyType} key, not Ed25519; create one with "powerdeal keys init --force"`,
    );
  }
  if ((mode & TOO_OPEN) !== 0) {
    const warn = opts.warn ?? ((m: string) => process.emitWarning(m, 'KeyWarning'));
    warn(
      `${where}: mode 0${(mode & 0o777).toString(8)} lets other users read or change it; chmod 600 ${path}`,
    );
  }
  return key;
}

// ---- the zone keyring ------------------------------------------------------------------------------

interface Problem {
  path: string;
  line?: number;
  message: string;
}

function keyringError(file: string, problems: Problem[]): KeyError {
  const at = (p: Problem) => {
    const line = p.line === undefined ? '' : `line ${p.line}`;
    const where = p.path && line ? `${p.path} (${line})` : p.path || line || '(top level)';
    return `${where}: ${p.message}`;
  };
  if (problems.length === 1) return new KeyError(`keyring ${file}: ${at(problems[0]!)}`);
  return new KeyError(
    `keyring ${file}: ${problems.length} problems\n${problems.map((p) => `  - ${at(p)}`).join('\n')}`,
  );
}

function parseKeyringDocument(text: string, file: string): { doc: Document; keyring: Keyring } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw keyringError(
      file,
      doc.errors.map((e) => ({
        path: '',
        line: e.linePos?.[0]?.line,
        message:
          e.code === 'DUPLICATE_KEY'
            ? 'a key is listed twice: keep one line per home (while a home changes its key, list both: ' +
              '"home-7: [ed25519:NEW, ed25519:OLD]")'
            : `YAML syntax: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')} ` +
              '(fix the indentation or quoting there)',
      })),
    );
  }
  const problems: Problem[] = [];
  const lineOf = (node: unknown) => {
    const start = (node as Node | null)?.range?.[0];
    return start === undefined ? undefined : lines.linePos(start).line;
  };
  const root = doc.contents;
  if (!isMap(root)) {
    throw keyringError(file, [
      { path: '', line: lineOf(root), message: 'expected "zone: <zone>" and "members:" (see docs/keys.md)' },
    ]);
  }
  let zone: string | undefined;
  const members = new Map<string, KeyObject>();
  const previousKeys = new Map<string, KeyObject[]>();
  const owners = new Map<string, string>();
  let sawMembers = false;
  for (const pair of root.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const line = lineOf(pair.key);
    if (name === 'zone') {
      const value = isScalar(pair.value) ? pair.value.value : undefined;
      if (typeof value === 'string' && ID.test(value)) zone = value;
      else {
        problems.push({
          path: 'zone',
          line,
          message: 'must be the zone id of config "home.zone" (lowercase letters, digits and \'-\')',
        });
      }
    } else if (name === 'members') {
      sawMembers = true;
      const value = pair.value;
      if (value === null || (isScalar(value) && value.value === null)) continue;
      if (!isMap(value)) {
        problems.push({
          path: 'members',
          line,
          message: 'expected one "<home id>: ed25519:…" line per home',
        });
        continue;
      }
      for (const member of value.items) {
        const home = isScalar(member.key) ? String(member.key.value) : String(member.key);
        const at = `members.${home}`;
        const memberLine = lineOf(member.key);
        if (!ID.test(home)) {
          problems.push({
            path: at,
            line: memberLine,
            message: 'not a home id (lowercase letters, digits and \'-\', as in config "home.id")',
          });
          continue;
        }
        const texts = isSeq(member.value)
          ? member.value.items.map((i) => (isScalar(i) ? i.value : i))
          : [isScalar(member.value) ? member.value.value : member.value];
        if (texts.length === 0) {
          problems.push({ path: at, line: memberLine, message: `no key; ${SHOW_FIX}` });
          continue;
        }
        const keys: KeyObject[] = [];
        for (const text of texts) {
          const key = decodeKeyText(text);
          if (typeof key === 'string') {
            problems.push({ path: at, line: memberLine, message: `${key}; ${SHOW_FIX}` });
            continue;
          }
          const owner = owners.get(text as string);
          if (owner !== undefined) {
            problems.push({
              path: at,
              line: memberLine,
              message:
                owner === home
                  ? 'the same key is listed twice; remove one'
                  : `the same key as ${owner}; every home has its own key: run "powerdeal keys init" on ` +
                    `${home} and copy the line "powerdeal keys show" prints there`,
            });
            continue;
          }
          owners.set(text as string, home);
          keys.push(key);
        }
        const [current, ...previous] = keys;
        if (current) members.set(home, current);
        if (previous.length > 0) previousKeys.set(home, previous);
      }
    } else {
      problems.push({
        path: name,
        line,
        message: `unknown key "${name}": only "zone" and "members" belong here`,
      });
    }
  }
  if (zone === undefined && !problems.some((p) => p.path === 'zone')) {
    problems.push({
      path: 'zone',
      message: 'missing: add "zone: <zone>", the zone id of config "home.zone"',
    });
  }
  if (!sawMembers) {
    problems.push({
      path: 'members',
      message: 'missing: add "members:" with one "<home id>: ed25519:…" line per home',
    });
  }
  if (problems.length > 0) throw keyringError(file, problems);
  return { doc, keyring: { zone: zone!, members, previousKeys } };
}

/** YAML `{ zone, members: { <home id>: "ed25519:…" | ["ed25519:…", …] } }`; `file` names it in errors. */
export function parseKeyring(text: string, file: string): Keyring {
  return parseKeyringDocument(text, file).keyring;
}

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
  const members: Record<string, string | string[]> = {};
  for (const home of [...k.members.keys()].sort()) {
    const texts = memberKeyTexts(k, home);
    members[home] = texts.length === 1 ? texts[0]! : texts;
  }
  return KEYRING_HEADER + stringify({ zone: k.zone, members });
}

/**
 * Sets one member's keys (current first; none removes the member) in a keyring file's text, keeping its
 * comments and layout. The result is checked like a keyring read from disk.
 */
export function withMemberKeys(text: string, file: string, home: string, keys: readonly string[]): string {
  const { doc } = parseKeyringDocument(text, file);
  if (!ID.test(home)) {
    throw new KeyError(
      `"${home}" is not a home id (lowercase letters, digits and '-', as in config "home.id")`,
    );
  }
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
    if (members.has(home)) members.set(home, value);
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

// ---- files -----------------------------------------------------------------------------------------

interface Ownership {
  mode: number;
  uid?: number;
  gid?: number;
}

/** Temp file beside the target, synced, renamed over it, directory synced: all or nothing after a power cut. */
function writeFileAtomic(path: string, data: string, own: Ownership): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  if (existsSync(tmp)) unlinkSync(tmp);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, data);
      if (own.uid !== undefined || own.gid !== undefined) fchownSync(fd, own.uid ?? -1, own.gid ?? -1);
      fchmodSync(fd, own.mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw err;
  }
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new KeyError(`${path}: cannot check it (${describeFsError(err)})`);
  }
}

function getgid(): number {
  return process.getgid?.() ?? -1;
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM')
    return `${e.code}: run it as root or as the owner of the directory`;
  if (e.code === 'EROFS') return 'EROFS: the file system is read-only';
  return e.code ?? String(err);
}

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { KeyError, KeyExistsError } from './key-error.js';
import { describeFsError, getgid, statOrNull, writeFileAtomic } from './key-files.js';

/** The home's own Ed25519 private key, a PKCS#8 PEM file (docs/keys.md). */

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

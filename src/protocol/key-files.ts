import {
  closeSync,
  existsSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  openSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errorText } from '../core/errors.js';
import { KeyError } from './key-error.js';

/** File handling shared by the home key and the keyring: atomic writes, ownership, error hints. */

export interface Ownership {
  mode: number;
  uid?: number;
  gid?: number;
}

/** Temp file beside the target, synced, renamed over it, directory synced: all or nothing after a power cut. */
export function writeFileAtomic(path: string, data: string, own: Ownership): void {
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

export function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new KeyError(`${path}: cannot check it (${describeFsError(err)})`);
  }
}

export function getgid(): number {
  return process.getgid?.() ?? -1;
}

export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM')
    return `${e.code}: run it as root or as the owner of the directory`;
  if (e.code === 'EROFS') return 'EROFS: the file system is read-only';
  return e.code ?? errorText(err);
}

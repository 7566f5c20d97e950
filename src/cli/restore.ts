import {
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  openSync,
  renameSync,
  statSync,
} from 'node:fs';
import Database from 'better-sqlite3';
import { ControlError } from '../control/protocol.js';
import { errorText } from '../core/errors.js';
import { integrityCheck, openReadOnly } from '../store/backup.js';
import { MIGRATIONS, schemaVersion } from '../store/migrations.js';

export interface RestoreResult {
  /** The file restored from. */
  from: string;
  /** The database path now holding it. */
  path: string;
  /** Where the replaced database was kept, or null when there was none. */
  keptAs: string | null;
  schemaVersion: number;
  bytes: number;
}

/** Checks a file before it may replace the database: a database, intact, of a schema this program reads. */
function checkRestoreFile(file: string): { schemaVersion: number } {
  if (!existsSync(file)) throw new ControlError(`${file} does not exist`, 'usage');
  let check: string;
  let version: number;
  try {
    check = integrityCheck(file);
    const ro = openReadOnly(file);
    try {
      version = schemaVersion(ro.db);
      const outbox = ro.db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'")
        .get();
      if (version < 1 || outbox === undefined) {
        throw new ControlError(`${file} is a SQLite database but not a powerdeal one (no schema, no outbox)`);
      }
    } finally {
      ro.close();
    }
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError(`${file} is not a readable database: ${errorText(err)}`);
  }
  if (check !== 'ok') throw new ControlError(`${file} fails its integrity check: ${check.slice(0, 300)}`);
  const latest = MIGRATIONS.at(-1)?.version ?? 0;
  if (version > latest) {
    throw new ControlError(
      `${file} has schema version ${version}, newer than this program's (${latest}): restore it with the newer version`,
    );
  }
  return { schemaVersion: version };
}

/**
 * Fails unless no other process has the database open. Leaving WAL mode needs every other connection
 * gone, and it also folds the WAL into the file, so the kept copy is one self-contained file.
 */
function takeOver(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    const mode = db.pragma('journal_mode = DELETE', { simple: true });
    if (mode !== 'delete') throw new Error(`journal mode stayed ${String(mode)}`);
  } catch (err) {
    throw new ControlError(
      `${path} is in use by another process (${errorText(err)}): stop the service first (sudo systemctl stop powerdeal)`,
    );
  } finally {
    db.close();
  }
}

/**
 * Replaces the database at `path` with `file` (the service must be stopped). The replaced database is
 * kept as `<path>.before-restore-<time>`; the new file gets the old one's owner, so the service can
 * open it when a root shell ran the restore. The copy is synced before it is renamed into place.
 */
export function restoreDatabase(file: string, path: string, now: number): RestoreResult {
  const { schemaVersion: version } = checkRestoreFile(file);
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  let keptAs: string | null = null;
  let owner: { uid: number; gid: number; mode: number } | null = null;
  if (existsSync(path)) {
    takeOver(path);
    const st = statSync(path);
    owner = { uid: st.uid, gid: st.gid, mode: st.mode & 0o777 };
    keptAs = `${path}.before-restore-${stamp}`;
    for (const suffix of ['-wal', '-shm']) {
      if (existsSync(path + suffix)) renameSync(path + suffix, keptAs + suffix);
    }
    renameSync(path, keptAs);
  }
  const temp = `${path}.restore-tmp`;
  copyFileSync(file, temp);
  const fd = openSync(temp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (owner) chownSync(temp, owner.uid, owner.gid);
  renameSync(temp, path);
  return { from: file, path, keptAs, schemaVersion: version, bytes: statSync(path).size };
}

import { chownSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * One writer per database: the service for its whole life, or a CLI verb that changes the file while
 * the service is stopped. Node has no flock, so the lock is SQLite's own: `<db>.lock` is a small,
 * empty SQLite database on which the holder keeps a `BEGIN IMMEDIATE` transaction open. That is a
 * RESERVED lock, a POSIX fcntl lock the kernel drops when the process dies however it dies (SIGKILL,
 * a crash, the OOM killer), so no stale lock outlives its holder and nothing has to be cleaned up.
 * The journal is kept in memory: nothing is ever written to the lock file, so a killed holder leaves
 * no `-journal` behind. SQLite also refuses a second connection of the same process.
 *
 * A RESERVED holder's writes are invisible to everyone else, so the holder's name cannot live in the
 * lock file: it goes beside it, in `<db>.lock.json`, written once the lock is held. The process must
 * never open and close `<db>.lock` with plain file calls: closing any descriptor of a file drops the
 * process's fcntl locks on it.
 */

/** Who holds the database: what a refused process tells the operator. */
export interface LockHolder {
  pid: number;
  /** When the holding process started, ISO 8601. */
  startedAt: string;
  /** Its command line (process.argv). */
  argv: string[];
  /** `service` for `powerdeal run`; `verb` for a CLI verb writing the file while the service is stopped. */
  role: LockRole;
}

export type LockRole = 'service' | 'verb';

export interface DatabaseLock {
  /** Lets the next process in. Idempotent; the kernel does the same when the process ends. */
  release(): void;
}

export class DatabaseLockedError extends Error {
  override readonly name = 'DatabaseLockedError';
  constructor(
    readonly path: string,
    /** Null when the holder's record is missing, unreadable, or names a process that is gone. */
    readonly holder: LockHolder | null,
  ) {
    super(`${path} is in use by ${holderText(holder)}`);
  }
}

/** "pid 812 (/opt/powerdeal/dist/cli/main.js run --config …, started 2026-05-02T06:00:01.000Z)". */
export function holderText(holder: LockHolder | null): string {
  if (!holder) return 'another process (it has not recorded which)';
  return `pid ${holder.pid} (${holder.argv.slice(1).join(' ')}, started ${holder.startedAt})`;
}

export const lockPath = (dbPath: string) => `${dbPath}.lock`;
const holderPath = (dbPath: string) => `${dbPath}.lock.json`;

/**
 * Takes the lock of the database at `dbPath`, or throws DatabaseLockedError naming the holder. An
 * in-memory database belongs to its process alone and needs none.
 */
export function lockDatabase(dbPath: string, role: LockRole): DatabaseLock {
  if (dbPath === ':memory:' || dbPath === '') return { release: () => undefined };
  const path = lockPath(dbPath);
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = MEMORY');
    giveToDirectoryOwner(path);
    db.exec('BEGIN IMMEDIATE');
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw new DatabaseLockedError(dbPath, readHolder(dbPath));
    }
    throw new Error(`cannot take the lock ${path}: ${(err as Error).message}`, { cause: err });
  }
  writeHolder(dbPath, role);
  let held = true;
  return {
    release: () => {
      if (!held) return;
      held = false;
      // The record goes first, while the lock still keeps the next holder from writing its own.
      try {
        unlinkSync(holderPath(dbPath));
      } catch {
        // already gone
      }
      db.exec('ROLLBACK');
      db.close();
    },
  };
}

/**
 * A root shell (sudo powerdeal outbox purge) creating the lock file would otherwise leave it to root,
 * and the service, running as its own user, could no longer open it: the file gets the owner of the
 * directory it is in (StateDirectory, the service's).
 */
function giveToDirectoryOwner(path: string): void {
  if (process.getuid?.() !== 0) return;
  const dir = statSync(dirname(path));
  const file = statSync(path);
  if (file.uid !== dir.uid || file.gid !== dir.gid) chownSync(path, dir.uid, dir.gid);
}

function writeHolder(dbPath: string, role: LockRole): void {
  const holder: LockHolder = {
    pid: process.pid,
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    argv: process.argv,
    role,
  };
  const temp = `${holderPath(dbPath)}.tmp`;
  writeFileSync(temp, `${JSON.stringify(holder)}\n`);
  renameSync(temp, holderPath(dbPath));
}

function readHolder(dbPath: string): LockHolder | null {
  let holder: LockHolder;
  try {
    holder = JSON.parse(readFileSync(holderPath(dbPath), 'utf8')) as LockHolder;
  } catch {
    return null;
  }
  if (!Number.isInteger(holder.pid) || !Array.isArray(holder.argv)) return null;
  // A record left by a holder that was killed, read in the instant before the new holder replaces it.
  return alive(holder.pid) ? holder : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';

export class BackupError extends Error {
  override readonly name = 'BackupError';
}

/**
 * Copies a live database to `destination` while the service keeps writing (SQLite's online backup,
 * page by page). The copy is written under a temporary name in the destination's directory, made a
 * single self-contained file (rollback journal, no -wal/-shm beside it), checked with
 * `PRAGMA integrity_check`, and only then renamed: `destination` is either untouched or a complete,
 * checked copy, never a half-written one.
 */
export async function backupDatabase(
  db: Database.Database,
  destination: string,
): Promise<{ bytes: number; durationMs: number }> {
  const started = performance.now();
  const temp = join(dirname(destination), `.${process.pid}-${Date.now()}.backup-tmp`);
  try {
    await db.backup(temp);
    const copy = new Database(temp, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
      const rows = copy.pragma('integrity_check') as { integrity_check: string }[];
      const problems = rows.map((r) => r.integrity_check).filter((line) => line !== 'ok');
      if (problems.length > 0) {
        throw new BackupError(`the copy failed its integrity check: ${problems.join('; ').slice(0, 300)}`);
      }
    } finally {
      copy.close();
    }
    renameSync(temp, destination);
  } catch (err) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(temp + suffix, { force: true });
    throw err;
  }
  return { bytes: statSync(destination).size, durationMs: performance.now() - started };
}

/**
 * Opens a database file read-only, without the service. Opening a WAL database creates its -wal and
 * -shm files when they are missing; those are removed again at close, so a root shell never leaves
 * root-owned files beside the database that the service could then not open.
 */
export function openReadOnly(path: string): { db: Database.Database; close(): void } {
  const created = ['-wal', '-shm'].filter((suffix) => !existsSync(path + suffix));
  const db = new Database(path, { readonly: true, fileMustExist: true });
  return {
    db,
    close() {
      db.close();
      for (const suffix of created) {
        const file = path + suffix;
        // A read-only connection never writes to the WAL: an empty one is the one it created.
        if (existsSync(file) && (suffix === '-shm' || statSync(file).size === 0))
          rmSync(file, { force: true });
      }
    },
  };
}

/** `PRAGMA integrity_check` on a database file, opened read-only: 'ok' or the problems found. */
export function integrityCheck(path: string): 'ok' | string {
  const file = openReadOnly(path);
  try {
    const rows = file.db.pragma('integrity_check') as { integrity_check: string }[];
    const lines = rows.map((r) => r.integrity_check);
    return lines.length === 1 && lines[0] === 'ok' ? 'ok' : lines.join('\n');
  } finally {
    file.close();
  }
}

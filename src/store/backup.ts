import { rmSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';

export class BackupError extends Error {
  override readonly name = 'BackupError';
}

/**
 * Copies a live database to `destination` while the service keeps writing (SQLite's online backup,
 * page by page). The copy is written under a temporary name in the destination's directory and renamed
 * only once it passed `PRAGMA integrity_check`, so `destination` is either absent, the previous file, or
 * a complete, checked copy: never a half-written one.
 */
export async function backupDatabase(
  db: Database.Database,
  destination: string,
): Promise<{ bytes: number; durationMs: number }> {
  const started = performance.now();
  const temp = join(dirname(destination), `.${process.pid}-${Date.now()}.backup-tmp`);
  try {
    await db.backup(temp);
    const check = integrityCheck(temp);
    if (check !== 'ok') throw new BackupError(`the copy failed its integrity check: ${check.slice(0, 300)}`);
    renameSync(temp, destination);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  return { bytes: statSync(destination).size, durationMs: performance.now() - started };
}

/** `PRAGMA integrity_check` on a database file opened read-only: 'ok' or the problems found. */
export function integrityCheck(path: string): 'ok' | string {
  const copy = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = copy.pragma('integrity_check') as { integrity_check: string }[];
    const lines = rows.map((r) => r.integrity_check);
    return lines.length === 1 && lines[0] === 'ok' ? 'ok' : lines.join('\n');
  } finally {
    copy.close();
  }
}

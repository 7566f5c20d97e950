import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MIGRATIONS, schemaVersion } from '../store/migrations.js';

/** A database larger than this gets more start time: its quick_check reads every page. */
const LARGE_DB_BYTES = 32 * 1024 * 1024;
/** Conservative read rate of a quick_check on a Pi's SD card. */
const CHECK_BYTES_PER_S = 5 * 1024 * 1024;
const MIGRATION_EXTRA_MS = 120_000;

/**
 * How much time the store's open needs beyond the usual start, in ms, or null when the usual start
 * timeout is plenty. The open is synchronous (better-sqlite3), so nothing can be sent to systemd while
 * it runs: the extension (EXTEND_TIMEOUT_USEC) must be asked for before, from what is on disk.
 */
export function startupTimeNeededMs(path: string): number | null {
  if (path === ':memory:' || path === '') return null;
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return null; // no database yet: a fresh one is created in milliseconds
  }
  let pending = false;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      pending = schemaVersion(db) < (MIGRATIONS.at(-1)?.version ?? 0);
    } finally {
      db.close();
    }
  } catch {
    // Unreadable or corrupt: the open quarantines it and starts fresh, which is quick.
  }
  if (!pending && size < LARGE_DB_BYTES) return null;
  return 60_000 + Math.ceil((size / CHECK_BYTES_PER_S) * 1000) + (pending ? MIGRATION_EXTRA_MS : 0);
}

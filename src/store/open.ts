import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log/logger.js';

/** SQLite result codes that mean "this file is not a usable database": a fresh file fixes them. */
const CORRUPTION_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB']);

export class CorruptDatabaseError extends Error {
  override readonly name = 'CorruptDatabaseError';
}

function isCorruption(err: unknown): boolean {
  if (err instanceof CorruptDatabaseError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && [...CORRUPTION_CODES].some((c) => code.startsWith(c));
}

/** `PRAGMA quick_check`: 'ok', or the problems found joined by newlines. */
export function quickCheck(db: Database.Database): 'ok' | string {
  const rows = db.pragma('quick_check') as { quick_check: string }[];
  const lines = rows.map((r) => r.quick_check);
  return lines.length === 1 && lines[0] === 'ok' ? 'ok' : lines.join('\n');
}

function configure(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  // 512 KiB of page cache instead of SQLite's 2 MiB: the rows the service reads are few and recent,
  // and the smaller cache measured 15 MB less peak RSS draining a 100,000-row backlog
  // (test/systemd/unit-flags.test.ts) at the same drain rate.
  db.pragma('cache_size = -512');
  // Keeps the WAL file from staying large after a burst (e.g. draining a long outage backlog).
  db.pragma('journal_size_limit = 8388608');
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * A non-empty file without the SQLite header is refused before SQLite touches it: closing a connection
 * deletes the -wal and -shm files, and they belong with the quarantined file.
 */
function checkHeader(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return; // absent: SQLite creates it
  }
  try {
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n > 0 && !head.subarray(0, n).equals(SQLITE_HEADER.subarray(0, n))) {
      throw new CorruptDatabaseError('not a database file (no SQLite header)');
    }
    if (n > 0 && n < SQLITE_HEADER.length) throw new CorruptDatabaseError('truncated database file');
  } finally {
    closeSync(fd);
  }
}

function openChecked(path: string, prepare: (db: Database.Database) => void): Database.Database {
  if (path !== ':memory:' && path !== '') checkHeader(path);
  const db = new Database(path);
  try {
    configure(db);
    const check = quickCheck(db);
    if (check !== 'ok') throw new CorruptDatabaseError(`quick_check: ${check.slice(0, 500)}`);
    prepare(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function quarantineName(path: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  let name = `${path}.corrupt-${stamp}`;
  for (let i = 1; existsSync(name); i++) name = `${path}.corrupt-${stamp}-${i}`;
  return name;
}

/** Moves the database file and its -wal/-shm aside; returns the new name of the main file. */
function quarantine(path: string, now: number): string {
  const target = quarantineName(path, now);
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, target + suffix);
  }
  return target;
}

/**
 * Opens the database at `path` and runs `prepare` (the migrations) on it. A file that is corrupt or
 * not a database at all is quarantined with a loud log and replaced by a fresh one, so a damaged SD
 * card sector costs the history, never a crash loop. Other errors (permissions, locks) are thrown.
 * A file with a valid header but damaged pages has been opened by then: SQLite may fold its WAL into
 * it while closing, so the quarantined file holds what SQLite could keep.
 */
export function openDatabase(
  path: string,
  log: Logger,
  now: () => number,
  prepare: (db: Database.Database) => void,
): { db: Database.Database; quarantined: string | null } {
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  try {
    return { db: openChecked(path, prepare), quarantined: null };
  } catch (err) {
    if (inMemory || !isCorruption(err)) throw err;
    const target = quarantine(path, now());
    log.error(
      { err, path, quarantinedTo: target },
      'store: database file is corrupt; moved it aside and starting a fresh database (history lost, nothing else)',
    );
    return { db: openChecked(path, prepare), quarantined: target };
  }
}

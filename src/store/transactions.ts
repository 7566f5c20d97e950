import { closeSync, fsyncSync, openSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { WriteHealthTracker } from './write-health.js';

/**
 * Transactions with a per-commit durability choice. The connection runs at synchronous=NORMAL (WAL:
 * consistent after a power cut, but the last commits may roll back); a durable commit runs at FULL.
 *
 * SQLite refuses to change `synchronous` inside a transaction, so a durable request made inside an
 * outer non-durable transaction is kept owed and paid after the outer commit by syncing the WAL file
 * (fsync flushes the file's pages, whichever descriptor asks), before control returns to the caller.
 */
export class Transactions {
  private durableOwed = false;
  private rollbackHooks: (() => void)[] = [];
  /** One wrapper for every call: better-sqlite3 passes the arguments through (BEGIN or SAVEPOINT). */
  private readonly runner: <T>(fn: () => T) => T;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly writes?: WriteHealthTracker,
  ) {
    this.runner = db.transaction(<T>(fn: () => T): T => fn()) as <T>(fn: () => T) => T;
  }

  run<T>(fn: () => T, durable = false): T {
    if (this.db.inTransaction) {
      if (durable) this.durableOwed = true;
      const mark = this.rollbackHooks.length;
      try {
        return this.runner(fn);
      } catch (err) {
        this.rolledBack(mark);
        throw err;
      }
    }
    if (durable) this.db.pragma('synchronous = FULL');
    try {
      const result = this.runner(fn);
      this.rollbackHooks = [];
      if (this.durableOwed && !durable) this.syncWal();
      this.writes?.ok();
      return result;
    } catch (err) {
      this.rolledBack(0);
      // Only failures of SQLite itself count against the store, not an exception thrown by `fn`.
      if (typeof (err as { code?: unknown } | null)?.code === 'string') this.writes?.failed(err);
      throw err;
    } finally {
      this.durableOwed = false;
      if (durable) this.db.pragma('synchronous = NORMAL');
    }
  }

  /**
   * Inside `run`: calls `hook` if the work done so far is rolled back (by this transaction or by an
   * enclosing one), so in-memory state can follow the database.
   */
  onRollback(hook: () => void): void {
    if (this.db.inTransaction) this.rollbackHooks.push(hook);
  }

  private rolledBack(mark: number): void {
    const hooks = this.rollbackHooks.splice(mark);
    for (const hook of hooks.reverse()) hook();
  }

  private syncWal(): void {
    if (this.path === ':memory:' || this.path === '') return;
    let fd: number;
    try {
      fd = openSync(`${this.path}-wal`, 'r');
    } catch {
      return; // no WAL file: the commit went straight to the database file at a checkpoint
    }
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

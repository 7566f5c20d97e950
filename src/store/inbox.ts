import type Database from 'better-sqlite3';

/** Replay and duplicate detection for inbound messages (QoS 1 delivers at least once). */
export interface InboxDedupe {
  /**
   * Records (from, id) and returns true the first time it is seen within the retention window; false
   * for a duplicate. An entry older than the window counts as new again (receivers reject messages
   * that old as expired anyway).
   */
  firstSeen(from: string, id: string, now: number): boolean;
  /** Forgets entries older than the window; returns how many. Also done by `firstSeen` once an hour. */
  prune(now: number): number;
  readonly windowMs: number;
}

const AUTO_PRUNE_EVERY_MS = 3_600_000;

export class SqliteInboxDedupe implements InboxDedupe {
  private readonly upsertStmt: Database.Statement<[string, string, number, number]>;
  private readonly pruneStmt: Database.Statement<[number]>;
  private lastPrune = Number.NEGATIVE_INFINITY;

  constructor(
    db: Database.Database,
    readonly windowMs: number,
  ) {
    // Inserts a new pair, or refreshes one that fell out of the window; a duplicate changes nothing.
    this.upsertStmt = db.prepare(
      `INSERT INTO inbox_seen (from_home, msg_id, seen_at) VALUES (?, ?, ?)
       ON CONFLICT (from_home, msg_id) DO UPDATE SET seen_at = excluded.seen_at WHERE seen_at <= ?`,
    );
    this.pruneStmt = db.prepare('DELETE FROM inbox_seen WHERE seen_at <= ?');
  }

  firstSeen(from: string, id: string, now: number): boolean {
    if (now - this.lastPrune >= AUTO_PRUNE_EVERY_MS) this.prune(now);
    return this.upsertStmt.run(from, id, now, now - this.windowMs).changes > 0;
  }

  prune(now: number): number {
    this.lastPrune = now;
    return this.pruneStmt.run(now - this.windowMs).changes;
  }
}

import type Database from 'better-sqlite3';
import type { Transactions } from './transactions.js';

/** Per-home envelope sequence numbers. */
export interface Seq {
  /** The next number; never returned before by this store, even across crashes and power cuts. */
  next(): number;
  /** The number `next()` will return, without taking it. */
  peek(): number;
}

/** Numbers reserved per durable write: one synced commit per this many envelopes. */
const BLOCK = 1000;

/**
 * Hands out numbers from a block reserved with a durable commit. After any restart the counter resumes
 * at the end of the last reserved block, so a number may be skipped but is never reused, even when the
 * envelope that carried it was published from a NORMAL commit that a power cut then rolled back.
 *
 * The reservation is re-read on every call. Below this process's block end, the reservation was rolled
 * back with the transaction that wrote it: a new block is taken. A new block always starts past what
 * any connection reserved, so a CLI process taking numbers next to the daemon does not collide with it.
 */
export class PersistentSeq implements Seq {
  private nextValue: number;
  private blockEnd: number;
  private readonly readStmt: Database.Statement<[], { reserved_below: number }>;
  private readonly writeStmt: Database.Statement<[number]>;

  constructor(
    db: Database.Database,
    private readonly tx: Transactions,
  ) {
    this.readStmt = db.prepare('SELECT reserved_below FROM seq WHERE id = 1');
    this.writeStmt = db.prepare('UPDATE seq SET reserved_below = max(reserved_below, ?) WHERE id = 1');
    this.nextValue = this.reservedBelow();
    this.blockEnd = this.nextValue;
  }

  next(): number {
    const reserved = this.reservedBelow();
    if (this.nextValue >= this.blockEnd || reserved < this.blockEnd) {
      const start = Math.max(this.nextValue, reserved);
      this.tx.run(() => this.writeStmt.run(start + BLOCK), true);
      this.nextValue = start;
      this.blockEnd = start + BLOCK;
    }
    return this.nextValue++;
  }

  peek(): number {
    const reserved = this.reservedBelow();
    return this.nextValue >= this.blockEnd || reserved < this.blockEnd
      ? Math.max(this.nextValue, reserved)
      : this.nextValue;
  }

  private reservedBelow(): number {
    return this.readStmt.get()?.reserved_below ?? 1;
  }
}

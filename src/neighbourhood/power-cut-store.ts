import type { Store } from '../store/index.js';

/** Thrown at the commit a simulated power cut interrupts. */
export class PowerCut extends Error {
  override name = 'PowerCut';
}

/**
 * A home's Store as its process sees it, with a power switch. Armed, the next outermost transaction runs
 * its work and then fails before committing (SQLite rolls all of it back, as a power cut mid-commit
 * would); from then on every write fails until the process restarts. Everything committed before stays:
 * the same Store object serves the restarted process.
 */
export class PowerCutStore implements Store {
  private depth = 0;
  private armed = false;
  private cut = false;
  private onCut: (() => void) | null = null;
  readonly deadLetters: Store['deadLetters'];

  constructor(readonly inner: Store) {
    const dl = inner.deadLetters;
    const powered = <T>(write: () => T): T => {
      if (this.cut) throw new PowerCut('power is off');
      return write();
    };
    this.deadLetters = {
      add: (d, now) => powered(() => dl.add(d, now)),
      list: (o) => dl.list(o),
      count: () => dl.count(),
      countsByReason: () => dl.countsByReason(),
      totalsByReason: () => dl.totalsByReason(),
      purge: (ids) => powered(() => dl.purge(ids)),
      get: (id) => dl.get(id),
      take: (id) => powered(() => dl.take(id)),
    };
  }

  /** The next outermost commit fails and `then` runs (the process dies). */
  arm(then: () => void): void {
    this.armed = true;
    this.onCut = then;
  }

  disarm(): void {
    this.armed = false;
    this.onCut = null;
  }

  get isArmed(): boolean {
    return this.armed;
  }

  /** Runs `fn` with any armed cut held back (work that must not be the one interrupted). */
  unarmed<T>(fn: () => T): T {
    const armed = this.armed;
    this.armed = false;
    try {
      return fn();
    } finally {
      this.armed = armed;
    }
  }

  /** The process restarted: power is back. */
  restore(): void {
    this.cut = false;
    this.disarm();
  }

  transaction<T>(fn: () => T, opts?: { durable?: boolean }): T {
    if (this.cut) throw new PowerCut('power is off');
    return this.inner.transaction(() => {
      this.depth++;
      try {
        const result = fn();
        if (this.depth === 1 && this.armed) {
          this.cut = true;
          const then = this.onCut;
          this.disarm();
          then?.();
          throw new PowerCut('power cut before the commit');
        }
        return result;
      } finally {
        this.depth--;
      }
    }, opts);
  }

  get db() {
    return this.inner.db;
  }
  get outbox() {
    return this.inner.outbox;
  }
  get inbox() {
    return this.inner.inbox;
  }
  get seq() {
    return this.inner.seq;
  }
  get readings() {
    return this.inner.readings;
  }
  get meta() {
    return this.inner.meta;
  }
  get quarantined() {
    return this.inner.quarantined;
  }
  get closed() {
    return this.inner.closed;
  }
  quickCheck() {
    return this.inner.quickCheck();
  }
  writeHealth() {
    return this.inner.writeHealth();
  }
  close(): void {
    this.inner.close();
  }
}

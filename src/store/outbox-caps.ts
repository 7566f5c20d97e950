import type { Logger } from '../log/logger.js';
import {
  type Counter,
  classBase,
  classEnd,
  DROP_COUNTER,
  type OutboxStatements,
  SHEDDABLE_CLASSES,
} from './outbox-sql.js';
import type { OutboxClass } from './outbox-types.js';

export interface OutboxCaps {
  maxRows: number;
  /** Counted per row as payload + topic + id + coalesce key bytes. */
  maxBytes: number;
}

/** Shedding goes this far below a cap, so a full outbox sheds in batches rather than on every enqueue. */
const SHED_HEADROOM = 0.01;
export const SHED_PAGE = 512;

type Totals = { rows: number; bytes: number };

/**
 * Keeps the outbox under its caps after each enqueue: expired offers/accepts go first, then telemetry
 * oldest-first; never-shed rows and unexpired offers are never touched, they are kept above the cap
 * (counted in `over_cap`, logged once per episode) because losing a promise is worse than exceeding a cap.
 */
export class OutboxCapGuard {
  private overCapLogged = false;

  constructor(
    private readonly s: OutboxStatements,
    readonly caps: OutboxCaps,
    private readonly log: Logger,
  ) {
    if (!(caps.maxRows > 0 && caps.maxBytes > 0)) throw new Error('outbox: caps must be positive');
  }

  /** Call inside the enqueue's transaction, after the insert of a row of `cls`. */
  enforce(cls: OutboxClass, now: number): void {
    let t = this.totals();
    if (!this.over(t)) {
      this.overCapLogged = false;
      return;
    }
    const expired = this.s.deleteExpired.run(now).changes;
    if (expired > 0) {
      this.bump(DROP_COUNTER.expired, expired);
      t = this.totals();
    }
    if (this.over(t)) t = this.shed(t);
    // A sheddable row still over the cap was shed itself: only rows kept above it are counted.
    if (!this.over(t) || SHEDDABLE_CLASSES.includes(cls)) return;
    this.bump('over_cap', 1);
    if (!this.overCapLogged) {
      this.overCapLogged = true;
      this.log.warn(
        { class: cls, rows: t.rows, bytes: t.bytes, caps: this.caps },
        'outbox: above its cap with nothing left to shed; keeping the rows (promises are not dropped)',
      );
    }
  }

  private totals(): Totals {
    const t = this.s.totals.get();
    return { rows: t?.rows ?? 0, bytes: t?.bytes ?? 0 };
  }

  private over(t: Totals): boolean {
    return t.rows > this.caps.maxRows || t.bytes > this.caps.maxBytes;
  }

  private shed(t: Totals): Totals {
    let needRows = t.rows - Math.floor(this.caps.maxRows * (1 - SHED_HEADROOM));
    let needBytes = t.bytes - Math.floor(this.caps.maxBytes * (1 - SHED_HEADROOM));
    for (const cls of SHEDDABLE_CLASSES) {
      let last: number | null = null;
      let after = classBase(cls);
      while (needRows > 0 || needBytes > 0) {
        const page = this.s.sizes.all(after, classEnd(cls), SHED_PAGE);
        for (const r of page) {
          last = after = r.row_id;
          needRows -= 1;
          needBytes -= r.bytes;
          if (needRows <= 0 && needBytes <= 0) break;
        }
        if (page.length < SHED_PAGE) break;
      }
      if (last !== null)
        this.bump(DROP_COUNTER['shed-cap'], this.s.deleteRange.run(classBase(cls), last + 1).changes);
      if (needRows <= 0 && needBytes <= 0) break;
    }
    return this.totals();
  }

  private bump(counter: Counter, n: number): void {
    this.s.bump[counter].run(n);
  }
}

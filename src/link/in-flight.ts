import type { Clock, TimerHandle } from '../core/clock.js';
import type { OutboxRow } from '../store/outbox-types.js';
import type { BreakerTicket } from './breaker.js';
import type { BrokerConnection } from './transport.js';

export interface InFlight {
  row: OutboxRow;
  conn: BrokerConnection;
  startedAt: number;
  timedOut: boolean;
  settled: boolean;
  ticket: BreakerTicket;
}

/**
 * The drain's publishes awaiting PUBACK, in send order, with the PUBACK timeout: one timer, set for the
 * oldest publish not yet timed out, calls `onTimeout` for each publish older than `ackTimeoutMs`.
 */
export class InFlightWindow {
  private readonly entries = new Map<number, InFlight>();
  /** Row ids in flight: the outbox's next batch skips them. */
  readonly ids = new Set<number>();
  private timer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly ackTimeoutMs: number,
    private readonly onTimeout: (timedOut: InFlight[]) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  all(): InFlight[] {
    return [...this.entries.values()];
  }

  add(entry: InFlight): void {
    this.entries.set(entry.row.rowId, entry);
    this.ids.add(entry.row.rowId);
    this.arm();
  }

  remove(entry: InFlight): void {
    this.entries.delete(entry.row.rowId);
    this.ids.delete(entry.row.rowId);
  }

  /** No more timeouts until the next add (the connection is gone, or the link stopped). */
  disarm(): void {
    this.clock.clearTimer(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.timer) return;
    for (const e of this.entries.values()) {
      if (e.settled || e.timedOut) continue;
      const due = e.startedAt + this.ackTimeoutMs - this.clock.now();
      this.timer = this.clock.setTimer(() => this.sweep(), due);
      return;
    }
  }

  private sweep(): void {
    this.timer = null;
    const t = this.clock.now();
    const timedOut: InFlight[] = [];
    for (const e of this.entries.values()) {
      if (e.settled || e.timedOut) continue;
      if (t - e.startedAt < this.ackTimeoutMs) break;
      e.timedOut = true;
      timedOut.push(e);
    }
    this.arm();
    if (timedOut.length > 0) this.onTimeout(timedOut);
  }
}

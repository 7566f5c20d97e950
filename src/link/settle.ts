import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { OutboxQueue } from '../store/outbox-types.js';
import type { InFlight } from './in-flight.js';
import type { LinkStore } from './link-store.js';
import type { PublishFailure } from './reason-codes.js';

export type Outcome = { kind: 'ack' } | PublishFailure | { kind: 'lost' };

export interface SettleCounters {
  published: number;
  retries: number;
  deadLettered: number;
  /** Last PUBACK, epoch ms. */
  lastSuccessTs: number | null;
}

export interface SettlerOptions {
  /** The time stamped on the outbox's records. */
  stamp: () => number;
  log: Logger;
  outbox: OutboxQueue;
  store: Pick<LinkStore, 'transaction'>;
  counters: SettleCounters;
  noteError: (message: string) => void;
  /** The row is out of the window (its fate is in the outbox now). */
  release: (entry: InFlight) => void;
}

/**
 * What each publish's outcome does to its outbox row: a PUBACK deletes it (batched: one transaction for
 * the PUBACKs received between two drains, the row staying in flight until its delete commits, so no
 * batch picks it up again); a refusal for good moves it to the dead letters; anything else retries it.
 * The breaker hears of each outcome that says something about the broker's health.
 */
export class Settler {
  private pendingAcks: InFlight[] = [];
  /** After the link stopped: nothing touches the store any more (it may be closed). */
  private closed = false;

  constructor(private readonly o: SettlerOptions) {}

  /** False when the publish was settled already. */
  settle(entry: InFlight, outcome: Outcome): boolean {
    if (entry.settled) return false;
    entry.settled = true;
    const { rowId } = entry.row;
    const t = this.o.stamp();
    const c = this.o.counters;
    switch (outcome.kind) {
      case 'ack':
        entry.ticket.success();
        c.published++;
        c.lastSuccessTs = t;
        this.pendingAcks.push(entry);
        break;
      case 'dead-letter':
        // The broker is healthy; this one message is not acceptable to it.
        entry.ticket.success();
        c.deadLettered++;
        this.o.log.error(
          { rowId, topic: entry.row.topic, reason: outcome.reason },
          'link: broker refused a message for good',
        );
        this.write(() => this.o.outbox.deadLetter(rowId, outcome.reason, t));
        this.o.release(entry);
        break;
      case 'retry':
        entry.ticket.failure();
        c.retries++;
        this.o.noteError(outcome.reason);
        this.write(() => this.o.outbox.retry(rowId, outcome.reason, t));
        this.o.release(entry);
        break;
      case 'lost':
        // Not the broker's health: the session deals with lost connections.
        entry.ticket.cancel();
        this.write(() => this.o.outbox.retry(rowId, 'connection lost', t));
        this.o.release(entry);
        break;
    }
    return true;
  }

  /** Commits the PUBACKs received since the last call in one transaction. */
  flushAcks(): void {
    if (this.pendingAcks.length === 0) return;
    const batch = this.pendingAcks;
    this.pendingAcks = [];
    const t = this.o.stamp();
    this.write(() =>
      this.o.store.transaction(() => {
        for (const e of batch) this.o.outbox.ack(e.row.rowId, t);
      }),
    );
    for (const e of batch) this.o.release(e);
  }

  /** Commits what was acknowledged; later outcomes write nothing. */
  close(): void {
    this.flushAcks();
    this.closed = true;
  }

  private write(fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (err) {
      this.o.noteError(`outbox: ${errorText(err)}`);
      this.o.log.error({ err }, 'link: outbox update failed');
    }
  }
}

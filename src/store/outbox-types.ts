/**
 * The contract between the store's persistent outbox and the MQTT link (docs/messages.md, "The outbox
 * classes"). The outbox decides what may be sent and in which order; the link decides when, and reports
 * back what the broker said.
 */

/** Message classes. Each class has one row in OUTBOX_CLASSES. */
export type OutboxClass =
  | 'trade'
  | 'trade-ack'
  | 'reject'
  | 'settlement'
  | 'accept'
  | 'offer'
  | 'offer-sync'
  | 'telemetry';

export type OutboxPolicy =
  /** Kept until acknowledged, whatever the caps say. Its transaction is synced (a promise to a neighbour). */
  | 'never-shed'
  /** Needs `expiresAt`; dropped (counted, never sent) once it has passed, checked at dequeue. */
  | 'expire'
  /** Like `expire`, and a newer row with the same coalesce key replaces the unsent older one. */
  | 'coalesce-expire'
  /** Oldest rows dropped first when the row or byte cap is reached. */
  | 'shed-oldest';

/** How the outbox keeps and sends the rows of one class. */
export interface OutboxClassRule {
  policy: OutboxPolicy;
  /** Drain rank: rank 0 drains first; order always holds within one class. */
  priority: number;
  /** Published as a retained message: every row of the class carries this `retain`, the link publishes it. */
  retain: boolean;
  /**
   * The rowId range of the class (see outbox-sql.ts). Stored in the data: never renumber a class, give a
   * new one a new slot (the drain order is `priority`, not the slot).
   */
  slot: number;
}

/**
 * The one table of delivery rules: promises first and never shed, then accepts and offers (stale after
 * gate closure; an offer replaces the unsent older one on its retained topic), telemetry last.
 */
export const OUTBOX_CLASSES: { readonly [C in OutboxClass]: Readonly<OutboxClassRule> } = {
  trade: { policy: 'never-shed', priority: 0, retain: false, slot: 0 },
  'trade-ack': { policy: 'never-shed', priority: 1, retain: false, slot: 1 },
  reject: { policy: 'never-shed', priority: 2, retain: false, slot: 2 },
  settlement: { policy: 'never-shed', priority: 3, retain: false, slot: 3 },
  accept: { policy: 'expire', priority: 4, retain: false, slot: 4 },
  offer: { policy: 'coalesce-expire', priority: 5, retain: true, slot: 5 },
  // Offer requests and the offer copies that answer them: stale after gate closure, never retained.
  'offer-sync': { policy: 'expire', priority: 6, retain: false, slot: 7 },
  telemetry: { policy: 'shed-oldest', priority: 7, retain: false, slot: 6 },
};

/** Each class's policy (from OUTBOX_CLASSES). */
export const OUTBOX_POLICIES: { readonly [C in OutboxClass]: OutboxPolicy } = Object.fromEntries(
  Object.entries(OUTBOX_CLASSES).map(([c, rule]) => [c, rule.policy]),
) as Record<OutboxClass, OutboxPolicy>;

/** The classes in drain order (from OUTBOX_CLASSES). */
export const OUTBOX_PRIORITY: readonly OutboxClass[] = (Object.keys(OUTBOX_CLASSES) as OutboxClass[]).sort(
  (a, b) => OUTBOX_CLASSES[a].priority - OUTBOX_CLASSES[b].priority,
);

/** A row of the class needs `expiresAt` and is dropped unsent once it has passed. */
export function expires(cls: OutboxClass): boolean {
  const p = OUTBOX_CLASSES[cls].policy;
  return p === 'expire' || p === 'coalesce-expire';
}

/** A row of the class replaces the unsent older one with the same coalesce key (by default its topic). */
export function coalesces(cls: OutboxClass): boolean {
  return OUTBOX_CLASSES[cls].policy === 'coalesce-expire';
}

/** A row of the class is a promise: never shed, and the transaction that writes it is synced. */
export function isPromise(cls: OutboxClass): boolean {
  return OUTBOX_CLASSES[cls].policy === 'never-shed';
}

export interface OutboxMessage {
  /** The envelope id: the idempotency key, identical on every retry. */
  id: string;
  class: OutboxClass;
  topic: string;
  payload: Buffer;
  /**
   * The class decides it (OUTBOX_CLASSES): leave it out; a message that gives another value than its
   * class's is refused.
   */
  retain?: boolean;
  /** Epoch ms after which the message is stale and must never be sent (required for expire policies). */
  expiresAt?: number;
  /** For `coalesce-expire`: rows with the same key replace each other. Default: the topic. */
  coalesceKey?: string;
}

/** A row as the link gets it: `retain` is final (its class's), the link publishes it as is. */
export interface OutboxRow extends OutboxMessage {
  retain: boolean;
  rowId: number;
  enqueuedAt: number;
  attempts: number;
}

export type DropReason = 'expired' | 'coalesced' | 'shed-cap' | 'purged';

export interface OutboxStats {
  depth: Record<OutboxClass, number>;
  bytes: number;
  oldestAgeMs: number | null;
  drops: Record<DropReason, number>;
  retries: number;
  deadLetters: number;
  sent: number;
  lastSuccessTs: number | null;
}

/** What the link needs from the outbox. All methods are synchronous (better-sqlite3). */
export interface OutboxQueue {
  /**
   * Rows ready to send, in priority order and in order within each class, at most `limit`, skipping
   * rows whose rowId is in `inFlight` and the classes in `skip` (those a fallback broker must not take).
   * Expired rows met on the way are deleted and counted, not returned.
   */
  nextBatch(
    limit: number,
    now: number,
    inFlight: ReadonlySet<number>,
    skip?: ReadonlySet<OutboxClass>,
  ): OutboxRow[];
  /** The broker acknowledged the row (PUBACK): delete it. */
  ack(rowId: number, now: number): void;
  /** A send attempt failed in a retryable way: count it, keep the row. */
  retry(rowId: number, error: string, now: number): void;
  /** The broker refused the row for good (MQTT 5 reason code): move it to the dead-letter table. */
  deadLetter(rowId: number, reason: string, now: number): void;
  stats(now: number): OutboxStats;
}

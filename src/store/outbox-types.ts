/**
 * The contract between the store's persistent outbox and the MQTT link (DESIGN §5). The outbox decides
 * what may be sent and in which order; the link decides when, and reports back what the broker said.
 */

/** Message classes. Each class has one delivery policy, see OUTBOX_POLICIES. */
export type OutboxClass = 'trade' | 'trade-ack' | 'reject' | 'settlement' | 'accept' | 'offer' | 'telemetry';

export type OutboxPolicy =
  /** Kept until acknowledged, whatever the caps say. Enqueue fails loudly rather than shed one. */
  | 'never-shed'
  /** Dropped (counted, never sent) once `expiresAt` has passed; checked at dequeue. */
  | 'expire'
  /** Like `expire`, and a newer row with the same `coalesceKey` replaces the unsent older one. */
  | 'coalesce-expire'
  /** Oldest rows dropped first when the row or byte cap is reached. */
  | 'shed-oldest';

export const OUTBOX_POLICIES: Record<OutboxClass, OutboxPolicy> = {
  trade: 'never-shed',
  'trade-ack': 'never-shed',
  reject: 'never-shed',
  settlement: 'never-shed',
  accept: 'expire',
  offer: 'coalesce-expire',
  telemetry: 'shed-oldest',
};

/** Drain priority: promises first, telemetry last. Order always holds within one class. */
export const OUTBOX_PRIORITY: readonly OutboxClass[] = [
  'trade',
  'trade-ack',
  'reject',
  'settlement',
  'accept',
  'offer',
  'telemetry',
];

export interface OutboxMessage {
  /** The envelope id: the idempotency key, identical on every retry. */
  id: string;
  class: OutboxClass;
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** Epoch ms after which the message is stale and must never be sent (required for expire policies). */
  expiresAt?: number;
  /** For `coalesce-expire`: rows with the same key replace each other (e.g. the home's offer topic). */
  coalesceKey?: string;
}

export interface OutboxRow extends OutboxMessage {
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
   * rows whose rowId is in `inFlight`. Expired rows met on the way are deleted and counted, not returned.
   */
  nextBatch(limit: number, now: number, inFlight: ReadonlySet<number>): OutboxRow[];
  /** The broker acknowledged the row (PUBACK): delete it. */
  ack(rowId: number, now: number): void;
  /** A send attempt failed in a retryable way: count it, keep the row. */
  retry(rowId: number, error: string, now: number): void;
  /** The broker refused the row for good (MQTT 5 reason code): move it to the dead-letter table. */
  deadLetter(rowId: number, reason: string, now: number): void;
  stats(now: number): OutboxStats;
}

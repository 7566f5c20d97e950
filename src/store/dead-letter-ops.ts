import type { DeadLetter, DeadLetters } from './dead-letters.js';
import type { Outbox } from './outbox.js';
import { expires, type OutboxClass } from './outbox-types.js';

/** The parts of a store that sending a dead letter again touches. */
export interface DeadLetterStore {
  readonly outbox: Outbox;
  readonly deadLetters: DeadLetters;
  transaction<T>(fn: () => T): T;
}

/**
 * Why a dead letter may not go back to the outbox, or null when it may: only outbound ones of a class
 * that does not expire (a stale offer or accept is never sent again; a fresh one replaces it).
 */
export function retryRefusal(d: Pick<DeadLetter, 'direction' | 'class'>): string | null {
  if (d.direction !== 'out' || d.class === null)
    return 'inbound: it came from a neighbour, there is nothing to send';
  if (expires(d.class)) return `${d.class} messages expire: a stale one is never sent again`;
  return null;
}

export type RequeueResult = { rowId: number } | { refused: string; missing: boolean };

/**
 * Moves one dead letter back to the outbox with its original message id (receivers dedupe on it), in
 * one transaction; a refused one stays where it was.
 */
export function requeueDeadLetter(store: DeadLetterStore, id: number, now: number): RequeueResult {
  return store.transaction((): RequeueResult => {
    const d = store.deadLetters.get(id);
    if (d === undefined) return { refused: 'no such dead letter', missing: true };
    const refusal = retryRefusal(d);
    if (refusal !== null) return { refused: refusal, missing: false };
    store.deadLetters.take(id);
    const rowId = store.outbox.enqueue(
      {
        id: d.messageId ?? `dlq-${id}`,
        // Not refused: an outbound row, which always has its class.
        class: d.class as OutboxClass,
        topic: d.topic,
        payload: d.payload,
      },
      now,
    );
    return { rowId };
  });
}

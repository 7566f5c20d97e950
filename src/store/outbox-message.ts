import { type Envelope, encodeEnvelope } from '../protocol/envelope.js';
import { OUTBOX_CLASSES, type OutboxClass, type OutboxMessage } from './outbox-types.js';

/**
 * The one way an envelope becomes an outbox row: its id is the row's idempotency key, its wire form the
 * payload, its `exp` the row's expiry. Retention and coalescing are the class's (OUTBOX_CLASSES), set by
 * the outbox itself. Sign the envelope first: the row is sent as it is.
 */
export function envelopeMessage(env: Envelope<object>, cls: OutboxClass, topic: string): OutboxMessage {
  const msg: OutboxMessage = { id: env.id, class: cls, topic, payload: encodeEnvelope(env) };
  if (env.exp !== undefined) msg.expiresAt = env.exp;
  return msg;
}

/**
 * An empty payload on a retained topic: "nothing here now". As a row of the topic's class it also
 * replaces an unsent row on that topic (an offer not yet published is never published).
 */
export function clearRetainedMessage(
  cls: OutboxClass,
  topic: string,
  id: string,
  expiresAt: number,
): OutboxMessage {
  if (!OUTBOX_CLASSES[cls].retain)
    throw new Error(`outbox: ${cls} messages are not retained, nothing to clear`);
  return { id, class: cls, topic, payload: Buffer.alloc(0), expiresAt };
}

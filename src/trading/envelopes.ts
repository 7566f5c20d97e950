import type { Command, InboundMessage, OutgoingMessage } from '../engine/types.js';
import { createEnvelope, type Envelope } from '../protocol/envelope.js';
import type { Signer } from '../protocol/signing.js';
import { homeTopic } from '../protocol/topics.js';
import { TRADING_TYPES } from '../protocol/trading.js';
import {
  clearRetainedMessage,
  envelopeMessage,
  isPromise,
  type OutboxMessage,
  type Seq,
} from '../store/index.js';

/** Between envelopes and the engine's messages, both ways. */

export type SendCommand = Extract<Command, { kind: 'send' | 'clear-offer' }>;

/**
 * Turns the engine's send and clear-offer commands into outbox rows: the envelope gets this home's zone,
 * the next seq and the time, and is signed; the topic follows the destination. How a row is kept and
 * published (retained, coalesced, expiring) is its class's, in the outbox class table.
 */
export class Outgoing {
  private readonly offerTopic: string;

  constructor(
    private readonly home: { id: string; zone: string },
    private readonly signer: Signer,
  ) {
    this.offerTopic = homeTopic(home.zone, home.id, 'offer');
  }

  /** Call inside the step's transaction: it takes seq numbers. */
  message(cmd: SendCommand, seq: Seq, now: number): OutboxMessage {
    if (cmd.kind === 'clear-offer') {
      // An empty retained payload on the own offer topic: "no offer" (it replaces an unsent offer row).
      return clearRetainedMessage('offer', this.offerTopic, `clear-offer-${cmd.exp}-${now}`, cmd.exp);
    }
    const m = cmd.message;
    const env = this.signer.sign(
      createEnvelope({
        type: m.type,
        id: m.id,
        from: this.home.id,
        zone: this.home.zone,
        seq: seq.next(),
        ts: now,
        body: m.body,
        exp: m.exp,
        corr: m.corr,
      }),
    );
    return envelopeMessage(env, m.class, this.topic(m));
  }

  private topic(m: OutgoingMessage): string {
    return 'own' in m.to
      ? homeTopic(this.home.zone, this.home.id, m.to.own)
      : homeTopic(this.home.zone, m.to.inbox, 'inbox');
  }
}

/** The step sends a message that is a promise to a neighbour (its commit must be synced). */
export function sendsPromise(commands: readonly Command[]): boolean {
  return commands.some((c) => c.kind === 'send' && isPromise(c.message.class));
}

const TRADING: ReadonlySet<string> = new Set(TRADING_TYPES);

/** A verified envelope as the engine's inbound message; null for a type that is not trading's. */
export function inboundMessage(env: Envelope): InboundMessage | null {
  if (!TRADING.has(env.type)) return null;
  return {
    type: env.type,
    id: env.id,
    from: env.from,
    ts: env.ts,
    body: env.body,
    ...(env.exp !== undefined ? { exp: env.exp } : {}),
    ...(env.corr !== undefined ? { corr: env.corr } : {}),
  } as InboundMessage; // the inbox decoded the body with the schema of its type
}

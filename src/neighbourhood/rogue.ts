import type { KeyObject } from 'node:crypto';
import type { InboxRejectReason } from '../link/inbox.js';
import { createEnvelope, encodeEnvelope, MAX_ENVELOPE_BYTES } from '../protocol/envelope.js';
import { createSigner } from '../protocol/signing.js';
import { homeTopic } from '../protocol/topics.js';
import type { TradeBody } from '../protocol/trading.js';
import type { SimBroker } from './broker.js';
import type { SimHome } from './home.js';
import type { Random } from './random.js';
import type { Scheduler } from './scheduler.js';
import { ROGUE_ID } from './wire.js';

/**
 * A rogue client on the broker: garbage, oversized and malformed payloads, unsigned and forged envelopes
 * in the name of real homes, envelopes from homes outside the keyring, real messages with a byte of the
 * body changed (the signature no longer matches) and exact replays of messages a home already took on its
 * inbox (offers are not deduplicated: an inbox takes a replayed offer as it takes a retained one again).
 * Each goes straight to a connected home, and the reason its inbox must refuse it with is counted: the
 * checks compare those counts with the dead letters, and a run with the rogue must trade exactly like
 * the same run without it.
 */
export type RogueKind =
  | 'garbage'
  | 'oversized'
  | 'bad-envelope'
  | 'wrong-zone'
  | 'sender-mismatch'
  | 'wrong-type'
  | 'unsigned'
  | 'forged'
  | 'unknown-sender'
  | 'tampered'
  | 'replay';

/** Kinds that only a signature check refuses: left out when the homes do not sign. */
const NEEDS_SIGNATURES: ReadonlySet<RogueKind> = new Set([
  'unsigned',
  'forged',
  'unknown-sender',
  'tampered',
]);

const EXPECTED: Record<RogueKind, InboxRejectReason> = {
  garbage: 'not-json',
  oversized: 'oversized',
  'bad-envelope': 'bad-envelope',
  'wrong-zone': 'wrong-zone',
  'sender-mismatch': 'sender-mismatch',
  'wrong-type': 'wrong-type',
  unsigned: 'unsigned',
  forged: 'bad-signature',
  'unknown-sender': 'unknown-sender',
  tampered: 'bad-signature',
  replay: 'duplicate',
};

export interface RogueOptions {
  sched: Scheduler;
  broker: SimBroker;
  rnd: Random;
  zone: string;
  homes: readonly SimHome[];
  signatures: boolean;
  key: KeyObject;
}

export class RogueClient {
  /** Messages handed to a home, by the reason its inbox must refuse them with. */
  readonly expected: Partial<Record<InboxRejectReason, number>> = {};
  private seq = 0;
  private readonly kinds: RogueKind[];

  constructor(private readonly o: RogueOptions) {
    this.kinds = (Object.keys(EXPECTED) as RogueKind[]).filter(
      (k) => o.signatures || !NEEDS_SIGNATURES.has(k),
    );
  }

  /** Sends one message of a random kind to a random connected home; false if none got it. */
  strike(): boolean {
    const { rnd, broker } = this.o;
    const kind = rnd.pick(this.kinds);
    const targets = this.o.homes.filter((h) => h.connected);
    if (targets.length === 0) return false;
    const target = rnd.pick(targets);
    const neighbour = rnd.pick(this.o.homes.filter((h) => h !== target));
    const made = this.make(kind, target, neighbour);
    if (made === null) return false;
    const delivered = broker.inject(target.id, {
      topic: made.topic,
      payload: made.payload,
      retain: false,
      expiresAt: undefined,
      from: ROGUE_ID,
      type: null,
    });
    if (!delivered) return false;
    const reason = EXPECTED[kind];
    this.expected[reason] = (this.expected[reason] ?? 0) + 1;
    return true;
  }

  private make(
    kind: RogueKind,
    target: SimHome,
    neighbour: SimHome,
  ): { topic: string; payload: Buffer } | null {
    const { zone, rnd, sched } = this.o;
    const inbox = target.inboxTopic;
    const now = sched.now;
    switch (kind) {
      case 'garbage': {
        const bytes = Buffer.alloc(rnd.int(1, 200));
        for (let i = 0; i < bytes.length; i++) bytes[i] = rnd.int(0, 255);
        return { topic: inbox, payload: Buffer.concat([Buffer.from('garbage:'), bytes]) };
      }
      case 'oversized':
        return {
          topic: inbox,
          payload: Buffer.from(JSON.stringify({ v: 1, pad: 'x'.repeat(MAX_ENVELOPE_BYTES) })),
        };
      case 'bad-envelope':
        return {
          topic: inbox,
          payload: Buffer.from(JSON.stringify({ v: 1, hello: 'neighbour', n: rnd.int(0, 1e6) })),
        };
      case 'wrong-zone':
        return { topic: inbox, payload: this.trade(neighbour.id, target.id, 'other-zone', neighbour.id) };
      case 'sender-mismatch': {
        // A neighbour's offer topic carrying an envelope from someone else.
        const other = this.o.homes.find((h) => h !== target && h !== neighbour) ?? target;
        return { topic: homeTopic(zone, neighbour.id, 'offer'), payload: this.offer(other.id) };
      }
      case 'wrong-type':
        return {
          topic: homeTopic(zone, neighbour.id, 'offer'),
          payload: this.trade(neighbour.id, target.id, zone, null),
        };
      case 'unsigned':
        return { topic: inbox, payload: this.trade(neighbour.id, target.id, zone, null) };
      case 'forged':
        return { topic: inbox, payload: this.trade(neighbour.id, target.id, zone, neighbour.id) };
      case 'unknown-sender':
        return { topic: inbox, payload: this.trade('rogue-home', target.id, zone, 'rogue-home') };
      case 'tampered': {
        const seen = this.pickAccepted(target, now, false);
        const payload = seen ? tamper(seen.payload) : null;
        return seen && payload ? { topic: seen.topic, payload } : null;
      }
      case 'replay': {
        const seen = this.pickAccepted(target, now, true);
        return seen ? { topic: seen.topic, payload: seen.payload } : null;
      }
    }
  }

  /** A message the target took (on its inbox topic only, or on any) that its inbox would not call expired. */
  private pickAccepted(target: SimHome, now: number, inboxOnly: boolean) {
    const fresh = target.accepted.filter(
      (a) => (a.exp === undefined || a.exp > now + 1_000) && (!inboxOnly || a.topic === target.inboxTopic),
    );
    return fresh.length > 0 ? this.o.rnd.pick(fresh) : null;
  }

  private uuid(): string {
    const { rnd, sched } = this.o;
    const hex = (n: number) => Array.from({ length: n }, () => rnd.int(0, 15).toString(16)).join('');
    const ms = sched.now.toString(16).padStart(12, '0');
    return `${ms.slice(0, 8)}-${ms.slice(8)}-7${hex(3)}-${'89ab'[rnd.int(0, 3)]}${hex(3)}-${hex(12)}`;
  }

  /** A well-formed trade from `seller` to `buyer`, signed with the rogue's key as `signAs` (null: unsigned). */
  private trade(seller: string, buyer: string, zone: string, signAs: string | null): Buffer {
    const now = this.o.sched.now;
    const slotMs = 900_000;
    const body: TradeBody = {
      tradeId: this.uuid(),
      acceptId: this.uuid(),
      seller,
      buyer,
      slot: (Math.floor(now / slotMs) + 1) * slotMs,
      slotMs,
      version: 1,
      energyWh: this.o.rnd.int(50, 5_000),
      priceCentsPerKwh: 1,
      confirmedAt: now,
    };
    const env = createEnvelope({
      type: 'trade',
      from: seller,
      zone,
      seq: this.seq++,
      ts: now,
      body,
      id: this.uuid(),
    });
    return encodeEnvelope(signAs === null ? env : createSigner(signAs, this.o.key).sign(env));
  }

  private offer(from: string): Buffer {
    const now = this.o.sched.now;
    const slotMs = 900_000;
    const slot = (Math.floor(now / slotMs) + 1) * slotMs;
    const energyWh = this.o.rnd.int(100, 50_000);
    const env = createEnvelope({
      type: 'offer',
      from,
      zone: this.o.zone,
      seq: this.seq++,
      ts: now,
      exp: slot,
      id: this.uuid(),
      body: { slot, slotMs, version: 1, energyWh, availableWh: energyWh, priceCentsPerKwh: 0, reserveWh: 0 },
    });
    return encodeEnvelope(createSigner(from, this.o.key).sign(env));
  }
}

/**
 * The same envelope with one figure of its body changed (still a valid body) and the original signature
 * kept; null if the body has nothing to change.
 */
function tamper(payload: Buffer): Buffer | null {
  const env = JSON.parse(payload.toString('utf8')) as { body: Record<string, unknown> };
  const b = env.body;
  const field = ['energyWh', 'allocatedWh', 'availableWh'].find((k) => typeof b[k] === 'number');
  if (field !== undefined) b[field] = (b[field] as number) + 1;
  else if (b.of === 'trade' || b.of === 'settlement') b.of = b.of === 'trade' ? 'settlement' : 'trade';
  else return null;
  return Buffer.from(JSON.stringify(env));
}

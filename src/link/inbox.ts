import { systemClock } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { type DecodeFailure, decodeEnvelope, type Envelope, TYPE_TOPICS } from '../protocol/envelope.js';
import type { VerifyFailure } from '../protocol/signing.js';
import { homeSubscriptions, homeTopic, parseTopic } from '../protocol/topics.js';
import type { LinkStore } from './link-store.js';

/**
 * Inbound messages: the home's inbox and the zone's retained offers. Every payload is checked in order of
 * cost (size, UTF-8 + JSON, envelope schema, body schema, topic consistency, expiry, signature, dedupe), so
 * garbage is refused before it costs much. Offers skip the dedupe, so the store writes nothing for one
 * unless the handler does. A refused message goes to the dead-letter table with its reason
 * and is counted; handle() never throws. The dead letter's reason is the bare reason code (one bucket
 * per reason for counting); the detail goes to the debug log.
 */

export type InboxRejectReason =
  | DecodeFailure
  /** Not an inbox or offer topic of this home's zone. */
  | 'unexpected-topic'
  /** Envelope zone differs from the topic's zone. */
  | 'wrong-zone'
  /** On an offer topic, the envelope's sender is not the home the topic belongs to. */
  | 'sender-mismatch'
  /** The message type is not carried on that topic (e.g. a trade on an offer topic). */
  | 'wrong-type'
  /** `exp` is in the past. */
  | 'expired'
  | VerifyFailure
  /** (from, id) seen before: a QoS 1 redelivery or a replay (not for offers, which are not deduplicated). */
  | 'duplicate'
  /** The message handler threw; the message is kept here for inspection. */
  | 'handler-error';

export const INBOX_REJECT_REASONS: readonly InboxRejectReason[] = [
  'oversized',
  'not-json',
  'bad-envelope',
  'bad-body',
  'unexpected-topic',
  'wrong-zone',
  'sender-mismatch',
  'wrong-type',
  'expired',
  'unsigned',
  'bad-signature',
  'unknown-sender',
  'duplicate',
  'handler-error',
];

export type InboxOutcome =
  | { kind: 'accepted'; envelope: Envelope }
  | { kind: 'rejected'; reason: InboxRejectReason; detail: string }
  /** An empty retained payload on a neighbour's offer topic: that home has no offer now. */
  | { kind: 'offer-withdrawn'; home: string }
  /** This home's own offer or offer request, echoed by a 3.1.1 broker (MQTT 5 subscribes with No Local). */
  | { kind: 'own-echo' };

export interface InboxStats {
  accepted: number;
  rejected: Record<InboxRejectReason, number>;
  offersWithdrawn: number;
}

export interface InboxOptions {
  home: { id: string; zone: string };
  store: LinkStore;
  log: Logger;
  now?: () => number;
  /**
   * Runs inside the store transaction that records (from, id) as seen (for an offer, one that records
   * nothing itself): write through the store.
   */
  onMessage?: (env: Envelope, topic: string) => void;
  onOfferWithdrawn?: (home: string) => void;
  /** Signature and sender check; null = accepted. Without it envelopes are accepted unsigned. */
  verify?: (env: Envelope, payload: Buffer) => VerifyFailure | null;
}

export interface Inbox {
  /** Topic filters to subscribe to (QoS 1). */
  readonly subscriptions: readonly string[];
  handle(topic: string, payload: Buffer): InboxOutcome;
  stats(): InboxStats;
}

export function createInbox(opts: InboxOptions): Inbox {
  const { home, store, log } = opts;
  const now = opts.now ?? systemClock.now;
  const inboxTopic = homeTopic(home.zone, home.id, 'inbox');
  const rejected = Object.fromEntries(INBOX_REJECT_REASONS.map((r) => [r, 0])) as Record<
    InboxRejectReason,
    number
  >;
  let accepted = 0;
  let offersWithdrawn = 0;

  function reject(
    topic: string,
    payload: Buffer,
    reason: InboxRejectReason,
    detail: string,
    env?: Envelope,
  ): InboxOutcome {
    rejected[reason]++;
    try {
      store.deadLetters.add(
        {
          direction: 'in',
          reason,
          topic: topic.slice(0, 256),
          payload,
          ...(env ? { from: env.from, messageId: env.id } : {}),
        },
        now(),
      );
    } catch (err) {
      log.error({ err, reason }, 'inbox: could not record a dead letter');
    }
    log.debug({ topic, reason, detail }, 'inbox: message refused');
    return { kind: 'rejected', reason, detail };
  }

  function handle(topic: string, payload: Buffer): InboxOutcome {
    try {
      return check(topic, payload);
    } catch (err) {
      return reject(topic, payload, 'handler-error', errorText(err));
    }
  }

  function check(topic: string, payload: Buffer): InboxOutcome {
    const t = parseTopic(topic);
    const isInbox = topic === inboxTopic;
    const isOffer = t !== null && t.zone === home.zone && t.kind === 'offer';
    const isRequest = t !== null && t.zone === home.zone && t.kind === 'requests';
    if (!t || !(isInbox || isOffer || isRequest)) return reject(topic, payload, 'unexpected-topic', topic);
    if ((isOffer || isRequest) && t.home === home.id) return { kind: 'own-echo' };
    if (isOffer && payload.length === 0) {
      offersWithdrawn++;
      try {
        opts.onOfferWithdrawn?.(t.home);
      } catch (err) {
        log.error({ err, home: t.home }, 'inbox: offer-withdrawn handler threw');
      }
      return { kind: 'offer-withdrawn', home: t.home };
    }

    const decoded = decodeEnvelope(payload);
    if (!decoded.ok) return reject(topic, payload, decoded.reason, decoded.detail);
    const env = decoded.envelope;
    if (env.zone !== t.zone) return reject(topic, payload, 'wrong-zone', `${env.zone} on ${t.zone}`, env);
    if ((isOffer || isRequest) && env.from !== t.home) {
      return reject(topic, payload, 'sender-mismatch', `${env.from} on ${t.home}'s ${t.kind}`, env);
    }
    if (!TYPE_TOPICS[env.type].includes(t.kind)) {
      return reject(topic, payload, 'wrong-type', `${env.type} on ${t.kind}`, env);
    }
    const at = now();
    if (env.exp !== undefined && env.exp <= at) {
      return reject(topic, payload, 'expired', `exp ${env.exp} <= now ${at}`, env);
    }
    const unverified = opts.verify?.(env, payload) ?? null;
    if (unverified !== null) return reject(topic, payload, unverified, `${env.type} from ${env.from}`, env);

    let fresh: boolean;
    try {
      fresh = store.transaction(() => {
        // Offers are state, not events: taking one twice is harmless (the engine keeps the newest), and a
        // restarted home must take the retained offers the broker delivers again although it saw their ids.
        if (!isOffer && !store.inbox.firstSeen(env.from, env.id, at)) return false;
        opts.onMessage?.(env, topic);
        return true;
      });
    } catch (err) {
      return reject(topic, payload, 'handler-error', errorText(err), env);
    }
    if (!fresh) return reject(topic, payload, 'duplicate', `${env.from}/${env.id}`, env);
    accepted++;
    return { kind: 'accepted', envelope: env };
  }

  return {
    subscriptions: homeSubscriptions(home.zone, home.id),
    handle,
    stats: () => ({ accepted, rejected: { ...rejected }, offersWithdrawn }),
  };
}

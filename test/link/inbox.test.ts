import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInbox, INBOX_REJECT_REASONS, type Inbox } from '../../src/link/inbox.js';
import {
  createEnvelope,
  type Envelope,
  type EnvelopeInput,
  encodeEnvelope,
  MAX_ENVELOPE_BYTES,
} from '../../src/protocol/envelope.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { sampleBody, type TradingType } from '../helpers/trading-bodies.js';
import { HOME, type TempStore, tempStore, testLogger } from './helpers.js';

const INBOX = homeTopic(HOME.zone, HOME.id, 'inbox');
const NEIGHBOUR = 'home-2';
const NEIGHBOUR_OFFER = homeTopic(HOME.zone, NEIGHBOUR, 'offer');

/** A valid envelope from the neighbour, by default an accept of this home's offer; its body fits its type. */
function env(
  over: Partial<Omit<EnvelopeInput<Record<string, unknown>>, 'type'>> & { type?: TradingType } = {},
): Envelope {
  const now = Date.now();
  const type = over.type ?? 'accept';
  return createEnvelope({
    type,
    from: NEIGHBOUR,
    zone: HOME.zone,
    seq: 1,
    ts: now,
    exp: now + 60_000,
    body: type === 'accept' ? sampleBody('accept', { seller: HOME.id }) : sampleBody(type),
    ...over,
  });
}

const wire = (e: object) => Buffer.from(JSON.stringify(e));

describe('inbox', () => {
  let ts: TempStore;
  let inbox: Inbox;
  let received: { env: Envelope; topic: string }[];
  let throwOnce: boolean;

  beforeEach(() => {
    ts = tempStore();
    received = [];
    throwOnce = false;
    inbox = createInbox({
      home: HOME,
      store: ts.store,
      log: testLogger(),
      onMessage: (e, topic) => {
        if (throwOnce) {
          throwOnce = false;
          throw new Error('handler bug');
        }
        received.push({ env: e, topic });
      },
    });
  });
  afterEach(() => ts.dispose());

  it('subscribes to its inbox, the zone offers and offer requests, and its own status', () => {
    expect(inbox.subscriptions).toEqual([
      INBOX,
      'powerdeal/v1/zone-a/+/offer',
      'powerdeal/v1/zone-a/+/requests',
      'powerdeal/v1/zone-a/home-1/status',
    ]);
  });

  it('accepts a valid message once and hands it over with its topic', () => {
    const e = env();
    expect(inbox.handle(INBOX, encodeEnvelope(e)).kind).toBe('accepted');
    expect(received).toEqual([{ env: e, topic: INBOX }]);
    const offer = env({ type: 'offer', exp: Date.now() + 60_000 });
    expect(inbox.handle(NEIGHBOUR_OFFER, encodeEnvelope(offer)).kind).toBe('accepted');
    expect(inbox.stats().accepted).toBe(2);
  });

  it('refuses each kind of bad message with its precise reason, dead-letters and counts it', () => {
    const now = Date.now();
    const valid = env();
    const cases: [string, string, Buffer][] = [
      ['oversized', INBOX, Buffer.alloc(MAX_ENVELOPE_BYTES + 1, 0x20)],
      ['not-json', INBOX, Buffer.from([0xff, 0x00, 0x13, 0x37])],
      ['not-json', INBOX, Buffer.from('{"v":1,')],
      ['not-json', INBOX, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])], // invalid UTF-8
      ['bad-envelope', INBOX, Buffer.from('[[[[[[[[[[]]]]]]]]]]')],
      ['bad-envelope', INBOX, wire({ hello: 'world' })],
      ['bad-envelope', INBOX, wire({ ...valid, v: 2 })],
      ['bad-envelope', INBOX, wire({ ...valid, extra: true })],
      ['bad-envelope', INBOX, wire({ ...valid, id: 'not-a-uuid' })],
      ['bad-envelope', INBOX, wire({ ...valid, seq: -1 })],
      ['bad-envelope', INBOX, wire({ ...valid, body: 'text' })],
      [
        'bad-body',
        homeTopic(HOME.zone, HOME.id, 'inbox'),
        wire({ ...valid, type: 'status', body: { state: 'maybe' } }),
      ],
      ['bad-body', INBOX, wire({ ...valid, body: { ...valid.body, energyWh: -1 } })],
      ['bad-body', INBOX, wire({ ...valid, body: { offerId: 'x', wh: 500 } })],
      ['unexpected-topic', homeTopic(HOME.zone, 'home-3', 'inbox'), encodeEnvelope(env())],
      ['unexpected-topic', homeTopic('zone-b', NEIGHBOUR, 'offer'), encodeEnvelope(env({ type: 'offer' }))],
      ['unexpected-topic', 'some/other/topic', encodeEnvelope(env())],
      ['wrong-zone', INBOX, encodeEnvelope(env({ zone: 'zone-b' }))],
      ['sender-mismatch', NEIGHBOUR_OFFER, encodeEnvelope(env({ type: 'offer', from: 'home-3' }))],
      ['wrong-type', NEIGHBOUR_OFFER, encodeEnvelope(env({ type: 'trade' }))],
      [
        'wrong-type',
        INBOX,
        encodeEnvelope(env({ type: 'offer-request', body: { slot: 1, slotMs: 900_000 } })),
      ],
      ['expired', INBOX, encodeEnvelope(env({ ts: now - 10_000, exp: now - 1 }))],
      ['expired', NEIGHBOUR_OFFER, encodeEnvelope(env({ type: 'offer', ts: now - 10_000, exp: now - 1 }))],
    ];
    for (const [reason, topic, payload] of cases) {
      const out = inbox.handle(topic, payload);
      expect(out, `${reason} on ${topic}`).toMatchObject({ kind: 'rejected', reason });
    }
    expect(inbox.handle(INBOX, encodeEnvelope(valid)).kind).toBe('accepted');
    expect(inbox.handle(INBOX, encodeEnvelope(valid))).toMatchObject({
      kind: 'rejected',
      reason: 'duplicate',
    });

    const expected: Record<string, number> = {};
    for (const [reason] of cases) expected[reason] = (expected[reason] ?? 0) + 1;
    expected.duplicate = 1;
    const stats = inbox.stats();
    for (const reason of INBOX_REJECT_REASONS)
      expect(stats.rejected[reason], reason).toBe(expected[reason] ?? 0);
    expect(ts.store.deadLetters.totalsByReason()).toEqual(expected);
    expect(received).toHaveLength(1);
    const dup = ts.store.deadLetters.list({ limit: 1 })[0]!;
    expect(dup).toMatchObject({ direction: 'in', reason: 'duplicate', from: NEIGHBOUR, messageId: valid.id });
  });

  it('hands a repeated offer over again, writing nothing for it; a repeated accept or trade is a duplicate', () => {
    const changes = () => (ts.store.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    const offer = encodeEnvelope(env({ type: 'offer' }));
    const before = changes();
    for (let i = 0; i < 3; i++) expect(inbox.handle(NEIGHBOUR_OFFER, offer).kind).toBe('accepted');
    expect(changes()).toBe(before);
    expect(received).toHaveLength(3);
    for (const type of ['accept', 'trade'] as const) {
      const payload = encodeEnvelope(env({ type }));
      expect(inbox.handle(INBOX, payload).kind).toBe('accepted');
      expect(inbox.handle(INBOX, payload)).toMatchObject({ kind: 'rejected', reason: 'duplicate' });
    }
    expect(received).toHaveLength(5);
    expect(ts.store.deadLetters.totalsByReason()).toEqual({ duplicate: 2 });
    expect(inbox.stats()).toMatchObject({ accepted: 5, rejected: { duplicate: 2 } });
  });

  it('after a restart, takes the retained offers the broker delivers again, but not a repeated accept', () => {
    const offer = encodeEnvelope(env({ type: 'offer' }));
    const accept = encodeEnvelope(env());
    expect(inbox.handle(NEIGHBOUR_OFFER, offer).kind).toBe('accepted');
    expect(inbox.handle(INBOX, accept).kind).toBe('accepted');
    // The process restarts: a new inbox over the same store file.
    const store = ts.reopen();
    const after: Envelope[] = [];
    const restarted = createInbox({
      home: HOME,
      store,
      log: testLogger(),
      onMessage: (e) => after.push(e),
    });
    expect(restarted.handle(NEIGHBOUR_OFFER, offer).kind).toBe('accepted');
    expect(restarted.handle(INBOX, accept)).toMatchObject({ kind: 'rejected', reason: 'duplicate' });
    expect(after.map((e) => e.type)).toEqual(['offer']);
    expect(after[0]!.id).toBe(received[0]!.env.id);
  });

  it('rolls the dedupe mark back when the handler throws, so a redelivery is processed', () => {
    const e = env();
    throwOnce = true;
    expect(inbox.handle(INBOX, encodeEnvelope(e))).toMatchObject({
      kind: 'rejected',
      reason: 'handler-error',
    });
    expect(inbox.handle(INBOX, encodeEnvelope(e)).kind).toBe('accepted');
    expect(received).toHaveLength(1);
  });

  it("ignores its own offer echo, and reports a neighbour's withdrawn offer", () => {
    const withdrawn: string[] = [];
    const own = createInbox({
      home: HOME,
      store: ts.store,
      log: testLogger(),
      onOfferWithdrawn: (h) => withdrawn.push(h),
    });
    const mine = createEnvelope({
      type: 'offer',
      from: HOME.id,
      zone: HOME.zone,
      seq: 1,
      ts: Date.now(),
      body: sampleBody('offer'),
    });
    expect(own.handle(homeTopic(HOME.zone, HOME.id, 'offer'), encodeEnvelope(mine)).kind).toBe('own-echo');
    expect(own.handle(NEIGHBOUR_OFFER, Buffer.alloc(0))).toEqual({
      kind: 'offer-withdrawn',
      home: NEIGHBOUR,
    });
    expect(withdrawn).toEqual([NEIGHBOUR]);
    expect(ts.store.deadLetters.count()).toBe(0);
  });

  it('refuses what the signature check refuses', () => {
    const strict = createInbox({
      home: HOME,
      store: ts.store,
      log: testLogger(),
      verify: (e) => (e.sig === undefined ? 'unsigned' : null),
    });
    expect(strict.handle(INBOX, encodeEnvelope(env()))).toMatchObject({
      kind: 'rejected',
      reason: 'unsigned',
    });
    const signed = { ...env(), sig: 'A'.repeat(86) };
    expect(strict.handle(INBOX, encodeEnvelope(signed)).kind).toBe('accepted');
  });

  it('never throws, whatever the bytes', () => {
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rand() * 300);
      const bytes = Buffer.alloc(len);
      for (let j = 0; j < len; j++) bytes[j] = Math.floor(rand() * 256);
      const topic = rand() < 0.5 ? INBOX : NEIGHBOUR_OFFER;
      expect(() => inbox.handle(topic, bytes)).not.toThrow();
    }
    expect(received).toHaveLength(0);
  });
});

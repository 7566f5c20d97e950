import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createEnvelope, encodeEnvelope } from '../../src/protocol/envelope.js';
import {
  clearRetainedMessage,
  DEFAULT_OUTBOX_CAPS,
  envelopeMessage,
  OUTBOX_CLASSES,
  OUTBOX_POLICIES,
  OUTBOX_PRIORITY,
  type OutboxClass,
} from '../../src/store/index.js';
import { msg, storePerTest } from './helpers.js';

const { open } = storePerTest('classes.db');
const none = new Set<number>();
const CLASSES = Object.keys(OUTBOX_CLASSES) as OutboxClass[];

describe('the outbox class table', () => {
  it('is the source of the policies, the drain order and the rowId slots', () => {
    expect(OUTBOX_PRIORITY).toEqual([
      'trade',
      'trade-ack',
      'reject',
      'settlement',
      'accept',
      'offer',
      'offer-sync',
      'telemetry',
    ]);
    for (const c of CLASSES) expect(OUTBOX_POLICIES[c]).toBe(OUTBOX_CLASSES[c].policy);
    // The slots are stored in the data: distinct, and the ones rows were written with.
    expect(CLASSES.map((c) => OUTBOX_CLASSES[c].slot)).toEqual([0, 1, 2, 3, 4, 5, 7, 6]);
  });

  it('gives every row its class retain: offers reach the link retained, everything else not', () => {
    const s = open();
    for (const c of CLASSES) s.outbox.enqueue(msg(c), 1000);
    const rows = s.outbox.nextBatch(100, 1000, none);
    expect(Object.fromEntries(rows.map((r) => [r.class, r.retain]))).toEqual({
      trade: false,
      'trade-ack': false,
      reject: false,
      settlement: false,
      accept: false,
      offer: true,
      'offer-sync': false,
      telemetry: false,
    });
    expect(s.outbox.list({ class: 'offer' })[0]!.retain).toBe(true);
  });

  it('refuses a message whose retain contradicts its class', () => {
    const s = open();
    expect(() => s.outbox.enqueue({ ...msg('offer'), retain: false }, 1000)).toThrow(
      /offer messages are retained/,
    );
    expect(() => s.outbox.enqueue({ ...msg('trade'), retain: true }, 1000)).toThrow(/not retained/);
    expect(s.outbox.stats(1000).rows).toBe(0);
    s.outbox.enqueue({ ...msg('offer'), retain: true }, 1000);
    expect(s.outbox.stats(1000).rows).toBe(1);
  });

  it('takes its default caps from the config schema', () => {
    const parsed = configSchema.parse({
      home: { id: 'h', zone: 'z' },
      mqtt: { brokers: ['mqtt://127.0.0.1:1883'] },
    });
    expect(DEFAULT_OUTBOX_CAPS).toEqual(parsed.mqtt!.outbox);
    expect(open().outbox.caps).toEqual(DEFAULT_OUTBOX_CAPS);
  });
});

describe('envelope to outbox row', () => {
  const env = createEnvelope({
    type: 'telemetry',
    from: 'h',
    zone: 'z',
    seq: 7,
    ts: 1000,
    body: { from: 0, to: 1000, samples: 1, q: {} },
  });

  it('keys the row on the envelope id, sends its wire form, expires at its exp', () => {
    expect(envelopeMessage(env, 'telemetry', 'powerdeal/v1/z/h/telemetry')).toEqual({
      id: env.id,
      class: 'telemetry',
      topic: 'powerdeal/v1/z/h/telemetry',
      payload: encodeEnvelope(env),
    });
    const offer = createEnvelope({
      type: 'offer',
      from: 'h',
      zone: 'z',
      seq: 8,
      ts: 1000,
      exp: 900_000,
      body: {
        slot: 900_000,
        slotMs: 900_000,
        version: 1,
        energyWh: 100,
        availableWh: 100,
        priceCentsPerKwh: 12,
        reserveWh: 0,
      },
    });
    const row = envelopeMessage(offer, 'offer', 'powerdeal/v1/z/h/offer');
    expect(row.expiresAt).toBe(900_000);
    const s = open();
    s.outbox.enqueue(row, 1000);
    expect(s.outbox.nextBatch(10, 1000, none)[0]).toMatchObject({
      id: offer.id,
      retain: true,
      coalesceKey: 'powerdeal/v1/z/h/offer',
      expiresAt: 900_000,
    });
  });

  it('clears a retained topic with an empty row that replaces the unsent one', () => {
    const s = open();
    const topic = 'powerdeal/v1/z/h/offer';
    s.outbox.enqueue({ ...msg('offer'), topic }, 1000);
    s.outbox.enqueue(clearRetainedMessage('offer', topic, 'clear-1', 900_000), 1001);
    const rows = s.outbox.nextBatch(10, 1001, none);
    expect(rows).toMatchObject([{ id: 'clear-1', retain: true, payload: Buffer.alloc(0) }]);
    expect(s.outbox.stats(1001).drops.coalesced).toBe(1);
    expect(() => clearRetainedMessage('trade', topic, 'x', 1)).toThrow(/not retained/);
  });
});

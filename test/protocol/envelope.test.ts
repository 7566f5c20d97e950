import { describe, expect, it } from 'vitest';
import { telemetryMessage } from '../../src/link/telemetry.js';
import { canonicalJson } from '../../src/protocol/canonical.js';
import {
  createEnvelope,
  decodeEnvelope,
  EnvelopeError,
  encodeEnvelope,
  MAX_ENVELOPE_BYTES,
  signingBytes,
} from '../../src/protocol/envelope.js';
import { statusEnvelope } from '../../src/protocol/messages.js';
import { sampleBody, TRADING_TYPES } from '../helpers/trading-bodies.js';

const HOME = { id: 'home-42', zone: 'lyon-7' };
const T = Date.UTC(2030, 5, 1, 12, 0, 0);

describe('envelope', () => {
  it('encodes canonically and decodes back to the same envelope', () => {
    const env = createEnvelope({
      type: 'accept',
      from: 'home-42',
      zone: 'lyon-7',
      seq: 7,
      ts: T,
      exp: T + 60_000,
      corr: createEnvelope({
        type: 'offer',
        from: 'home-9',
        zone: 'lyon-7',
        seq: 1,
        ts: T,
        body: sampleBody('offer'),
      }).id,
      body: sampleBody('accept', { seller: 'home-9' }),
    });
    const wire = encodeEnvelope(env);
    expect(wire.toString()).toBe(canonicalJson(env));
    expect(wire.toString()).not.toMatch(/\s/);
    expect(Object.keys(JSON.parse(wire.toString()))).toEqual([
      'body',
      'corr',
      'exp',
      'from',
      'id',
      'seq',
      'ts',
      'type',
      'v',
      'zone',
    ]);
    const back = decodeEnvelope(wire);
    expect(back).toEqual({ ok: true, envelope: env });
  });

  it('refuses to build what receivers would refuse', () => {
    const base = {
      type: 'trade' as const,
      from: 'home-42',
      zone: 'lyon-7',
      seq: 1,
      ts: T,
      body: sampleBody('trade'),
    };
    expect(() => createEnvelope(base)).not.toThrow();
    expect(() => createEnvelope({ ...base, from: 'Home 42' })).toThrow(EnvelopeError);
    expect(() => createEnvelope({ ...base, seq: -1 })).toThrow(EnvelopeError);
    expect(() => createEnvelope({ ...base, seq: 1.5 })).toThrow(EnvelopeError);
    expect(() => createEnvelope({ ...base, corr: 'x' })).toThrow(EnvelopeError);
    expect(() => createEnvelope({ ...base, type: 'status', body: { state: 'up', version: '1' } })).toThrow(
      /status body/,
    );
    expect(() => createEnvelope({ ...base, body: { ...base.body, energyWh: 0 } })).toThrow(/trade body/);
    expect(() => createEnvelope({ ...base, body: { ...base.body, note: 'x' } })).toThrow(/trade body/);
    // No valid body reaches the size limit, so the oversized envelope is built by hand.
    const oversized = {
      ...createEnvelope(base),
      body: { ...base.body, pad: 'x'.repeat(MAX_ENVELOPE_BYTES) },
    };
    expect(() => encodeEnvelope(oversized)).toThrow(/limit/);
  });

  it('checks the body of every trading type, on both sides', () => {
    for (const type of TRADING_TYPES) {
      const input = { type, from: 'home-42', zone: 'lyon-7', seq: 1, ts: T, body: sampleBody(type) };
      const wire = encodeEnvelope(createEnvelope(input));
      expect(decodeEnvelope(wire)).toMatchObject({ ok: true, envelope: { type } });
      const loose = { ...input, body: { n: 1 } };
      expect(() => createEnvelope(loose), type).toThrow(new RegExp(`${type} body`));
      const received = Buffer.from(JSON.stringify({ ...JSON.parse(wire.toString()), body: { n: 1 } }));
      expect(decodeEnvelope(received), type).toMatchObject({ ok: false, reason: 'bad-body' });
    }
  });

  it('covers everything but the signature in the signing bytes', () => {
    const env = createEnvelope({
      type: 'trade',
      from: 'home-42',
      zone: 'lyon-7',
      seq: 3,
      ts: T,
      body: sampleBody('trade'),
    });
    const signed = { ...env, sig: 'A'.repeat(86) };
    expect(signingBytes(signed)).toEqual(signingBytes(env));
    expect(signingBytes(signed).toString()).toBe(canonicalJson(env));
    expect(signingBytes({ ...env, seq: 4 })).not.toEqual(signingBytes(env));
    // A receiver rebuilds the same bytes from what it parsed, whatever the key order on the wire.
    const reversed = Object.fromEntries(Object.entries(signed).reverse());
    const reordered = Buffer.from(JSON.stringify(reversed));
    expect(reordered.toString()).not.toBe(canonicalJson(signed));
    const parsed = decodeEnvelope(reordered);
    expect(parsed.ok && signingBytes(parsed.envelope)).toEqual(signingBytes(env));
  });

  it('decodes with a precise reason and never throws', () => {
    expect(decodeEnvelope(Buffer.alloc(MAX_ENVELOPE_BYTES + 1))).toMatchObject({
      ok: false,
      reason: 'oversized',
    });
    expect(decodeEnvelope(Buffer.from([0xc3, 0x28]))).toMatchObject({ ok: false, reason: 'not-json' });
    expect(decodeEnvelope(Buffer.from('{'))).toMatchObject({ ok: false, reason: 'not-json' });
    expect(decodeEnvelope(Buffer.from('null'))).toMatchObject({ ok: false, reason: 'bad-envelope' });
    const env = statusEnvelope(HOME, 'online', '1.0.0', 1, T);
    const bad = { ...env, body: { state: 'online' } };
    expect(decodeEnvelope(Buffer.from(JSON.stringify(bad)))).toMatchObject({
      ok: false,
      reason: 'bad-body',
      detail: expect.stringContaining('version'),
    });
    const unknownType = { ...env, type: 'gossip' };
    expect(decodeEnvelope(Buffer.from(JSON.stringify(unknownType)))).toMatchObject({
      ok: false,
      reason: 'bad-envelope',
      detail: expect.stringContaining('type'),
    });
  });

  it('builds the telemetry outbox row: class, topic, envelope', () => {
    const body = { from: T - 10_000, to: T, samples: 10, q: {} };
    const msg = telemetryMessage(HOME, body, 12, T);
    expect(msg).toMatchObject({
      class: 'telemetry',
      topic: 'powerdeal/v1/lyon-7/home-42/telemetry',
    });
    const decoded = decodeEnvelope(msg.payload);
    expect(decoded.ok && decoded.envelope).toMatchObject({ id: msg.id, type: 'telemetry', seq: 12, body });
  });
});

import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type DemoEvent, FeedDecoder, formatEvent } from '../../src/cli/commands/demo-feed.js';
import { createEnvelope, encodeEnvelope } from '../../src/protocol/envelope.js';
import { generateHomeKey, type Keyring } from '../../src/protocol/keyring.js';
import { createSigner } from '../../src/protocol/signing.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';

/** The demo feed reads the wire like a neighbour: signed messages become events, once per business message. */
describe('demo feed', () => {
  const zone = 'demo';
  const now = Date.UTC(2025, 5, 1, 10, 0, 30);
  const slot = Date.UTC(2025, 5, 1, 10, 1, 0);
  const keys = { 'sunny-1': generateHomeKey(), 'home-2': generateHomeKey() };
  const keyring: Keyring = {
    zone,
    members: new Map(Object.entries(keys).map(([id, k]) => [id, createPublicKey(k)])),
  };
  let seq = 0;
  const message = (from: keyof typeof keys, type: 'offer' | 'accept' | 'trade' | 'reject', body: object) =>
    encodeEnvelope(
      createSigner(from, keys[from]).sign(
        createEnvelope({
          type,
          from,
          zone,
          seq: seq++,
          ts: now,
          exp: slot,
          body: body as Record<string, unknown>,
        }),
      ),
    );
  const offer = (availableWh: number) => ({
    slot,
    slotMs: 60_000,
    version: 1,
    energyWh: 50,
    availableWh,
    priceCentsPerKwh: 11,
    reserveWh: 3,
  });
  const acceptId = uuidv7(now);
  const tradeId = uuidv7(now + 1);
  const trade = {
    tradeId,
    acceptId,
    seller: 'sunny-1',
    buyer: 'home-2',
    slot,
    slotMs: 60_000,
    version: 1,
    energyWh: 40,
    priceCentsPerKwh: 11,
    confirmedAt: now,
  };

  it('turns signed messages into events and shows re-sends once', () => {
    const feed = new FeedDecoder(zone, keyring, () => now);
    const offerTopic = homeTopic(zone, 'sunny-1', 'offer');
    const out: Array<DemoEvent | null> = [
      feed.handle(offerTopic, message('sunny-1', 'offer', offer(50))),
      feed.handle(offerTopic, message('sunny-1', 'offer', offer(50))),
      feed.handle(
        homeTopic(zone, 'sunny-1', 'inbox'),
        message('home-2', 'accept', {
          acceptId,
          seller: 'sunny-1',
          slot,
          version: 1,
          energyWh: 40,
          minWh: 20,
          maxPriceCentsPerKwh: 20,
        }),
      ),
      feed.handle(homeTopic(zone, 'home-2', 'inbox'), message('sunny-1', 'trade', trade)),
      // The copy on the seller's trades topic and a re-send until acknowledged.
      feed.handle(homeTopic(zone, 'sunny-1', 'trades'), message('sunny-1', 'trade', trade)),
      feed.handle(homeTopic(zone, 'home-2', 'inbox'), message('sunny-1', 'trade', trade)),
      feed.handle(offerTopic, message('sunny-1', 'offer', offer(10))),
      feed.handle(offerTopic, Buffer.alloc(0)),
    ];
    expect(out.map((e) => e?.event ?? null)).toEqual([
      'offer',
      null,
      'accept',
      'trade',
      null,
      null,
      'offer',
      'offer-cleared',
    ]);
    expect(out[3]).toMatchObject({ seller: 'sunny-1', buyer: 'home-2', energyWh: 40, tradeId });
    expect(feed.totals).toMatchObject({ offers: 1, trades: 1, energyWh: 40, refused: 0 });
    expect(formatEvent(out[3] as DemoEvent)).toContain('sunny-1 sells home-2 40 Wh');
  });

  it('refuses what a home would refuse, and skips a stale retained offer', () => {
    const feed = new FeedDecoder(zone, keyring, () => now);
    const topic = homeTopic(zone, 'sunny-1', 'offer');
    // Signed by another home's key.
    const forged = encodeEnvelope(
      createSigner('sunny-1', keys['home-2']).sign(
        createEnvelope({ type: 'offer', from: 'sunny-1', zone, seq: 1, ts: now, exp: slot, body: offer(50) }),
      ),
    );
    expect(feed.handle(topic, forged)).toMatchObject({ event: 'refused', reason: 'bad-signature' });
    expect(feed.handle(topic, Buffer.from('garbage'))).toMatchObject({
      event: 'refused',
      reason: 'not-json',
    });
    const late = new FeedDecoder(zone, keyring, () => slot + 1);
    expect(late.handle(topic, message('sunny-1', 'offer', offer(50)))).toBeNull();
    expect(feed.totals.refused).toBe(2);
  });
});

import { connect, type IPublishPacket } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { homeTopic } from '../../src/protocol/topics.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import {
  driveDelivered,
  driveUntil,
  HOME,
  linkParts,
  makeMessage,
  mqttConfig,
  type Produced,
  produce,
} from './helpers.js';

const OFFER_TOPIC = homeTopic(HOME.zone, HOME.id, 'offer');

/** What a fresh subscriber to the home's offer topic gets as the retained message, within 1 s. */
async function retainedOffer(url: string): Promise<IPublishPacket | null> {
  const client = connect(url, {
    clientId: `offer-probe-${Math.random()}`,
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
  client.on('error', () => {});
  try {
    await waitFor(() => client.connected, 5000, 'offer probe');
    return await new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), 1000);
      client.on('message', (_topic, payload, packet) => {
        if (payload.length === 0) return;
        clearTimeout(t);
        resolve(packet);
      });
      void client.subscribeAsync(OFFER_TOPIC, { qos: 1 });
    });
  } finally {
    await client.endAsync(true);
  }
}

describe('offers and accepts that expire', () => {
  const parts = linkParts();
  afterAll(parts.dispose);

  it('never sends what expired while offline, counts it, and retains live offers with a message expiry', async () => {
    const broker = await startMosquitto({ persistence: true });
    const receiver = await parts.receiver(broker.url, 'expiry');
    const ts = parts.store();
    // The link's time is the test's: rows expire when the clock says so, not after a real pause.
    const clock = new ManualClock(Date.now());
    const link = parts.link(ts, mqttConfig([broker.url], { reconnectBaseMs: 200, reconnectMaxMs: 1000 }), {
      clock,
    });
    await driveUntil(clock, () => link.status().connected, 'connected');
    await broker.stop();
    await driveUntil(clock, () => !link.status().connected, 'offline');

    const now = clock.now();
    const stale: string[] = [];
    const live: Produced[] = [];
    ts.store.transaction(() => {
      for (let i = 0; i < 5; i++) {
        const offer = {
          ...makeMessage(ts.store, 'offer', i, { expiresAt: now + 800 }),
          coalesceKey: `slot-${i}`,
        };
        ts.store.outbox.enqueue(offer, now);
        stale.push(offer.id);
      }
      for (let i = 0; i < 3; i++) {
        const accept = makeMessage(ts.store, 'accept', i, { expiresAt: now + 800 });
        ts.store.outbox.enqueue(accept, now);
        stale.push(accept.id);
      }
      const longOffer = {
        ...makeMessage(ts.store, 'offer', 99, { expiresAt: now + 60_000 }),
        coalesceKey: 'long',
      };
      ts.store.outbox.enqueue(longOffer, now);
      live.push({ id: longOffer.id, class: 'offer' });
    });
    live.push(...produce(ts.store, 'trade', 10));
    await clock.advance(1200);

    await broker.start();
    const report = await driveDelivered(clock, 'expiry', live, [receiver], 15_000);
    await driveUntil(clock, () => ts.store.outbox.stats(clock.now()).rows === 0, 'outbox empty');
    const staleReceived = stale.filter((id) => receiver.seen.has(id));
    console.log(`expiry: stale never sent ${stale.length - staleReceived.length}/${stale.length}`);
    expect(report.missing).toBe(0);
    // The link published the live rows and nothing else, so no stale row can still be on its way.
    expect(link.status().published).toBe(live.length);
    expect(staleReceived).toEqual([]);
    expect(ts.store.outbox.stats(clock.now()).drops.expired).toBe(stale.length);

    // The live offer is retained with an MQTT 5 message expiry derived from expiresAt.
    const retained = await retainedOffer(broker.url);
    expect(retained?.retain).toBe(true);
    const expiry = retained?.properties?.messageExpiryInterval ?? 0;
    expect(expiry).toBeGreaterThan(50);
    expect(expiry).toBeLessThanOrEqual(60);

    // A short-lived offer replaces it; once expired, the broker no longer hands it to new subscribers.
    // The broker expires it on its own (real) clock: poll until it stops handing it out.
    const short = makeMessage(ts.store, 'offer', 100, { expiresAt: clock.now() + 1500 });
    ts.store.transaction(() => ts.store.outbox.enqueue(short, clock.now()));
    link.notify();
    await driveUntil(clock, () => receiver.seen.has(short.id), 'short offer sent', { timeoutMs: 5000 });
    expect(JSON.parse((await retainedOffer(broker.url))!.payload.toString()).id).toBe(short.id);
    await waitFor(async () => (await retainedOffer(broker.url)) === null, 10_000, 'short offer expired', 0);
  }, 60_000);
});

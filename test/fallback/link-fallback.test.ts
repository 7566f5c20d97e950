import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { systemClock } from '../../src/core/clock.js';
import { createLink, type Link } from '../../src/link/link.js';
import { keyringOf } from '../../src/neighbourhood/keys.js';
import type { Envelope } from '../../src/protocol/envelope.js';
import { generateHomeKey } from '../../src/protocol/keyring.js';
import { createSigner } from '../../src/protocol/signing.js';
import { fallbackOptions } from '../../src/service/fallback.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { freePort, waitFor } from '../helpers/ports.js';
import {
  makeMessage,
  type Receiver,
  startReceiver,
  type TempStore,
  tempStore,
  testLogger,
} from '../link/helpers.js';

/**
 * Three homes' links on a real mosquitto, with the fallback on loopback endpoints: the broker goes, the
 * zone elects home-1, trading messages flow through its broker while telemetry and the back end's copies
 * wait; the leader leaves, home-2 takes a new term; the broker returns and everything reaches it.
 */
const ZONE = 'zone-a';
const HOMES = ['home-1', 'home-2', 'home-3'];

interface Home {
  id: string;
  ts: TempStore;
  link: Link;
  got: Envelope[];
}

const homes: Home[] = [];
let broker: Mosquitto;
let receiver: Receiver;

afterAll(async () => {
  for (const h of homes) {
    await h.link.stop(1000).catch(() => {});
    h.ts.dispose();
  }
  await receiver?.close();
  await stopAllMosquittos();
});

describe('link fallback', () => {
  it('carries trading through the elected home while no broker answers, and returns', async () => {
    broker = await startMosquitto({ persistence: true });
    const keys = new Map(HOMES.map((h) => [h, generateHomeKey()]));
    const ports = await Promise.all(HOMES.map(() => freePort()));
    const keyring = {
      ...keyringOf(ZONE, keys),
      fallbacks: new Map(HOMES.map((h, i) => [h, `127.0.0.1:${ports[i]}`])),
    };
    for (const [i, id] of HOMES.entries()) {
      const config = configSchema.parse({
        home: { id, zone: ZONE },
        mqtt: {
          brokers: [broker.url],
          reconnectBaseMs: 200,
          reconnectMaxMs: 1000,
          ackTimeoutMs: 2000,
          drainStartJitterMs: 0,
        },
        fallback: { afterS: 2, listen: `127.0.0.1:${ports[i]}` },
      });
      const signer = createSigner(id, keys.get(id)!);
      const log = testLogger();
      const fb = fallbackOptions(config, { signer, keyring, off: null, warnings: [] }, systemClock, log);
      if (!('options' in fb)) throw new Error(fb.off);
      const ts = tempStore();
      const got: Envelope[] = [];
      const link = createLink({
        mqtt: config.mqtt!,
        home: config.home,
        outbox: ts.store.outbox,
        store: ts.store,
        log,
        version: 't',
        drainStartJitterMs: 0,
        signer,
        onMessage: (env) => got.push(env),
        fallback: fb.options,
      });
      link.start();
      homes.push({ id, ts, link, got });
    }
    receiver = await startReceiver(broker.url, 'backend', { filter: `powerdeal/v1/${ZONE}/+/+` });
    await waitFor(() => homes.every((h) => h.link.status().mode === 'upstream'), 20_000, 'all upstream');

    await broker.stop();
    // Entering together, each may lead at first; they converge on the lowest.
    await waitFor(
      () =>
        homes.every(
          (h) => h.link.status().mode.startsWith('fallback') && h.link.status().leader === 'home-1',
        ),
      30_000,
      'all in fallback behind home-1',
    );
    expect(homes.map((h) => [h.link.status().mode, h.link.status().leader])).toEqual([
      ['fallback-leader', 'home-1'],
      ['fallback-member', 'home-1'],
      ['fallback-member', 'home-1'],
    ]);
    const epoch = homes[0]!.link.status().epoch;
    expect(epoch).toBeGreaterThanOrEqual(1);

    // home-3 sends home-2 an ack (a trading message) and home-3 records its trade (the back end's copy).
    const sender = homes[2]!;
    const produced: string[] = [];
    const enqueue = (cls: 'trade-ack' | 'trade' | 'telemetry') => {
      const msg = makeMessage(sender.ts.store, cls, produced.length, { home: { id: 'home-3', zone: ZONE } });
      const m = cls === 'trade-ack' ? { ...msg, topic: `powerdeal/v1/${ZONE}/home-2/inbox` } : msg;
      sender.ts.store.outbox.enqueue(m, Date.now());
      produced.push(m.id);
      return m.id;
    };
    const ack = enqueue('trade-ack');
    const tradeCopy = enqueue('trade');
    for (let i = 0; i < 5; i++) enqueue('telemetry');
    sender.link.notify();
    await waitFor(
      () => homes[1]!.got.some((e) => e.id === ack),
      20_000,
      'the ack through the fallback broker',
    );
    // The back end's rows wait for an upstream PUBACK.
    const depth = sender.ts.store.outbox.stats(Date.now()).depth;
    expect(depth.trade).toBe(1);
    expect(depth.telemetry).toBe(5);

    // The leader goes; the next home takes a new term.
    await homes[0]!.link.stop(1000);
    await waitFor(
      () => homes.slice(1).every((h) => h.link.status().leader === 'home-2'),
      20_000,
      'home-2 leads',
    );
    expect(homes[1]!.link.status().mode).toBe('fallback-leader');
    expect(homes[1]!.link.status().epoch).toBeGreaterThan(epoch!);

    await broker.start();
    await waitFor(
      () => homes.slice(1).every((h) => h.link.status().mode === 'upstream'),
      30_000,
      'all upstream again',
    );
    // The ack went to home-2 through the fallback broker: that was its delivery. The rest is the back end's.
    const backEnd = produced.filter((id) => id !== ack);
    await waitFor(() => backEnd.every((id) => receiver.seen.has(id)), 20_000, 'every back-end row upstream');
    expect(receiver.topics.get(tradeCopy)).toBe(`powerdeal/v1/${ZONE}/home-3/trades`);
    // The upstream PUBACKs are committed in batches: the rows leave the outbox a moment after delivery.
    await waitFor(
      () => {
        const d = sender.ts.store.outbox.stats(Date.now()).depth;
        return d.trade === 0 && d.telemetry === 0;
      },
      10_000,
      'the back-end rows acknowledged upstream',
    );
  }, 150_000);
});

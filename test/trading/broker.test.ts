import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { deals, ownOffers } from '../../src/engine/views.js';
import { createLink, type Link } from '../../src/link/link.js';
import { silentLogger } from '../../src/log/logger.js';
import { createSigner, createVerifier } from '../../src/protocol/signing.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { type Clock, gridSnapshot, type Home, openHome, T0, testKeyring, ZONE } from './home.js';

const IDS = ['seller-a', 'buyer-a', 'seller-b', 'buyer-b'] as const;
const keys = Object.fromEntries(IDS.map((id) => [id, generateKeyPairSync('ed25519').privateKey])) as Record<
  (typeof IDS)[number],
  KeyObject
>;
const keyring = testKeyring(keys);

describe('trading hosts over a real mosquitto, through the link and its inbox', () => {
  let broker: Mosquitto;
  let dir: string;
  const clock: Clock = { now: T0 };
  const links: Link[] = [];
  const homes: Home[] = [];

  /** A home with its link: the host's notify wakes the link, the link's inbox feeds the host. */
  function connectedHome(id: (typeof IDS)[number]): { home: Home; link: Link } {
    let link: Link | undefined;
    const home = openHome({
      id,
      path: join(dir, `${id}.db`),
      key: keys[id],
      keyring,
      clock,
      onNotify: () => link?.notify(),
    });
    homes.push(home);
    home.host.start();
    link = createLink({
      mqtt: configSchema.parse({ home: { id, zone: ZONE }, mqtt: { brokers: [broker.url] } }).mqtt!,
      home: { id, zone: ZONE },
      store: home.store,
      outbox: home.store.outbox,
      log: silentLogger(),
      now: () => clock.now,
      version: 't',
      drainStartJitterMs: 0,
      signer: createSigner(id, keys[id]),
      verify: createVerifier(keyring),
      onMessage: (env) => home.host.message(env),
      onOfferWithdrawn: (from) => home.host.offerWithdrawn(from),
    });
    links.push(link);
    link.start();
    return { home, link };
  }

  beforeAll(async () => {
    broker = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), 'powerdeal-trading-mqtt-'));
  });
  afterEach(async () => {
    for (const l of links.splice(0)) await l.stop(1000);
    for (const h of homes.splice(0)) h.store.close();
  });
  afterAll(async () => {
    await stopAllMosquittos();
    rmSync(dir, { recursive: true, force: true });
  });

  const connected = (l: Link) => l.status().connected;

  it('trades offer → accept → trade → ack end to end', async () => {
    const seller = connectedHome('seller-a');
    const buyer = connectedHome('buyer-a');
    await waitFor(() => connected(seller.link) && connected(buyer.link), 15_000, 'both links connected');

    seller.home.host.tick(gridSnapshot(clock, -3000));
    await waitFor(() => buyer.link.status().inbox.accepted >= 1, 15_000, 'the offer at the buyer');
    clock.now += 1000;
    buyer.home.host.tick(gridSnapshot(clock, 2000));
    await waitFor(
      () => deals(seller.home.host.state).find((d) => d.status === 'confirmed' && d.acknowledged),
      15_000,
      'the trade confirmed and acknowledged',
    );
    const [sale] = deals(seller.home.host.state);
    expect(deals(buyer.home.host.state)).toMatchObject([
      { id: sale!.id, role: 'buyer', status: 'confirmed', energyWh: sale!.energyWh },
    ]);
    // Every row was published and acknowledged by the broker: nothing is left to send.
    await waitFor(
      () =>
        seller.home.store.outbox.stats(clock.now).rows === 0 &&
        buyer.home.store.outbox.stats(clock.now).rows === 0,
      15_000,
      'empty outboxes',
    );
    for (const { link } of [seller, buyer]) {
      expect(link.status().inbox.rejected).toMatchObject({
        'bad-signature': 0,
        unsigned: 0,
        'handler-error': 0,
      });
    }
  });

  it('a withdrawn offer is published as an empty retained payload, which clears the offer topic', async () => {
    const seller = connectedHome('seller-b');
    const buyer = connectedHome('buyer-b');
    await waitFor(() => connected(seller.link) && connected(buyer.link), 15_000, 'both links connected');
    seller.home.host.tick(gridSnapshot(clock, -3000));
    await waitFor(() => seller.home.store.outbox.stats(clock.now).rows === 0, 15_000, 'the offer published');

    for (let i = 0; i < 600 && ownOffers(seller.home.host.state)[0]?.status === 'open'; i++) {
      clock.now += 1000;
      seller.home.host.tick(gridSnapshot(clock, 500, i + 1));
    }
    expect(ownOffers(seller.home.host.state)[0]?.status).toBe('withdrawn');
    await waitFor(
      () => buyer.link.status().inbox.offersWithdrawn >= 1,
      15_000,
      'the withdrawal at the buyer',
    );

    // A newcomer finds no retained offer on the topic.
    const probe = connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    try {
      const got: Buffer[] = [];
      probe.on('message', (_t, payload) => got.push(payload));
      await probe.subscribeAsync(homeTopic(ZONE, 'seller-b', 'offer'), { qos: 1 });
      // A retained message arrives right after the SUBACK; a round trip later it would have come.
      await probe.publishAsync(homeTopic(ZONE, 'probe', 'status'), 'x', { qos: 1 });
      expect(got).toEqual([]);
    } finally {
      await probe.endAsync();
    }
  });
});

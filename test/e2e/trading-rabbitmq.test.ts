import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfferBody } from '../../src/protocol/trading.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import {
  RABBIT_HOOK_TIMEOUT,
  type RabbitCluster,
  startTestRabbitCluster,
  stopAllRabbitClusters,
} from '../helpers/rabbitmq.js';
import {
  firstOffers,
  type Neighbourhood,
  recordWire,
  sent,
  startHome,
  stopHome,
  type Wire,
  waitForWire,
  writeNeighbourhood,
} from '../helpers/trading.js';

/**
 * Three `powerdeal run` processes trade through a real 3-node RabbitMQ 3.10 cluster (MQTT 3.1.1 only,
 * retained messages per node and never replayed to a wildcard subscription). Each home lists the three
 * nodes, starting with its own; an independent recorder on node 2 checks every signature.
 *
 * The seller starts alone and publishes its offer; the buyers start after it, so no broker will ever
 * replay that retained offer to their `+/offer` subscription: they learn it only from the answers to
 * their offer requests, and buy it in the same slot. Then the seller's node is killed: the seller moves
 * to the next node and trades again.
 */
const ZONE = 'rmq';
const SELLER = 'sunny-1';
const BUYERS = ['home-2', 'home-3'] as const;

describe('trading on a RabbitMQ cluster (three powerdeal run processes)', () => {
  let cluster: RabbitCluster;
  let hood: Neighbourhood;
  let wire: Wire;
  const sims: Simulator[] = [];
  const root = mkdtempSync(join(tmpdir(), 'pd-rmq-e2e-'));

  beforeAll(async () => {
    cluster = await startTestRabbitCluster();
    const urls = cluster.nodes.map((n) => n.mqttUrl);
    const sim = async (pvPowerW: number, loadPowerW: number, seed: number) => {
      const s = await startSimulator({ tcp: { host: '127.0.0.1', port: 0 }, seed });
      s.pin({ pvPowerW, loadPowerW });
      sims.push(s);
      return s.tcpPort as number;
    };
    const rotated = (i: number) => [...urls.slice(i), ...urls.slice(0, i)];
    hood = await writeNeighbourhood(root, ZONE, urls[0]!, [
      { id: SELLER, modbusPort: await sim(3400, 200, 1), brokers: rotated(0) },
      { id: BUYERS[0], modbusPort: await sim(0, 4200, 2), brokers: rotated(1) },
      { id: BUYERS[1], modbusPort: await sim(0, 4200, 3), brokers: rotated(2) },
    ]);
    wire = await recordWire(urls[2]!, hood.keyring, 4);
  }, RABBIT_HOOK_TIMEOUT);

  afterAll(async () => {
    await Promise.all((hood?.homes ?? []).map((h) => stopHome(h)));
    await wire?.stop();
    await Promise.all(sims.map((s) => s.stop()));
    await stopAllRabbitClusters();
    rmSync(root, { recursive: true, force: true });
  }, RABBIT_HOOK_TIMEOUT);

  it('buyers that start after the offer learn it through their offer requests and buy it in its slot', async () => {
    startHome(hood.home(SELLER));
    // An offer with enough time left in its slot for two buyers to start and ask.
    const offer = await waitForWire(
      'an offer at least 35 s before its slot',
      () => firstOffers(wire, SELLER).find((o) => o.body.slot - o.m.wall >= 35_000),
      150_000,
      hood.homes,
    );
    const buyersStartedAt = Date.now();
    for (const b of BUYERS) startHome(hood.home(b));
    const trade = await waitForWire(
      'a trade for the offer made before the buyers started',
      () => sent(wire, 'trade').find((t) => t.env.from === SELLER && t.body.slot === offer.body.slot),
      offer.body.slot - Date.now() + 5_000,
      hood.homes,
    );
    // The offer reached the buyer as an answer in its inbox, published after its request.
    const answers = wire.messages.filter(
      (m) => m.kind === 'inbox' && m.env?.type === 'offer' && m.env.from === SELLER,
    );
    const requests = wire.messages.filter((m) => m.env?.type === 'offer-request' && m.home !== SELLER);
    expect(requests.length).toBeGreaterThanOrEqual(1);
    expect(answers.some((m) => (m.env!.body as OfferBody).slot === offer.body.slot)).toBe(true);
    expect(BUYERS).toContain(trade.body.buyer);
    expect(trade.m.wall).toBeGreaterThan(buyersStartedAt);
    expect(wire.messages.every((m) => m.refused === null)).toBe(true);
    console.info(
      `rabbitmq e2e: offer ${offer.body.slot - offer.m.wall} ms before its slot; trade ${trade.m.wall - buyersStartedAt} ms after the buyers started; ${requests.length} requests, ${answers.length} answers`,
    );
  }, 200_000);

  it('the seller moves to the next node when its node is killed and trades again', async () => {
    await cluster.kill(0);
    const killedAt = Date.now();
    const online = await waitForWire(
      'the seller online again',
      () =>
        wire.messages.find(
          (m) =>
            m.home === SELLER &&
            m.kind === 'status' &&
            m.wall > killedAt &&
            (m.env?.body as { state?: string } | undefined)?.state === 'online',
        ),
      20_000,
      hood.homes,
    );
    const back = online.wall - killedAt;
    const trade = await waitForWire(
      'a trade confirmed after the kill',
      () => sent(wire, 'trade').find((t) => t.env.from === SELLER && t.m.wall > online.wall),
      150_000,
      hood.homes,
    );
    console.info(
      `rabbitmq e2e: seller online on another node ${back} ms after the kill; traded again at +${trade.m.wall - killedAt} ms`,
    );
    expect(back).toBeLessThan(10_000);
    expect(wire.messages.every((m) => m.refused === null)).toBe(true);
  }, 200_000);
});

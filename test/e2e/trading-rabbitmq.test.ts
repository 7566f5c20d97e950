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
 * Every home lists node 0 first; the recorder is on node 2.
 *
 * The seller starts alone and publishes its offer; the buyers start after it, so no broker will ever
 * replay that retained offer to their `+/offer` subscription: they learn it only from the answers to
 * their offer requests, and buy it in the same slot. Then node 0, which carries every home, is killed:
 * each home moves to its next node (the seller and home-3 to node 1, home-2 to node 2), trading goes on
 * across nodes, the trade is settled, and every home's telemetry windows reach the recorder without a gap.
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
    const [n0, n1, n2] = urls as [string, string, string];
    hood = await writeNeighbourhood(root, ZONE, n0, [
      { id: SELLER, modbusPort: await sim(3400, 200, 1), brokers: [n0, n1, n2] },
      { id: BUYERS[0], modbusPort: await sim(0, 4200, 2), brokers: [n0, n2, n1] },
      { id: BUYERS[1], modbusPort: await sim(0, 4200, 3), brokers: [n0, n1, n2] },
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

  it('every home moves off the killed node within 10 s; trading, settlement and telemetry go on', async () => {
    const firstTrade = sent(wire, 'trade').find((t) => t.env.from === SELLER);
    expect(firstTrade).toBeDefined();
    // Every home has telemetry on the wire before the kill, so its windows span it.
    await waitForWire(
      'telemetry from every home',
      () =>
        hood.homes.every((h) =>
          wire.messages.some((m) => m.env?.type === 'telemetry' && m.env.from === h.id),
        ),
      30_000,
      hood.homes,
    );
    await cluster.kill(0);
    const killedAt = Date.now();
    const moved = new Map<string, number>();
    await waitForWire(
      'every home online again',
      () => {
        for (const m of wire.messages) {
          if (m.kind !== 'status' || m.wall <= killedAt || moved.has(m.home)) continue;
          if ((m.env?.body as { state?: string } | undefined)?.state === 'online')
            moved.set(m.home, m.wall - killedAt);
        }
        return moved.size === hood.homes.length;
      },
      20_000,
      hood.homes,
    );
    const trade = await waitForWire(
      'a trade confirmed after the kill',
      () =>
        sent(wire, 'trade').find(
          (t) => t.env.from === SELLER && t.m.wall > killedAt + Math.max(...moved.values()),
        ),
      150_000,
      hood.homes,
    );
    // The first trade's settlement, and the buyer's acknowledgement of it, through the surviving nodes.
    const settled = await waitForWire(
      'the settlement of the first trade, acknowledged',
      () => {
        const s = wire.messages.find(
          (m) =>
            m.env?.type === 'settlement' &&
            m.env.from === SELLER &&
            (m.env.body as { tradeId?: string }).tradeId === firstTrade?.body.tradeId,
        );
        const ack = sent(wire, 'ack').find(
          (a) =>
            a.env.from === firstTrade?.body.buyer &&
            a.body.of === 'settlement' &&
            a.body.tradeId === firstTrade?.body.tradeId,
        );
        return s && ack ? s : undefined;
      },
      120_000,
      hood.homes,
    );
    // Telemetry: each home's 10 s windows, from its first to its last on the recorder, with none missing
    // across the kill (copies of one envelope counted once).
    const gaps: Record<string, number> = {};
    const windows: Record<string, number> = {};
    for (const h of hood.homes) {
      const byId = new Map<string, { from: number; to: number }>();
      for (const m of wire.messages) {
        if (m.env?.type === 'telemetry' && m.env.from === h.id)
          byId.set(m.env.id, m.env.body as { from: number; to: number });
      }
      const ws = [...byId.values()].sort((x, y) => x.from - y.from);
      windows[h.id] = ws.length;
      gaps[h.id] = ws.slice(1).filter((w, i) => w.from !== ws[i]!.to).length;
      expect(
        ws.some((w) => w.from > killedAt),
        `${h.id} telemetry after the kill`,
      ).toBe(true);
      expect(
        ws.some((w) => w.to < killedAt),
        `${h.id} telemetry before the kill`,
      ).toBe(true);
    }
    expect(gaps).toEqual(Object.fromEntries(hood.homes.map((h) => [h.id, 0])));
    for (const ms of moved.values()) expect(ms).toBeLessThan(10_000);
    expect(wire.messages.every((m) => m.refused === null)).toBe(true);
    console.info(
      JSON.stringify({
        figure: 'rabbitmq-node-kill',
        onlineAgainMs: Object.fromEntries(moved),
        tradeAfterKillMs: trade.m.wall - killedAt,
        settlementAt: settled.wall - killedAt,
        telemetryWindows: windows,
        telemetryGaps: gaps,
      }),
    );
  }, 300_000);
});

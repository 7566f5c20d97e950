import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '../../src/link/link.js';
import { LONG } from '../helpers/long.js';
import { waitFor } from '../helpers/ports.js';
import {
  RABBIT_HOOK_TIMEOUT,
  type RabbitCluster,
  startTestRabbitCluster,
  stopAllRabbitClusters,
} from '../helpers/rabbitmq.js';
import {
  awaitDelivered,
  countingReport,
  type LinkParts,
  linkParts,
  mqttConfig,
  type Produced,
  produce,
  type Receiver,
  type TempStore,
} from '../link/helpers.js';

/**
 * Two homes' links through the loss of 2 of the 3 nodes of a real RabbitMQ 3.10 cluster, the node that
 * leads the MQTT plugin's client-id Raft cluster among them (no majority left):
 * - home A lists only the two nodes that die: it keeps working from its outbox, loses nothing, and drains
 *   by itself once its first node is back (soak mode: that node's MQTT listener opens only after a 100 s
 *   timeout of the plugin, see rabbitmq-facts (e));
 * - home B lists a dying node and the survivor: it moves to the survivor, which still accepts MQTT
 *   connections without a majority, and delivers everything.
 * A receiver on the survivor counts every envelope either home committed.
 */
describe('homes through the loss of 2 of 3 RabbitMQ nodes', () => {
  let cluster: RabbitCluster;
  let parts: LinkParts;
  let receiver: Receiver;
  let dead: [number, number];
  let a: { ts: TempStore; link: Link; produced: Produced[] };
  let b: { ts: TempStore; link: Link; produced: Produced[] };

  beforeAll(async () => {
    cluster = await startTestRabbitCluster();
    parts = linkParts();
  }, RABBIT_HOOK_TIMEOUT);

  afterAll(async () => {
    await parts?.dispose();
    await stopAllRabbitClusters();
  }, RABBIT_HOOK_TIMEOUT);

  it('a home with a survivor on its list delivers through it; a home with none keeps its outbox', async () => {
    const members = await cluster.ctl(0, ['eval', 'ra:members(mqtt_node:server_id()).']);
    const leaderName = /\{mqtt_node,'([^']+)'\}\}\s*$/.exec(members)?.[1];
    const leader = cluster.nodes.findIndex((n) => n.name === leaderName);
    expect(leader).toBeGreaterThanOrEqual(0);
    const [survivor, other] = [0, 1, 2].filter((i) => i !== leader) as [number, number];
    dead = [leader, other];
    const url = (i: number) => cluster.nodes[i]!.mqttUrl;
    receiver = await parts.receiver(url(survivor), 'rmq-majority-rx', { protocolVersion: 4 });
    const fast = { reconnectBaseMs: 200, reconnectMaxMs: 2000 };
    const home = (urls: string[], id: string) => {
      const ts = parts.store();
      const link = parts.link(ts, mqttConfig(urls, fast), { home: { id, zone: 'zone-a' } });
      return { ts, link, produced: [] as Produced[] };
    };
    a = home([url(leader), url(other)], 'home-a');
    b = home([url(other), url(survivor)], 'home-b');
    const send = (h: typeof a, n: number) => {
      const p = produce(h.ts.store, 'telemetry', n, 10, {
        home: { id: h === a ? 'home-a' : 'home-b', zone: 'zone-a' },
      });
      h.produced.push(...p);
      h.link.notify();
    };
    send(a, 50);
    send(b, 50);
    await awaitDelivered('before the loss', [...a.produced, ...b.produced], [receiver], 20_000);

    // Both at once: one after the other, the two left would elect a new leader first.
    await Promise.all(dead.map((i) => cluster.kill(i)));
    const killedAt = Date.now();
    send(a, 50);
    send(b, 50);
    await waitFor(
      () => b.link.status().connected && b.link.status().broker === url(survivor),
      20_000,
      'B on the survivor',
    );
    const movedMs = Date.now() - killedAt;
    const report = await awaitDelivered('home B after the loss', b.produced, [receiver], 30_000);
    expect(report.missing).toBe(0);
    // Home A: no broker it knows is up. It is not connected, and its outbox still holds all 50.
    expect(a.link.status().connected).toBe(false);
    expect(a.ts.store.outbox.stats(Date.now()).rows).toBe(50);
    expect(countingReport(a.produced, [receiver]).missing).toBe(50);
    console.info(JSON.stringify({ figure: 'rabbitmq-majority-loss', homeBMovedMs: movedMs, homeB: report }));
  }, 120_000);

  it.runIf(LONG)(
    'when the nodes return, the home with none left drains its outbox by itself: nothing missing',
    async () => {
      const t0 = Date.now();
      // Resolves once the node has booted (rabbitmqctl await_startup), its MQTT listener included.
      await cluster.start(dead[0]);
      const upMs = Date.now() - t0;
      const report = await awaitDelivered('home A after the return', a.produced, [receiver], 60_000);
      const drainedMs = Date.now() - t0 - upMs;
      expect(report.missing).toBe(0);
      expect(drainedMs).toBeLessThan(30_000);
      expect(a.ts.store.outbox.stats(Date.now()).rows).toBe(0);
      await cluster.start(dead[1]);
      expect(await cluster.runningNodes(0)).toHaveLength(3);
      console.info(
        JSON.stringify({
          figure: 'rabbitmq-majority-return',
          nodeUpMs: upMs,
          homeADrainedMsAfterUp: drainedMs,
          homeA: report,
        }),
      );
    },
    420_000,
  );
});

import { execFileSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LONG } from '../helpers/long.js';
import { waitFor } from '../helpers/ports.js';
import {
  attemptMqtt,
  RABBIT_HOOK_TIMEOUT,
  type RabbitCluster,
  startTestRabbitCluster,
  stopAllRabbitClusters,
} from '../helpers/rabbitmq.js';
import { awaitDelivered, linkParts, mqttConfig, produce } from '../link/helpers.js';

/**
 * What RabbitMQ 3.10's MQTT plugin really does in a real 3-node cluster, checked with mqtt.js: the facts
 * a design for a clustered broker would lean on. Each test asserts what the broker does, and its comment
 * says whether the claim it was written to check held.
 */
interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const uniq = (what: string) => `facts/${what}/${process.pid}-${Date.now()}-${seq++}`;

describe('RabbitMQ 3.10 MQTT facts, 3-node cluster', () => {
  let cluster: RabbitCluster;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    cluster = await startTestRabbitCluster();
    // The measured start of this file's cluster, for the record.
    console.info(`rabbitmq 3-node cluster started in ${cluster.startupMs} ms`);
  }, RABBIT_HOOK_TIMEOUT);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  afterAll(async () => {
    const pids = cluster?.nodes.flatMap((n) => cluster.pid(n.index) ?? []) ?? [];
    await stopAllRabbitClusters();
    // Nothing left behind: no beam.smp, no temp dir.
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    if (cluster) expect(existsSync(cluster.dir)).toBe(false);
  }, RABBIT_HOOK_TIMEOUT);

  async function client(node: number): Promise<MqttClient> {
    const c = await mqtt.connectAsync(cluster.nodes[node]!.mqttUrl, {
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      clientId: `pd-facts-${seq++}-${process.pid}`,
    });
    clients.push(c);
    return c;
  }

  async function subscriber(node: number, filter: string, qos: 0 | 1 | 2 = 1) {
    const c = await client(node);
    const got: Received[] = [];
    c.on('message', (topic, payload, packet: IPublishPacket) => {
      got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
    });
    const granted = await c.subscribeAsync(filter, { qos });
    return { client: c, got, granted: granted.map((g) => g.qos) };
  }

  it('runs each node as its own beam.smp, listening on 127.0.0.1 only; stop and start rejoin', async () => {
    const listeners = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' }).split('\n');
    for (const node of cluster.nodes) {
      const pid = cluster.pid(node.index)!;
      expect(readlinkSync(`/proc/${pid}/exe`)).toMatch(/\/beam\.smp$/);
      const own = listeners.filter((l) => l.includes(`pid=${pid},`)).map((l) => l.trim().split(/\s+/)[3]);
      expect(own.sort()).toEqual(
        [node.amqpPort, node.mqttPort, node.distPort].map((p) => `127.0.0.1:${p}`).sort(),
      );
    }
    const before = cluster.pid(2);
    await cluster.stop(2);
    expect(cluster.running(2)).toBe(false);
    expect(existsSync(`/proc/${before}`)).toBe(false);
    await cluster.start(2);
    expect(cluster.pid(2)).not.toBe(before);
    expect((await cluster.runningNodes(2)).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
  }, 120_000);

  it('(a) refuses an MQTT 5 CONNECT with no CONNACK: the socket is closed; 3.1.1 connects', async () => {
    const url = cluster.nodes[0]!.mqttUrl;
    const v5 = await attemptMqtt(url, { protocolVersion: 5, clientId: 'pd-facts-v5' }, { settleMs: 1000 });
    // Claim holds. mqtt.js emits just 'close': no CONNACK, no 'error' event, no reason code.
    expect(v5.connected).toBe(false);
    expect(v5.code).toBeUndefined();
    expect(v5.events).toEqual(['close']);

    const v4 = await attemptMqtt(url, { protocolVersion: 4, clientId: 'pd-facts-v4' });
    expect(v4.connected).toBe(true);
    expect(v4.code).toBe(0);
  });

  it('(b) routes a message published on node 0 to a subscriber on node 2', async () => {
    const topic = uniq('b');
    const sub = await subscriber(2, topic);
    const pub = await client(0);
    await pub.publishAsync(topic, 'across', { qos: 1 });
    // Claim holds: the subscription queue lives on node 2, the amq.topic binding is cluster-wide.
    await waitFor(() => sub.got.length === 1, 10_000, 'the message on node 2');
    expect(sub.got[0]).toMatchObject({ topic, payload: 'across' });
  });

  it('(c) keeps a retained message per node, and gives it only to an exact-topic subscription', async () => {
    const base = uniq('c');
    const topic = `${base}/state`;
    const pub = await client(0);
    await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });

    const exact0 = await subscriber(0, topic);
    await waitFor(() => exact0.got.length === 1, 10_000, 'the retained message on node 0');
    expect(exact0.got[0]).toMatchObject({ topic, payload: 'kept', retain: true });

    const wildcard0 = await subscriber(0, `${base}/+`);
    const exact1 = await subscriber(1, topic);
    const exact2 = await subscriber(2, topic);
    await sleep(2000);
    // Claims hold: a wildcard filter never gets retained messages in 3.10, and the retained store is
    // the node's own (it is not replicated): exact-topic subscribers on nodes 1 and 2 get nothing.
    expect(wildcard0.got).toEqual([]);
    expect(exact1.got).toEqual([]);
    expect(exact2.got).toEqual([]);

    // A live publish still reaches all of them (routing is cluster-wide, only the retained copy is not).
    await pub.publishAsync(topic, 'live', { qos: 1 });
    await waitFor(
      () => [wildcard0, exact1, exact2].every((s) => s.got.some((m) => m.payload === 'live')),
      10_000,
      'the live message everywhere',
    );
  });

  it('(d) downgrades QoS 2 to QoS 1: the grant, the publish and the delivery', async () => {
    const topic = uniq('d');
    const sub = await subscriber(1, topic, 2);
    // Claim holds: SUBACK grants QoS 1 when asked for 2.
    expect(sub.granted).toEqual([1]);

    const pub = await client(0);
    const acks: string[] = [];
    pub.on('packetreceive', (p) => {
      if (['puback', 'pubrec', 'pubcomp'].includes(p.cmd)) acks.push(p.cmd);
    });
    await pub.publishAsync(topic, 'twice-acked?', { qos: 2 });
    // The broker answers a QoS 2 PUBLISH with a PUBACK (QoS 1 flow), never PUBREC; mqtt.js accepts it.
    expect(acks).toEqual(['puback']);
    await waitFor(() => sub.got.length === 1, 10_000, 'the QoS 2 publish delivered');
    expect(sub.got[0]).toMatchObject({ payload: 'twice-acked?', qos: 1 });
  });

  it('the link connects with 3.1.1 at once, delivers across nodes, and fails over when its node is killed', async () => {
    const parts = linkParts();
    try {
      const urls = cluster.nodes.map((n) => n.mqttUrl);
      const receiver = await parts.receiver(urls[2]!, 'rmq-receiver', { protocolVersion: 4 });
      await waitFor(() => receiver.client.connected, 10_000, 'receiver');
      const ts = parts.store();
      const first = produce(ts.store, 'telemetry', 100);
      const mqtt = mqttConfig([urls[0]!, urls[1]!], { reconnectBaseMs: 200, reconnectMaxMs: 2000 });
      const link = parts.link(ts, mqtt);
      await awaitDelivered('rabbitmq node 0 to node 2', first, [receiver], 20_000);
      expect(link.status()).toMatchObject({ protocolVersion: 4, broker: urls[0], reconnects: 0 });
      expect(link.status().featuresOff).toContain('message-expiry');

      // The session's queue dies with node 0: no node takes that client id until it returns, so the
      // link's session on node 1 has its own (src/link/session.ts sessionClientId).
      await cluster.kill(0);
      const killedAt = Date.now();
      const second = produce(ts.store, 'telemetry', 100);
      link.notify();
      await waitFor(() => link.status().connected && link.status().broker === urls[1], 15_000, 'failover');
      const failoverMs = Date.now() - killedAt;
      const report = await awaitDelivered('after the kill', [...first, ...second], [receiver], 30_000);
      console.info(`rabbitmq: failover to node 1 in ${failoverMs} ms; ${JSON.stringify(report)}`);
      expect(failoverMs).toBeLessThan(10_000);
      expect(report.missing).toBe(0);
      expect(link.status().connected).toBe(true);
    } finally {
      await parts.dispose();
      await cluster.start(0);
    }
  }, 120_000);

  // About 110 s (the restarted node waits out a 100 s timeout of the MQTT plugin): soak mode only, by the
  // two-minute rule for CI; its figures are in the closing note of the broker issue.
  it.runIf(LONG)(
    '(e) with 2 of 3 nodes down, the last one still accepts new MQTT connections (the refusal claim is false)',
    async () => {
      // The client-id tracking Raft cluster (mqtt_node): take its leader down too, so the survivor is a
      // follower with no quorum and no leader.
      const members = await cluster.ctl(0, ['eval', 'ra:members(mqtt_node:server_id()).']);
      const leaderName = /\{mqtt_node,'([^']+)'\}\}\s*$/.exec(members)?.[1];
      const leader = cluster.nodes.findIndex((n) => n.name === leaderName);
      expect(leader).toBeGreaterThanOrEqual(0);
      const [survivor, other] = [0, 1, 2].filter((i) => i !== leader) as [number, number];
      // Both at once: stopped one after the other, the two left would elect a new leader first.
      await Promise.all([cluster.kill(leader), cluster.kill(other)]);
      expect(cluster.running(leader) || cluster.running(other)).toBe(false);
      expect(await cluster.runningNodes(survivor)).toEqual([cluster.nodes[survivor]!.name]);

      // Claimed: no quorum for client-id tracking, so CONNECT is refused. In 3.10.8 the registration is
      // sent to Raft without waiting for it: the CONNACK comes at once (code 0), the connection stays up
      // and local publish/subscribe works.
      const url = cluster.nodes[survivor]!.mqttUrl;
      const attempt = await attemptMqtt(url, { protocolVersion: 4, clientId: 'pd-facts-minority' });
      expect(attempt).toMatchObject({ connected: true, code: 0, events: ['connect'] });
      const topic = uniq('e');
      const sub = await subscriber(survivor, topic);
      await sleep(6000); // past any client-id registration timeout: still connected
      expect(sub.client.connected).toBe(true);
      const pub = await client(survivor);
      await pub.publishAsync(topic, 'minority', { qos: 1 });
      await waitFor(() => sub.got.length === 1, 10_000, 'a message within the minority node');

      // Recovery: the old leader back. The survivor never stopped serving; the restarted node opens its
      // MQTT listener only after mqtt_node:start returns, and that asks the leaderless survivor for the
      // Raft members with a 100 s timeout (START_TIMEOUT): it serves after ~100 s, not after a ~5 s boot.
      const t0 = Date.now();
      await cluster.start(leader);
      const back = await attemptMqtt(cluster.nodes[leader]!.mqttUrl, { protocolVersion: 4 });
      const recoveryMs = Date.now() - t0;
      console.info(`restarted node accepting MQTT after ${recoveryMs} ms`);
      expect(back).toMatchObject({ connected: true, code: 0 });
      expect(recoveryMs).toBeGreaterThan(60_000);
      expect(await cluster.runningNodes(survivor)).toHaveLength(2);
      expect((await attemptMqtt(url, { protocolVersion: 4, clientId: 'pd-facts-majority' })).connected).toBe(
        true,
      );

      await cluster.start(other);
      expect(await cluster.runningNodes(0)).toHaveLength(3);
    },
    420_000,
  );
});

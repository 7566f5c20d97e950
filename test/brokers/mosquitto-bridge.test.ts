import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BridgeWatch,
  disposeAllMosquittoBridges,
  type MosquittoBridgePair,
  startMosquittoBridgePair,
  watchBridge,
} from '../helpers/mosquitto-bridge.js';
import { waitFor } from '../helpers/ports.js';

/**
 * Two real mosquittos, B bridged to A through a loopback proxy: every message crosses exactly once in
 * each direction (no loop), and QoS 1 messages published while the link is cut arrive after it heals.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mosquitto bridge pair', () => {
  let pair: MosquittoBridgePair;
  let watch: BridgeWatch;
  const clients: MqttClient[] = [];
  // Every powerdeal/# message each side's subscriber got, as "topic payload".
  const onA: string[] = [];
  const onB: string[] = [];
  let pubA: MqttClient;
  let pubB: MqttClient;

  async function client(url: string, id: string): Promise<MqttClient> {
    const c = await mqtt.connectAsync(url, { clientId: `${id}-${process.pid}`, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  }

  async function subscriber(url: string, id: string, into: string[]): Promise<void> {
    const c = await client(url, id);
    c.on('message', (topic, payload) => into.push(`${topic} ${payload.toString()}`));
    await c.subscribeAsync('powerdeal/#', { qos: 1 });
  }

  const count = (list: string[], prefix: string) => list.filter((m) => m.startsWith(prefix)).length;

  async function publishMany(c: MqttClient, topic: string, n: number): Promise<string[]> {
    const sent: string[] = [];
    for (let i = 0; i < n; i++) {
      // Each PUBACK comes from the local broker, so this also returns while the bridge is cut.
      await c.publishAsync(topic, String(i), { qos: 1 });
      sent.push(`${topic} ${i}`);
    }
    return sent;
  }

  beforeAll(async () => {
    pair = await startMosquittoBridgePair();
    watch = await watchBridge(pair);
    await watch.until(true);
    await subscriber(pair.a.url, 'sub-a', onA);
    await subscriber(pair.b.url, 'sub-b', onB);
    pubA = await client(pair.a.url, 'pub-a');
    pubB = await client(pair.b.url, 'pub-b');
    // The bridge subscribes on A right after its CONNACK: give it a moment before the first test.
    await sleep(300);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await watch?.close();
    await disposeAllMosquittoBridges();
  });

  it('carries A to B and B to A, each message exactly once on each side', async () => {
    const fromA = await publishMany(pubA, 'powerdeal/x/from-a', 20);
    const fromB = await publishMany(pubB, 'powerdeal/x/from-b', 20);
    await waitFor(
      () => count(onB, 'powerdeal/x/from-a') === 20 && count(onA, 'powerdeal/x/from-b') === 20,
      10_000,
      'both directions',
    );
    await sleep(1500); // a loop would bring copies back in this time
    for (const side of [onA, onB]) {
      expect(side.filter((m) => m.startsWith('powerdeal/x/from-a'))).toEqual(fromA);
      expect(side.filter((m) => m.startsWith('powerdeal/x/from-b'))).toEqual(fromB);
    }
  });

  it('keeps QoS 1 messages published during a cut and delivers them all after restore', async () => {
    const acceptedBefore = pair.proxy.accepted();
    pair.proxy.cut();
    await watch.until(false);
    const fromB = await publishMany(pubB, 'powerdeal/cut/from-b', 50);
    const fromA = await publishMany(pubA, 'powerdeal/cut/from-a', 50);
    await sleep(3000); // the bridge retries every second; every attempt is reset by the proxy
    expect(count(onA, 'powerdeal/cut/from-b')).toBe(0);
    expect(count(onB, 'powerdeal/cut/from-a')).toBe(0);
    expect(pair.proxy.accepted()).toBe(acceptedBefore);

    pair.proxy.restore();
    await watch.until(true);
    await waitFor(
      () => count(onA, 'powerdeal/cut/from-b') === 50 && count(onB, 'powerdeal/cut/from-a') === 50,
      15_000,
      'the messages queued during the cut',
    );
    await sleep(1500);
    // Nothing missing, nothing twice, in order: B queued its own for the bridge, A kept the bridge's
    // persistent session (cleansession false) and queued A's.
    expect(onA.filter((m) => m.startsWith('powerdeal/cut/from-b'))).toEqual(fromB);
    expect(onB.filter((m) => m.startsWith('powerdeal/cut/from-a'))).toEqual(fromA);
    expect(count(onA, 'powerdeal/cut/from-a')).toBe(50);
    expect(count(onB, 'powerdeal/cut/from-b')).toBe(50);
  });
});

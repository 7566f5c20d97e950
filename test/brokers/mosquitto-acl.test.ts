import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createInbox } from '../../src/link/inbox.js';
import { createEnvelope, encodeEnvelope } from '../../src/protocol/envelope.js';
import { generateHomeKey, keyringText } from '../../src/protocol/keyring.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { homeAccess } from '../../src/setup/broker-acl.js';
import type { Store } from '../../src/store/index.js';
import { envelopeMessage } from '../../src/store/outbox-message.js';
import type { OutboxClass } from '../../src/store/outbox-types.js';
import { runCli } from '../helpers/cli.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { sampleBody, type TradingType } from '../helpers/trading-bodies.js';
import { startLink, tempStore, testLogger } from '../link/helpers.js';

/**
 * The acl_file `powerdeal broker acl` prints, on a real mosquitto with a password_file: each home
 * publishes only on its own topics and its neighbours' inboxes, and reads only what its link subscribes
 * to (docs/brokers.md). An `observer` user, added by the test, reads everything to see what got through.
 */

const ZONE = 'zone-x';
const HOMES = ['home-a', 'home-b', 'home-c'];
const T = `powerdeal/v1/${ZONE}`;
const A = { id: 'home-a', zone: ZONE };

let dir: string;
let broker: Mosquitto;
const clients: MqttClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pd-mosquitto-acl-'));
  // mosquitto, started as root, reads the files as its own user.
  chmodSync(dir, 0o755);
  const keyring = join(dir, 'keyring.yaml');
  writeFileSync(
    keyring,
    keyringText({ zone: ZONE, members: new Map(HOMES.map((h) => [h, generateHomeKey()])) }),
  );
  const acl = await runCli(['broker', 'acl', '--keyring', keyring]);
  expect(acl.code, acl.stderr).toBe(0);
  writeFileSync(join(dir, 'acl'), `${acl.stdout}\nuser observer\ntopic read powerdeal/#\n`);
  const passwd = join(dir, 'passwd');
  for (const [i, user] of [...HOMES, 'observer'].entries()) {
    execFileSync('mosquitto_passwd', ['-b', ...(i === 0 ? ['-c'] : []), passwd, user, `pw-${user}`]);
  }
  writeFileSync(join(dir, 'home-a.pass'), 'pw-home-a\n');
  chmodSync(passwd, 0o644);
  broker = await startMosquitto({
    conf: ['allow_anonymous false', `password_file ${passwd}`, `acl_file ${join(dir, 'acl')}`],
  });
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await stopAllMosquittos();
  rmSync(dir, { recursive: true, force: true });
});

interface Peer {
  client: MqttClient;
  got: Array<{ topic: string; payload: string }>;
  /** Resolves once a message with this payload arrived. */
  arrived(payload: string): Promise<unknown>;
}

let seq = 0;
async function peer(user: string | undefined, v: 4 | 5 = 4, opts: IClientOptions = {}): Promise<Peer> {
  const client = await connectAsync(broker.url, {
    clientId: `${user ?? 'anon'}-${v}-${seq++}`,
    protocolVersion: v,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...(user !== undefined ? { username: user, password: `pw-${user}` } : {}),
    ...opts,
  });
  clients.push(client);
  const p: Peer = {
    client,
    got: [],
    arrived: (payload) =>
      waitFor(() => p.got.some((m) => m.payload === payload), 5000, `"${payload}" at ${user}`),
  };
  client.on('message', (topic, payload) => p.got.push({ topic, payload: payload.toString() }));
  return p;
}

async function observer(): Promise<Peer> {
  const o = await peer('observer');
  await o.client.subscribeAsync('powerdeal/#', { qos: 1 });
  return o;
}

function envelope(type: TradingType, from: string, exp?: number): Buffer {
  return encodeEnvelope(envelopeOf(type, from, exp));
}
function envelopeOf(type: TradingType, from: string, exp?: number) {
  return createEnvelope({
    type,
    from,
    zone: ZONE,
    seq: seq++,
    ts: Date.now(),
    body: sampleBody(type),
    ...(exp !== undefined ? { exp } : {}),
  });
}

describe('mosquitto with the generated acl_file', () => {
  it('lets in only the keyring members with their password', async () => {
    await expect(peer(undefined)).rejects.toThrow(/Not authorized/);
    await expect(peer('home-a', 4, { password: 'wrong' })).rejects.toThrow(
      /Bad username or password|Not authorized/i,
    );
    await expect(peer('home-d')).rejects.toThrow(/Bad username or password|Not authorized/i);
  });

  it.each([
    ['3.1.1', 4],
    ['5', 5],
  ] as const)(
    'MQTT %s: a home publishes on its own topics and its neighbours’ inboxes, and nothing else gets through',
    async (_name, v) => {
      const o = await observer();
      const a = await peer('home-a', v);
      const allowed = homeAccess({ zone: ZONE, homes: HOMES })[0]!.publish;
      expect(allowed).toContain(`${T}/home-b/inbox`);
      for (const t of allowed) await a.client.publishAsync(t, `ok ${v} ${t}`, { qos: 1 });
      await Promise.all(allowed.map((t) => o.arrived(`ok ${v} ${t}`)));

      const denied = [
        `${T}/home-b/offer`,
        `${T}/home-b/status`,
        `${T}/home-b/telemetry`,
        `${T}/home-b/trades`,
        `${T}/home-a/inbox`,
        `${T}/home-d/inbox`,
        `${T}/home-a/offer/more`,
        `${T}/home-a`,
        `powerdeal/v1/zone-y/home-a/offer`,
        `powerdeal/v1/zone-y/home-b/inbox`,
      ];
      for (const t of denied) {
        const publishing = a.client.publishAsync(t, `denied ${v} ${t}`, { qos: 1, retain: true });
        // 3.1.1 has no way to say no: mosquitto acknowledges and drops. MQTT 5 gets 0x87, which the link
        // dead-letters.
        if (v === 4) await publishing;
        else await expect(publishing).rejects.toMatchObject({ code: 0x87 });
      }
      // The empty retained payload that withdraws an offer carries no signature: only the ACL stops it.
      const clear = a.client.publishAsync(`${T}/home-b/offer`, '', { qos: 1, retain: true });
      if (v === 4) await clear;
      else await expect(clear).rejects.toMatchObject({ code: 0x87 });

      // Published after the denied ones on the same connection: once it is here, they would have been.
      await a.client.publishAsync(`${T}/home-a/telemetry`, `control ${v}`, { qos: 1 });
      await o.arrived(`control ${v}`);
      expect(o.got.filter((m) => m.payload.startsWith('denied') || m.payload === '')).toEqual([]);
      expect(o.got.map((m) => m.topic).filter((t) => denied.includes(t))).toEqual([]);
    },
  );

  it('a home reads its inbox and the zone’s offers, as its link subscribes; a wider filter gets no more', async () => {
    const b = await peer('home-b');
    const c = await peer('home-c');
    await b.client.publishAsync(`${T}/home-b/offer`, 'offer of b', { qos: 1, retain: true });

    const a = await peer('home-a');
    const filters = createInbox({ home: A, store: {} as Store, log: testLogger() }).subscriptions;
    expect(filters).toEqual([`${T}/home-a/inbox`, `${T}/+/offer`, `${T}/+/requests`, `${T}/home-a/status`]);
    const granted = await a.client.subscribeAsync([...filters], { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1, 1]);
    // mosquitto 2.0 grants any filter and checks read access on each delivery.
    const snoop = await peer('home-a', 5);
    await snoop.client.subscribeAsync('powerdeal/#', { qos: 1 });
    await a.arrived('offer of b');
    await snoop.arrived('offer of b');

    await c.client.publishAsync(`${T}/home-b/inbox`, 'for b', { qos: 1 });
    await c.client.publishAsync(`${T}/home-c/telemetry`, 'telemetry of c', { qos: 1 });
    await c.client.publishAsync(`${T}/home-c/status`, 'status of c', { qos: 1 });
    await c.client.publishAsync(`${T}/home-c/trades`, 'trades of c', { qos: 1 });
    await c.client.publishAsync(`${T}/home-a/inbox`, 'for a', { qos: 1 });
    await c.client.publishAsync(`${T}/home-c/offer`, 'offer of c', { qos: 1, retain: true });
    for (const p of [a, snoop]) {
      await p.arrived('for a');
      await p.arrived('offer of c');
      expect(p.got.map((m) => m.payload).sort()).toEqual(['for a', 'offer of b', 'offer of c']);
    }
  });

  it('a last will only on the home’s own status', async () => {
    const o = await observer();
    const will = (topic: string, payload: string) => ({
      will: { topic, payload: Buffer.from(payload), qos: 1 as const },
    });
    const forged = await peer('home-a', 5, will(`${T}/home-b/status`, 'forged offline'));
    const own = await peer('home-a', 5, will(`${T}/home-a/status`, 'own offline'));
    forged.client.stream.destroy();
    own.client.stream.destroy();
    await o.arrived('own offline');
    await settle();
    expect(o.got.map((m) => m.payload)).not.toContain('forged offline');
  });

  it('the real link of home-a connects, subscribes, receives and sends within the rules', async () => {
    const ts = tempStore();
    let link: ReturnType<typeof startLink> | undefined;
    try {
      const o = await observer();
      const b = await peer('home-b');
      const c = await peer('home-c');
      // The earlier tests left plain-text offers retained: each home withdraws its own first.
      const a = await peer('home-a');
      for (const [p, home] of [
        [a, 'home-a'],
        [b, 'home-b'],
        [c, 'home-c'],
      ] as const) {
        await p.client.publishAsync(`${T}/${home}/offer`, '', { qos: 1, retain: true });
      }
      await b.client.publishAsync(`${T}/home-b/offer`, envelope('offer', 'home-b'), { qos: 1, retain: true });

      const mqtt = configSchema.parse({
        home: A,
        mqtt: { brokers: [broker.url], username: 'home-a', passwordFile: join(dir, 'home-a.pass') },
      }).mqtt!;
      const rows: Array<[TradingType, OutboxClass, string]> = [
        ['ack', 'trade-ack', homeTopic(ZONE, 'home-b', 'inbox')],
        ['trade', 'trade', homeTopic(ZONE, 'home-a', 'trades')],
        // Not this home's to send: a forged offer of home-b.
        ['offer', 'offer', homeTopic(ZONE, 'home-b', 'offer')],
        ['offer', 'offer', homeTopic(ZONE, 'home-a', 'offer')],
      ];
      const sent = ts.store.transaction(() =>
        rows.map(([type, cls, topic]) => {
          const env = envelopeOf(type, 'home-a', Date.now() + 600_000);
          ts.store.outbox.enqueue(envelopeMessage(env, cls, topic), Date.now());
          return { id: env.id, topic };
        }),
      );
      const running = startLink(ts, mqtt, { home: A });
      link = running;

      // The will (its own status) was accepted with the connect, the online status goes out.
      await waitFor(
        () => o.got.some((m) => m.topic === `${T}/home-a/status` && m.payload.includes('online')),
        10_000,
        'online',
      );
      expect(running.status().protocolVersion).toBe(5);
      // Its subscriptions hold: home-b's retained offer and an ack from home-c reach its inbox.
      await c.client.publishAsync(`${T}/home-a/inbox`, envelope('ack', 'home-c'), { qos: 1 });
      await waitFor(() => running.status().inbox.accepted >= 2, 10_000, 'offer and ack accepted');
      expect(Object.entries(running.status().inbox.rejected).filter(([, n]) => n > 0)).toEqual([]);

      await waitFor(() => ts.store.outbox.stats(Date.now()).rows === 0, 10_000, 'outbox drained');
      const forged = sent[2]!;
      const dead = ts.store.deadLetters.list({ direction: 'out' });
      expect(dead.map((d) => [d.messageId, d.reason])).toEqual([[forged.id, '0x87 not authorized']]);
      for (const s of sent.filter((s) => s !== forged)) {
        await waitFor(
          () => o.got.some((m) => m.topic === s.topic && m.payload.includes(s.id)),
          5000,
          s.topic,
        );
      }
      expect(o.got.some((m) => m.payload.includes(forged.id))).toBe(false);
    } finally {
      await link?.stop(1000);
      ts.dispose();
    }
  });
});

/** Long enough for mosquitto to have delivered anything it was going to. */
const settle = () => new Promise((r) => setTimeout(r, 300));

import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FallbackBroker, startFallbackBroker } from '../../src/fallback/broker.js';
import { silentLogger } from '../../src/log/logger.js';
import { keyringOf } from '../../src/neighbourhood/keys.js';
import { type ConnectClaims, connectToken, TOKEN_TTL_MS } from '../../src/protocol/fallback-token.js';
import { generateHomeKey, type Keyring } from '../../src/protocol/keyring.js';
import { createSigner, type Signer } from '../../src/protocol/signing.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { waitFor } from '../helpers/ports.js';

/** The fallback broker's admission and access rules, against the real broker on a loopback port. */
const ZONE = 'lyon-7';
const keys = new Map(['home-1', 'home-2', 'home-3'].map((h) => [h, generateHomeKey()]));
const keyring: Keyring = keyringOf(ZONE, keys);
const signers = new Map([...keys].map(([h, k]) => [h, createSigner(h, k)]));
const signer = (home: string): Signer => signers.get(home)!;

let broker: FallbackBroker;
const epochs: number[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  broker = await startFallbackBroker({
    host: '127.0.0.1',
    port: 0,
    keyring,
    self: 'home-1',
    now: () => Date.now(),
    log: silentLogger(),
    onEpoch: (e) => epochs.push(e),
  });
});
afterAll(async () => broker.close());
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});

function token(s: Signer, over: Partial<ConnectClaims> = {}): string {
  return connectToken(s, {
    home: s.homeId,
    zone: ZONE,
    leader: 'home-1',
    epoch: 1,
    ts: Date.now(),
    nonce: randomUUID(),
    ...over,
  });
}

async function join(home: string, password: string, clientId = `powerdeal-${home}`): Promise<MqttClient> {
  const c = await connectAsync(broker.url, {
    protocolVersion: 4,
    clientId,
    username: home,
    password,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  clients.push(c);
  return c;
}

/** The CONNACK's refusal, as mqtt.js reports it (3.1.1 return code). */
async function refusal(home: string, password: string, clientId?: string): Promise<number | string> {
  try {
    await join(home, password, clientId);
  } catch (err) {
    return (err as { code?: number }).code ?? String(err);
  }
  return 'accepted';
}

describe('fallback broker admission', () => {
  it('lets in a member with a fresh token; members trade messages through it', async () => {
    const a = await join('home-2', token(signer('home-2'), { epoch: 4 }));
    const b = await join('home-3', token(signer('home-3')));
    const inbox = homeTopic(ZONE, 'home-3', 'inbox');
    const granted = await b.subscribeAsync(inbox, { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    const got = new Promise<string>((resolve) => b.on('message', (_t, p) => resolve(p.toString())));
    await a.publishAsync(inbox, 'hello', { qos: 1 });
    expect(await got).toBe('hello');
    expect(broker.clients).toBe(2);
    expect(epochs).toContain(4);
  });

  it("refuses a non-member, a bad signature, a replayed, expired or other-leader token, another home's client id", async () => {
    const stranger = createSigner('home-9', generateHomeKey());
    expect(await refusal('home-9', token(stranger))).toBe(5);
    // Signed by home-3's key in home-2's name.
    const forged = createSigner('home-2', keys.get('home-3')!);
    expect(await refusal('home-2', token(forged))).toBe(5);
    const once = token(signer('home-2'));
    await join('home-2', once);
    expect(await refusal('home-2', once, 'powerdeal-home-2-again')).toBe(5);
    expect(await refusal('home-2', token(signer('home-2'), { ts: Date.now() - TOKEN_TTL_MS - 1000 }))).toBe(
      5,
    );
    expect(await refusal('home-2', token(signer('home-2'), { leader: 'home-3' }))).toBe(5);
    expect(await refusal('home-2', token(signer('home-2'), { zone: 'other' }))).toBe(5);
    expect(await refusal('home-3', token(signer('home-3')), 'powerdeal-home-2')).toBe(5);
    // A token under another username, and passwords that are no token at all.
    expect(await refusal('home-3', token(signer('home-2')))).toBe(4);
    expect(await refusal('home-2', 'not-a-token')).toBe(4);
    expect(await refusal('home-2', `${Buffer.from('{"home":1}').toString('base64url')}.AAAA`)).toBe(4);
    expect(broker.refused).toMatchObject({
      'not-a-member': 1,
      'bad-signature': 1,
      replayed: 1,
      expired: 1,
      'wrong-leader': 1,
      'wrong-zone': 1,
      'client-id': 1,
    });
  });

  it("drops a member that publishes on another member's topic; the message reaches nobody", async () => {
    const victim = homeTopic(ZONE, 'home-3', 'telemetry');
    const watcher = await join('home-3', token(signer('home-3')));
    // home-3 may not read its own telemetry either: a third member's offer topic shows delivery instead.
    const offers = homeTopic(ZONE, 'home-3', 'offer');
    await watcher.subscribeAsync(`powerdeal/v1/${ZONE}/+/offer`, { qos: 1 });
    const seen: string[] = [];
    watcher.on('message', (t) => seen.push(t));
    const rogue = await join('home-2', token(signer('home-2')));
    const closed = new Promise<void>((resolve) => rogue.once('close', () => resolve()));
    rogue.publish(victim, 'forged', { qos: 1 });
    rogue.publish(offers, 'forged', { qos: 1 });
    await closed;
    const before = broker.refused.publish;
    expect(before).toBeGreaterThanOrEqual(1);
    // The broker still serves: a legal publish arrives.
    const honest = await join('home-2', token(signer('home-2')), 'powerdeal-home-2-b');
    await honest.publishAsync(homeTopic(ZONE, 'home-2', 'offer'), 'ok', { qos: 1 });
    await waitFor(() => seen.length > 0, 10_000, 'the legal offer');
    expect(seen).toEqual([homeTopic(ZONE, 'home-2', 'offer')]);
  });

  it("refuses subscriptions outside the zone and to other homes' inboxes", async () => {
    const c = await join('home-2', token(signer('home-2')));
    const filters = [
      'powerdeal/v1/other/+/offer',
      '#',
      homeTopic(ZONE, 'home-3', 'inbox'),
      homeTopic(ZONE, 'home-2', 'inbox'),
    ];
    // mqtt.js rejects a SUBACK with a refusal in it, and hands the packet over.
    const suback = await c.subscribeAsync(filters, { qos: 1 }).then(
      () => null,
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
    expect(suback).toEqual([128, 128, 128, 1]);
    expect(broker.refused.subscribe).toBeGreaterThanOrEqual(3);
  });

  it('survives garbage bytes and a malformed CONNECT, and still lets members in', async () => {
    const garbage = async (bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const s = tcpConnect(broker.port, '127.0.0.1', () => s.write(bytes));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        setTimeout(() => s.destroy(), 2000);
      });
    await garbage(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await garbage(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    // A CONNECT whose remaining length promises more than it brings, then a truncated protocol name.
    await garbage(Buffer.from([0x10, 0x0a, 0x00, 0x04, 0x4d, 0x51]));
    await garbage(
      Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0xc2, 0x00, 0x3c, 0x00]),
    );
    const ok = await join('home-2', token(signer('home-2')));
    expect(ok.connected).toBe(true);
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { startFallbackBroker } from '../../src/fallback/broker.js';
import { silentLogger } from '../../src/log/logger.js';
import { keyringOf } from '../../src/neighbourhood/keys.js';
import { connectToken } from '../../src/protocol/fallback-token.js';
import { generateHomeKey } from '../../src/protocol/keyring.js';
import { createSigner } from '../../src/protocol/signing.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { round } from './util.js';
import { startBroker } from './zone-broker.js';

/**
 * Messages per second the leader's embedded broker carries (the real fallback broker: token gate and
 * zone access rules on every CONNECT, PUBLISH and SUBSCRIBE), against bare aedes and mosquitto carrying
 * the same load in the same run: one member publishes QoS 1 messages of a signed offer's size to
 * another member's inbox, with a bounded window of unacknowledged publishes, until all have arrived.
 */
const ZONE = 'bench-zone';
const MESSAGES = Number(process.env.BENCH_FALLBACK_MESSAGES ?? 20_000);
/** A signed offer envelope with its payload is about this size on the wire. */
const PAYLOAD_BYTES = 700;
const WINDOW = 100;

interface Target {
  url: string;
  /** CONNECT options for a home (the fallback broker wants a token; the others ignore it). */
  options(home: string): IClientOptions;
}

async function carry(target: Target): Promise<{ msgPerS: number; received: number }> {
  const pub = await connectAsync(target.url, target.options('home-2'));
  const sub = await connectAsync(target.url, target.options('home-3'));
  const clients: MqttClient[] = [pub, sub];
  try {
    const topic = homeTopic(ZONE, 'home-3', 'inbox');
    await sub.subscribeAsync(topic, { qos: 1 });
    const payload = randomBytes(PAYLOAD_BYTES);
    let received = 0;
    const all = new Promise<void>((resolve) =>
      sub.on('message', () => {
        received++;
        if (received === MESSAGES) resolve();
      }),
    );
    const start = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      while (next < MESSAGES) {
        next++;
        await pub.publishAsync(topic, payload, { qos: 1 });
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
    await all;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { msgPerS: Math.round(MESSAGES / seconds), received };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
  }
}

const plain = (home: string): IClientOptions => ({
  protocolVersion: 4,
  clientId: `powerdeal-${home}`,
  reconnectPeriod: 0,
});

/** Rounds per broker, interleaved so that JIT warm-up and machine noise fall on all three alike. */
const ROUNDS = 3;

export async function benchFallbackBroker(): Promise<Record<string, unknown>> {
  const keys = new Map(['home-1', 'home-2', 'home-3'].map((h) => [h, generateHomeKey()]));
  const keyring = keyringOf(ZONE, keys);
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-bench-fallback-'));
  const mosquitto = await startBroker(dir);
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fallback = await startFallbackBroker({
    host: '127.0.0.1',
    port: 0,
    keyring,
    self: 'home-1',
    now: () => Date.now(),
    log: silentLogger(),
  });
  // Every connection needs a fresh token: the broker refuses a replayed one.
  const signed = (home: string): IClientOptions => ({
    ...plain(home),
    username: home,
    password: connectToken(createSigner(home, keys.get(home)!), {
      home,
      zone: ZONE,
      leader: 'home-1',
      epoch: 1,
      ts: Date.now(),
      nonce: randomUUID(),
    }),
  });
  const targets: Record<string, Target> = {
    mosquitto: { url: mosquitto.url, options: plain },
    bareAedes: { url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`, options: plain },
    fallbackBroker: { url: fallback.url, options: signed },
  };
  const rates: Record<string, number[]> = { mosquitto: [], bareAedes: [], fallbackBroker: [] };
  const received: Record<string, number> = { mosquitto: 0, bareAedes: 0, fallbackBroker: 0 };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, target] of Object.entries(targets)) {
        const run = await carry(target);
        rates[name]!.push(run.msgPerS);
        received[name]! += run.received;
      }
    }
  } finally {
    await fallback.close();
    await new Promise<void>((resolve) => aedes.close(() => server.close(() => resolve())));
    await mosquitto.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const figures = Object.fromEntries(
    Object.keys(rates).map((k) => [
      k,
      { msgPerSMedian: median(rates[k]!), rounds: rates[k], received: received[k] },
    ]),
  );
  return {
    messagesPerRound: MESSAGES,
    payloadBytes: PAYLOAD_BYTES,
    window: WINDOW,
    note: 'publisher and subscriber run in the bench process; the fallback broker and bare aedes run in it too, as the leader runs its broker in its own process',
    ...figures,
    fallbackVsMosquitto: round(median(rates.fallbackBroker!) / median(rates.mosquitto!)),
    fallbackVsBareAedes: round(median(rates.fallbackBroker!) / median(rates.bareAedes!)),
  };
}

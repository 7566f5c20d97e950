import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { connect } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { INBOX_REJECT_REASONS } from '../../src/link/inbox.js';
import { createEnvelope, type Envelope, encodeEnvelope } from '../../src/protocol/envelope.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { sampleBody } from '../helpers/trading-bodies.js';
import { HOME, linkParts, mqttConfig } from './helpers.js';

const INBOX = homeTopic(HOME.zone, HOME.id, 'inbox');
const FLOOD = 20_000;

function accept(over: Partial<{ zone: string; exp: number; ts: number }> = {}): Envelope {
  const now = Date.now();
  return createEnvelope({
    type: 'accept',
    from: 'home-2',
    zone: over.zone ?? HOME.zone,
    seq: 1,
    ts: over.ts ?? now,
    exp: over.exp ?? now + 600_000,
    body: sampleBody('accept', { seller: HOME.id, energyWh: 250 }),
  });
}

/**
 * Bytes that are never valid UTF-8 (0xff can not appear in UTF-8), without the newline and NUL bytes that
 * mosquitto_pub -l would split or cut a line at.
 */
function garbage(): Buffer {
  const b = Buffer.concat([Buffer.from([0xff]), randomBytes(1 + Math.floor(Math.random() * 200))]);
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0a || b[i] === 0x00) b[i] = 0xfe;
  return b;
}

/** Publishes each payload as one QoS 1 message from a separate process (mosquitto_pub reading lines). */
function publishLines(port: number, topic: string, payloads: Buffer[]): Promise<number | null> {
  const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-q', '1', '-l'], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const done = new Promise<number | null>((r) => pub.once('exit', r));
  for (const p of payloads) pub.stdin.write(Buffer.concat([p, Buffer.from('\n')]));
  pub.stdin.end();
  return done;
}

describe('inbound garbage over a real broker', () => {
  const parts = linkParts();
  afterAll(parts.dispose);

  it('dead-letters every bad message with its reason, delivers the valid ones, and stays responsive', async () => {
    const broker = await startMosquitto({ conf: ['max_queued_messages 100000'] });
    // A retained message on a neighbour's offer topic arrives once the link's subscriptions are made: the
    // signal that the flood can start (it is garbage, refused as not-json like the flood's garbage).
    const probe = connect(broker.url, { clientId: 'retained-probe', reconnectPeriod: 0 });
    probe.on('error', () => {});
    await waitFor(() => probe.connected, 5000, 'probe connected');
    await probe.publishAsync(homeTopic(HOME.zone, 'home-2', 'offer'), garbage(), { qos: 1, retain: true });
    await probe.endAsync();
    const ts = parts.store();
    const got: string[] = [];
    const link = parts.link(ts, mqttConfig([broker.url]), {
      drainStartJitterMs: undefined,
      onMessage: (env) => got.push(env.id),
    });
    await waitFor(() => link.status().inbox.rejected['not-json'] === 1, 10_000, 'subscribed');

    const valid: Envelope[] = Array.from({ length: 200 }, () => accept());
    const dup = accept();
    const batches: Buffer[] = [];
    const expected: Record<string, number> = {
      'not-json': 1 + 300 + FLOOD,
      'bad-envelope': 200,
      oversized: 50,
      expired: 100,
      'wrong-zone': 50,
      duplicate: 99,
    };
    for (let i = 0; i < 300; i++) batches.push(garbage());
    for (let i = 0; i < 200; i++) batches.push(Buffer.from(JSON.stringify({ hello: i, v: 1 })));
    for (let i = 0; i < 50; i++) batches.push(Buffer.alloc(20 * 1024, 0x7b));
    for (let i = 0; i < 100; i++)
      batches.push(encodeEnvelope(accept({ ts: Date.now() - 5000, exp: Date.now() - 1 })));
    for (let i = 0; i < 50; i++) batches.push(encodeEnvelope(accept({ zone: 'zone-b' })));
    for (let i = 0; i < 100; i++) batches.push(encodeEnvelope(dup));
    for (let i = 0; i < FLOOD; i++) batches.push(garbage());
    // Valid messages spread through the garbage.
    const all = [...batches];
    valid.forEach((v, i) => {
      all.splice(Math.floor(((i + 1) * all.length) / (valid.length + 1)), 0, encodeEnvelope(v));
    });

    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    let ticks = 0;
    let maxGap = 0;
    let last = Date.now();
    const ticker = setInterval(() => {
      const t = Date.now();
      maxGap = Math.max(maxGap, t - last);
      last = t;
      ticks++;
    }, 10);

    const t0 = Date.now();
    expect(await publishLines(broker.port, INBOX, all)).toBe(0);
    const total = 1 + all.length;
    await waitFor(
      () => {
        const s = link.status().inbox;
        return s.accepted + Object.values(s.rejected).reduce((a, b) => a + b, 0) >= total;
      },
      60_000,
      'every message handled',
    );
    const took = Date.now() - t0;
    clearInterval(ticker);
    lag.disable();

    const stats = link.status().inbox;
    console.log(
      `inbox flood: ${total} messages in ${took} ms (${Math.round((total * 1000) / took)}/s); ` +
        `10 ms timer ticked ${ticks} times (${Math.round((ticks * 1000) / took)}/s), max gap ${maxGap} ms, event loop delay max ${Math.round(lag.max / 1e6)} ms; ` +
        `rejected ${JSON.stringify(Object.fromEntries(Object.entries(stats.rejected).filter(([, n]) => n > 0)))}`,
    );
    expect(stats.accepted).toBe(201);
    expect(new Set(got)).toEqual(new Set([...valid.map((v) => v.id), dup.id]));
    for (const reason of INBOX_REJECT_REASONS)
      expect(stats.rejected[reason], reason).toBe(expected[reason] ?? 0);
    expect(ts.store.deadLetters.totalsByReason()).toEqual(expected);
    // Responsive throughout: the 10 ms timer never waited a whole second (the rate is printed above).
    expect(maxGap).toBeLessThan(1000);
    expect(link.status().connected).toBe(true);
  }, 90_000);
});

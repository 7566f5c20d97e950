import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { configSchema, type MqttConfig } from '../../src/config/schema.js';
import { createLink, type Link, type LinkContext } from '../../src/link/link.js';
import { telemetryMessage } from '../../src/link/telemetry.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { createEnvelope, encodeEnvelope } from '../../src/protocol/envelope.js';
import { homeTopic, type TopicKind } from '../../src/protocol/topics.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { OutboxClass, OutboxMessage } from '../../src/store/outbox-types.js';
import type { ManualClock } from '../helpers/manual-clock.js';
import {
  type Mosquitto,
  type MosquittoOptions,
  startMosquitto,
  stopAllMosquittos,
} from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { sampleBody, type TradingType } from '../helpers/trading-bodies.js';

/** Shared parts of the link tests: a real store in a temp dir, config through the real schema, a receiver. */

export const HOME = { id: 'home-1', zone: 'zone-a' };

export function testLogger(): Logger {
  return createLogger({ level: process.env.PD_TEST_LOG ?? 'silent', journald: false });
}

export function mqttConfig(
  brokers: string[],
  over: Partial<Record<keyof MqttConfig, unknown>> = {},
): MqttConfig {
  return configSchema.parse({ home: HOME, mqtt: { brokers, ...over } }).mqtt!;
}

export interface TempStore {
  store: Store;
  path: string;
  dir: string;
  reopen(): Store;
  dispose(): void;
}

export function tempStore(log: Logger = testLogger()): TempStore {
  const dir = mkdtempSync(join(tmpdir(), 'pd-link-'));
  const path = join(dir, 'powerdeal.db');
  const t: TempStore = {
    store: openStore({ path, log }),
    path,
    dir,
    reopen() {
      t.store.close();
      t.store = openStore({ path, log });
      return t.store;
    },
    dispose() {
      t.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/**
 * Creates and starts a link for HOME on the temp store, version 't'. The drain starts at once unless
 * `ctx.drainStartJitterMs` says otherwise (`undefined` there keeps the link's default jitter).
 */
export function startLink(ts: TempStore, mqtt: MqttConfig, ctx: Partial<LinkContext> = {}): Link {
  const link = createLink({
    mqtt,
    home: HOME,
    outbox: ts.store.outbox,
    store: ts.store,
    log: testLogger(),
    version: 't',
    drainStartJitterMs: 0,
    ...ctx,
  });
  link.start();
  return link;
}

/**
 * What a link test starts: `dispose()` stops the links (within `stopMs`; a frozen broker is thawed
 * first), closes the receivers, removes the temp stores and stops every mosquitto, also after a failed test.
 */
export interface LinkParts {
  brokers: Mosquitto[];
  links: Link[];
  receivers: Receiver[];
  stores: TempStore[];
  broker(opts?: MosquittoOptions): Promise<Mosquitto>;
  store(): TempStore;
  receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver>;
  link(...args: Parameters<typeof startLink>): Link;
  dispose(): Promise<void>;
}

/** Links running on a ManualClock: stopping one drives its clock (the stop's deadline is on it). */
const manualClocks = new WeakMap<Link, ManualClock>();

async function stopLink(link: Link, stopMs: number): Promise<void> {
  const clock = manualClocks.get(link);
  if (!clock) return link.stop(stopMs);
  let stopped = false;
  const stopping = link.stop(stopMs).then(() => {
    stopped = true;
  });
  await driveUntil(clock, () => stopped, 'link stopped', { timeoutMs: stopMs + 10_000 });
  await stopping;
}

/**
 * Runs a link on a ManualClock against real I/O (a real mosquitto): advances the clock `stepMs` at a
 * time, giving real I/O a turn between steps, until `check` holds; fails after `timeoutMs` of real time.
 * Every timer of the link runs only here, so what it does between two checks is bounded by the clock.
 */
export async function driveUntil(
  clock: ManualClock,
  check: () => boolean | Promise<boolean>,
  what: string,
  opts: { stepMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const { stepMs = 10, timeoutMs = 20_000 } = opts;
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await clock.advance(stepMs);
    // Real I/O (sockets, the broker) gets its turn between two steps.
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function linkParts(stopMs = 1000): LinkParts {
  const parts: LinkParts = {
    brokers: [],
    links: [],
    receivers: [],
    stores: [],
    async broker(opts) {
      const broker = await startMosquitto(opts);
      parts.brokers.push(broker);
      return broker;
    },
    store() {
      const ts = tempStore();
      parts.stores.push(ts);
      return ts;
    },
    async receiver(...args) {
      const r = await startReceiver(...args);
      parts.receivers.push(r);
      return r;
    },
    link(...args) {
      const link = startLink(...args);
      parts.links.push(link);
      const clock = args[2]?.clock;
      if (clock && 'advance' in clock) manualClocks.set(link, clock as ManualClock);
      return link;
    },
    async dispose() {
      for (const b of parts.brokers.splice(0)) b.thaw();
      for (const l of parts.links.splice(0)) await stopLink(l, stopMs);
      for (const r of parts.receivers.splice(0)) await r.close();
      for (const ts of parts.stores.splice(0)) ts.dispose();
      await stopAllMosquittos();
    },
  };
  return parts;
}

/**
 * Where each class goes, as which envelope type and with which valid body (this home is the seller of its
 * trades and offers, the neighbour the seller of what this home accepts).
 */
const NEIGHBOUR = 'home-2';
const ROUTES: {
  [C in Exclude<OutboxClass, 'telemetry'>]: {
    to: 'self' | 'neighbour';
    kind: TopicKind;
    type: TradingType;
    body: (home: string) => Record<string, unknown>;
  };
} = {
  trade: {
    to: 'self',
    kind: 'trades',
    type: 'trade',
    body: (home) => sampleBody('trade', { seller: home, buyer: NEIGHBOUR }),
  },
  'trade-ack': { to: 'neighbour', kind: 'inbox', type: 'ack', body: () => sampleBody('ack') },
  reject: {
    to: 'neighbour',
    kind: 'inbox',
    type: 'reject',
    body: (home) => sampleBody('reject', { seller: home }),
  },
  settlement: { to: 'self', kind: 'trades', type: 'settlement', body: () => sampleBody('settlement') },
  accept: {
    to: 'neighbour',
    kind: 'inbox',
    type: 'accept',
    body: () => sampleBody('accept', { seller: NEIGHBOUR }),
  },
  offer: { to: 'self', kind: 'offer', type: 'offer', body: () => sampleBody('offer') },
  'offer-sync': {
    to: 'self',
    kind: 'requests',
    type: 'offer-request',
    body: () => sampleBody('offer-request'),
  },
};

export interface Produced {
  id: string;
  class: OutboxClass;
}

/**
 * An outbox message of the given class, a valid envelope. `payloadBytes` pads the wire form with that many
 * bytes of trailing JSON whitespace: no valid body has room for free text, and receivers still parse it.
 */
export function makeMessage(
  store: Store,
  cls: OutboxClass,
  n: number,
  extra: { expiresAt?: number; payloadBytes?: number; home?: { id: string; zone: string } } = {},
): OutboxMessage {
  const home = extra.home ?? HOME;
  const now = Date.now();
  if (cls === 'telemetry') {
    return telemetryMessage(
      home,
      { from: now - 10_000, to: now, samples: n + 1, q: {} },
      store.seq.next(),
      now,
    );
  }
  const route = ROUTES[cls];
  const env = createEnvelope({
    type: route.type,
    from: home.id,
    zone: home.zone,
    seq: store.seq.next(),
    ts: now,
    body: route.body(home.id),
    ...(extra.expiresAt !== undefined ? { exp: extra.expiresAt } : {}),
  });
  const msg: OutboxMessage = {
    id: env.id,
    class: cls,
    topic: homeTopic(home.zone, route.to === 'self' ? home.id : NEIGHBOUR, route.kind),
    payload: Buffer.concat([encodeEnvelope(env), Buffer.alloc(extra.payloadBytes ?? 0, 0x20)]),
    retain: cls === 'offer',
  };
  if (extra.expiresAt !== undefined) msg.expiresAt = extra.expiresAt;
  return msg;
}

/** Enqueues `count` messages, `perTx` per transaction; returns them in commit order. */
export function produce(
  store: Store,
  cls: OutboxClass,
  count: number,
  perTx = 10,
  extra: Parameters<typeof makeMessage>[3] = {},
): Produced[] {
  const out: Produced[] = [];
  for (let i = 0; i < count; i += perTx) {
    store.transaction(() => {
      for (let j = i; j < Math.min(count, i + perTx); j++) {
        const msg = makeMessage(store, cls, j, extra);
        store.outbox.enqueue(msg, Date.now());
        out.push({ id: msg.id, class: cls });
      }
    });
  }
  return out;
}

/**
 * A subscriber on `powerdeal/v1/#` with a persistent session: records every delivery, dedupes on the
 * envelope id (as any receiver must with QoS 1) and keeps first arrivals in order.
 */
export interface Receiver {
  client: MqttClient;
  deliveries: number;
  /** Envelope ids in first-arrival order. */
  order: string[];
  seen: Set<string>;
  topics: Map<string, string>;
  close(): Promise<void>;
}

export async function startReceiver(
  url: string,
  name = 'receiver',
  opts: { filter?: string; username?: string; password?: string; protocolVersion?: 4 | 5 } = {},
): Promise<Receiver> {
  const v5 = (opts.protocolVersion ?? 5) === 5;
  const client = connect(url, {
    clientId: `${name}-${process.pid}`,
    protocolVersion: v5 ? 5 : 4,
    clean: false,
    ...(v5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    reconnectPeriod: 200,
    connectTimeout: 5000,
    ...(opts.username !== undefined ? { username: opts.username, password: opts.password } : {}),
  });
  client.on('error', () => {});
  const r: Receiver = {
    client,
    deliveries: 0,
    order: [],
    seen: new Set(),
    topics: new Map(),
    async close() {
      await client.endAsync(true);
    },
  };
  client.on('message', (topic, payload) => {
    if (payload.length === 0 || topic.endsWith('/status')) return;
    let id: string;
    try {
      id = (JSON.parse(payload.toString()) as { id: string }).id;
    } catch {
      return;
    }
    r.deliveries++;
    if (r.seen.has(id)) return;
    r.seen.add(id);
    r.order.push(id);
    r.topics.set(id, topic);
  });
  await waitFor(() => client.connected, 10_000, `receiver connected to ${url}`);
  await client.subscribeAsync(opts.filter ?? 'powerdeal/v1/#', { qos: 1 });
  return r;
}

export interface CountingReport {
  expected: number;
  received: number;
  deliveries: number;
  duplicatesRemoved: number;
  missing: number;
  missingIds: string[];
  misordered: number;
}

/** Compares what was committed (in commit order) with what receivers got. */
export function countingReport(
  expected: readonly Produced[],
  receivers: readonly Receiver[],
): CountingReport {
  const seen = new Set<string>();
  const arrivals: string[] = [];
  let deliveries = 0;
  for (const r of receivers) {
    deliveries += r.deliveries;
    for (const id of r.order) {
      if (!seen.has(id)) arrivals.push(id);
      seen.add(id);
    }
  }
  const index = new Map(expected.map((p, i) => [p.id, i]));
  const classOf = new Map(expected.map((p) => [p.id, p.class]));
  const missingIds = expected.filter((p) => !seen.has(p.id)).map((p) => p.id);
  // Misordered within a class: a first arrival that comes after a later-committed one of its class.
  let misordered = 0;
  const maxIndex = new Map<string, number>();
  // With several receivers (failover), order only holds per receiver.
  for (const r of receivers) {
    maxIndex.clear();
    for (const id of r.order) {
      const i = index.get(id);
      const cls = classOf.get(id);
      if (i === undefined || cls === undefined) continue;
      const max = maxIndex.get(cls) ?? -1;
      if (i < max) misordered++;
      else maxIndex.set(cls, i);
    }
  }
  const received = expected.length - missingIds.length;
  return {
    expected: expected.length,
    received,
    deliveries,
    duplicatesRemoved: deliveries - seen.size,
    missing: missingIds.length,
    missingIds: missingIds.slice(0, 10),
    misordered,
  };
}

export function printReport(name: string, report: CountingReport): void {
  console.log(`counting report [${name}]: ${JSON.stringify(report)}`);
}

/** Waits until the receivers got every produced message, then prints the counting report as `name` and returns it. */
export async function awaitDelivered(
  name: string,
  produced: readonly Produced[],
  receivers: readonly Receiver[],
  timeoutMs = 20_000,
): Promise<CountingReport> {
  await waitFor(() => countingReport(produced, receivers).missing === 0, timeoutMs, `${name}: all delivered`);
  const report = countingReport(produced, receivers);
  printReport(name, report);
  return report;
}

/** awaitDelivered for a link on a ManualClock: drives the clock until the receivers got everything. */
export async function driveDelivered(
  clock: ManualClock,
  name: string,
  produced: readonly Produced[],
  receivers: readonly Receiver[],
  timeoutMs = 20_000,
): Promise<CountingReport> {
  await driveUntil(clock, () => countingReport(produced, receivers).missing === 0, `${name}: all delivered`, {
    timeoutMs,
  });
  const report = countingReport(produced, receivers);
  printReport(name, report);
  return report;
}

/** Drives the clock `ms` forward, `stepMs` at a time, with real I/O between the steps. */
export async function driveFor(clock: ManualClock, ms: number, stepMs = 10): Promise<void> {
  const until = clock.now() + ms;
  await driveUntil(clock, () => clock.now() >= until, `${ms} ms of the link's time`, {
    stepMs,
    timeoutMs: 60_000,
  });
}

/** Waits until the home's retained status on the broker says online. */
export async function awaitOnline(url: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await retainedStatus(url, HOME, 500))?.state === 'online', timeoutMs, 'online');
}

/** The retained status of a home as a fresh subscriber sees it, or null if none within the timeout. */
export async function retainedStatus(
  url: string,
  home = HOME,
  timeoutMs = 3000,
): Promise<{ state: string; version: string } | null> {
  const client = connect(url, { clientId: `status-${process.pid}-${Math.random()}`, reconnectPeriod: 0 });
  client.on('error', () => {});
  try {
    await waitFor(() => client.connected, 5000, 'status client');
    return await new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), timeoutMs);
      client.on('message', (_topic, payload) => {
        if (payload.length === 0) return;
        clearTimeout(t);
        resolve((JSON.parse(payload.toString()) as { body: { state: string; version: string } }).body);
      });
      void client.subscribeAsync(homeTopic(home.zone, home.id, 'status'), { qos: 1 });
    });
  } finally {
    await client.endAsync(true);
  }
}

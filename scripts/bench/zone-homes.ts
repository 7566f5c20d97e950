import { join } from 'node:path';
import { connect } from 'mqtt';
import { configSchema } from '../../src/config/schema.js';
import { createLink } from '../../src/link/link.js';
import { silentLogger } from '../../src/log/logger.js';
import { type Envelope, encodeEnvelope } from '../../src/protocol/envelope.js';
import type { Signer, Verify } from '../../src/protocol/signing.js';
import { homeTopic, zoneOffersFilter } from '../../src/protocol/topics.js';
import { envelopeMessage, openStore } from '../../src/store/index.js';
import { type Outgoing, routeTopic } from './zone-traffic.js';

/**
 * How a simulated home of the zone benchmark reaches the broker: through its own SQLite store, outbox
 * and the real link (`linkHome`), or, as the baseline, through a bare mqtt.js client that publishes the
 * same envelopes at once and only parses what it receives (`rawHome`).
 */

export interface HomeSetup {
  id: string;
  zone: string;
  url: string;
  /** Where a link home keeps its store file. */
  dir: string;
  signer: Signer | null;
  verify: Verify | null;
  /** Every message the home takes (a link home: what its inbox accepted, inside its transaction). */
  onEnvelope(env: Envelope, topic: string): void;
}

export interface HomeTransport {
  /** The next envelope seq (a link home: inside the transaction of `send`). */
  seq(): number;
  /** Builds the messages (a link home: inside one store transaction) and sends them; returns them. */
  send(build: () => Outgoing[]): Outgoing[];
  /** Messages not yet acknowledged by the broker (a link home: its outbox rows). */
  pending(): number;
  connected(): boolean;
  /** Inbound messages refused by reason (a link home: its inbox's counters). */
  refused(): Record<string, number>;
  /** Link counters worth reporting (published, retries, reconnects…). */
  counters(): Record<string, number>;
  stop(): Promise<void>;
}

export function linkHome(s: HomeSetup): HomeTransport {
  const home = { id: s.id, zone: s.zone };
  const log = silentLogger();
  const store = openStore({ path: join(s.dir, `${s.id}.db`), log });
  const mqtt = configSchema.parse({ home, mqtt: { brokers: [s.url] } }).mqtt!;
  const sign = (env: Envelope<Record<string, unknown>>) => (s.signer ? s.signer.sign(env) : env);
  const link = createLink({
    mqtt,
    home,
    store,
    outbox: store.outbox,
    log,
    version: 'bench',
    onMessage: (env, topic) => s.onEnvelope(env, topic),
    ...(s.verify ? { verify: s.verify } : {}),
    ...(s.signer ? { signer: s.signer } : {}),
  });
  link.start();
  let stopped = false;
  return {
    seq: () => store.seq.next(),
    send(build) {
      if (stopped) return [];
      let outs: Outgoing[] = [];
      store.transaction(() => {
        outs = build();
        const now = Date.now();
        for (const o of outs) {
          store.outbox.enqueue(envelopeMessage(sign(o.env), o.cls, routeTopic(s.zone, s.id, o.route)), now);
        }
      });
      link.notify();
      return outs;
    },
    pending: () => (stopped ? 0 : store.outbox.stats(Date.now()).rows),
    connected: () => link.status().connected,
    refused() {
      const r = link.status().inbox.rejected;
      return Object.fromEntries(Object.entries(r).filter(([, n]) => n > 0));
    },
    counters() {
      const st = link.status();
      return {
        published: st.published,
        retries: st.retries,
        reconnects: st.reconnects,
        ackTimeouts: st.ackTimeouts,
        deadLettered: st.deadLettered,
        peakInFlight: st.peakInFlight,
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await link.stop(2000);
      store.close();
    },
  };
}

export function rawHome(s: HomeSetup): HomeTransport {
  const inbox = homeTopic(s.zone, s.id, 'inbox');
  const ownOffer = homeTopic(s.zone, s.id, 'offer');
  const client = connect(s.url, {
    protocolVersion: 5,
    clientId: `bench-raw-${s.id}`,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 0,
  });
  let seq = 0;
  let pending = 0;
  let published = 0;
  const refused: Record<string, number> = {};
  const refuse = (reason: string) => {
    refused[reason] = (refused[reason] ?? 0) + 1;
  };
  client.on('error', () => refuse('client-error'));
  client.on('connect', () => {
    client.subscribe({ [inbox]: { qos: 1, nl: true }, [zoneOffersFilter(s.zone)]: { qos: 1, nl: true } });
  });
  client.on('message', (topic, payload) => {
    if (payload.length === 0 || topic === ownOffer) return;
    let env: Envelope;
    try {
      env = JSON.parse(payload.toString('utf8')) as Envelope;
    } catch {
      return refuse('not-json');
    }
    const unverified = s.verify?.(env, payload) ?? null;
    if (unverified !== null) return refuse(unverified);
    s.onEnvelope(env, topic);
  });
  return {
    seq: () => seq++,
    send(build) {
      const outs = build();
      const now = Date.now();
      for (const o of outs) {
        const env = s.signer ? s.signer.sign(o.env) : o.env;
        const retain = o.cls === 'offer';
        const exp = o.env.exp;
        const opts = {
          qos: 1 as const,
          retain,
          ...(exp !== undefined
            ? { properties: { messageExpiryInterval: Math.ceil((exp - now) / 1000) } }
            : {}),
        };
        pending++;
        client.publish(routeTopic(s.zone, s.id, o.route), encodeEnvelope(env), opts, (err) => {
          pending--;
          if (err) refuse('publish-error');
          else published++;
        });
      }
      return outs;
    },
    pending: () => pending,
    connected: () => client.connected,
    refused: () => ({ ...refused }),
    counters: () => ({ published }),
    async stop() {
      await client.endAsync();
    },
  };
}

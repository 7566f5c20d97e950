import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createLink } from '../../src/link/link.js';
import { telemetryMessage } from '../../src/link/telemetry.js';
import { silentLogger } from '../../src/log/logger.js';
import { SimBroker, type WireMessage } from '../../src/neighbourhood/broker.js';
import { NO_FAULTS, zeroFaultCounts } from '../../src/neighbourhood/faults.js';
import { Network } from '../../src/neighbourhood/network.js';
import { Random } from '../../src/neighbourhood/random.js';
import { Scheduler } from '../../src/neighbourhood/scheduler.js';
import { SimClock } from '../../src/neighbourhood/sim-clock.js';
import { SimTransport } from '../../src/neighbourhood/sim-transport.js';
import { openStore } from '../../src/store/index.js';

const HOME = { id: 'home-1', zone: 'z' };

/** The real link on a SimClock over a SimTransport, with every PUBLISH lost until `healAt`. */
function setup(healAt: number) {
  const sched = new Scheduler(0);
  const counts = zeroFaultCounts();
  const net = new Network(new Random(1, 2), { ...NO_FAULTS, publishLoss: 1 }, counts);
  const broker = new SimBroker(sched, net, { legacy: false, sessionLimit: 100 }, counts, {
    deliveredTo() {},
  });
  const store = openStore({ path: ':memory:', log: silentLogger(), now: () => sched.now });
  const clock = new SimClock(sched, new Random(1, 8));
  const arrived: { at: number; msg: WireMessage }[] = [];
  const transport = new SimTransport(
    {
      home: HOME.id,
      sched,
      clock,
      broker,
      net,
      rnd: new Random(1, 3),
      onPublished: (msg) => {
        arrived.push({ at: sched.now, msg });
        return null;
      },
      inbound: (_msg, handle) => handle(),
    },
    false,
  );
  const mqtt = configSchema.parse({ home: HOME, mqtt: { brokers: ['mqtt://sim'], clientId: HOME.id } }).mqtt!;
  const link = createLink({
    mqtt,
    home: HOME,
    outbox: store.outbox,
    store,
    log: silentLogger(),
    clock,
    transport,
    version: 't',
    drainStartJitterMs: 0,
  });
  sched.at(healAt, () => {
    net.faulty = false;
  });
  return { sched, store, link, arrived, transport, clock };
}

describe('the real link over the simulated transport', () => {
  it('re-sends a lost PUBLISH after the ack timeout, the same row with the same bytes', async () => {
    const { sched, store, link, arrived } = setup(1000);
    const msg = telemetryMessage(HOME, { from: 0, to: 1, samples: 1, q: {} }, store.seq.next(), 0);
    store.outbox.enqueue(msg, 0);
    link.start();
    await sched.runUntil(30_000);
    const rows = arrived.filter((a) => a.msg.topic === msg.topic);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.msg.payload.equals(msg.payload)).toBe(true);
    // Lost at once, failed after the ack timeout (10 s), sent again: a few ms of network later.
    expect(rows[0]!.at).toBeGreaterThanOrEqual(10_000);
    expect(rows[0]!.at).toBeLessThan(11_000);
    expect(link.status().retries).toBe(1);
    expect(link.status().ackTimeouts).toBe(1);
    expect(store.outbox.stats(sched.now).rows).toBe(0);
    store.close();
  });

  it('a crashed process does nothing more; the broker publishes its will', async () => {
    const { sched, store, link, arrived, transport, clock } = setup(0);
    link.start();
    await sched.runUntil(1000);
    expect(link.status().connected).toBe(true);
    const before = sched.executed;
    clock.kill();
    transport.kill();
    await sched.runUntil(60_000);
    const will = arrived.filter((a) => a.msg.topic.endsWith('/status'));
    expect(will.map((w) => JSON.parse(w.msg.payload.toString()).body.state)).toEqual(['online', 'offline']);
    expect(will[1]!.at).toBeGreaterThanOrEqual(1000 + 5000);
    // Only the dead timers' events ran, doing nothing: no new ones were set.
    expect(sched.pending).toBe(0);
    expect(sched.executed - before).toBeLessThan(10);
    store.close();
  });
});

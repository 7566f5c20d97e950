import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import {
  SimBroker,
  type Subscriber,
  topicMatches,
  type WireMessage,
} from '../../src/neighbourhood/broker.js';
import { NO_FAULTS, zeroFaultCounts } from '../../src/neighbourhood/faults.js';
import { Network } from '../../src/neighbourhood/network.js';
import { HomePlant } from '../../src/neighbourhood/plant.js';
import { PowerCut, PowerCutStore } from '../../src/neighbourhood/power-cut-store.js';
import { Random } from '../../src/neighbourhood/random.js';
import { Scheduler } from '../../src/neighbourhood/scheduler.js';
import { openStore } from '../../src/store/index.js';

describe('scheduler', () => {
  it('runs events in time order, same-time events in the order they were scheduled', async () => {
    const s = new Scheduler(1000);
    const seen: string[] = [];
    s.at(1500, () => seen.push('b'));
    s.at(1200, () => seen.push('a'));
    s.at(1500, () => {
      seen.push('c');
      s.after(0, () => seen.push('e'));
    });
    s.at(1500, () => seen.push('d'));
    s.at(900, () => seen.push(`past@${s.now}`));
    s.at(3000, () => seen.push('late'));
    await s.runUntil(2000);
    expect(seen).toEqual(['past@1000', 'a', 'b', 'c', 'd', 'e']);
    expect(s.now).toBe(2000);
    expect(s.pending).toBe(1);
  });

  it('lets queued microtasks run after an event that asks for it', async () => {
    const s = new Scheduler(0);
    const seen: string[] = [];
    s.at(10, () => {
      queueMicrotask(() => seen.push('microtask'));
      s.yieldAfterEvent();
    });
    s.at(10, () => seen.push('next event'));
    await s.runUntil(10);
    expect(seen).toEqual(['microtask', 'next event']);
  });
});

describe('random streams', () => {
  it('the same seed and stream repeat; other streams differ', () => {
    const draw = (seed: number, stream: number) => {
      const r = new Random(seed, stream);
      return Array.from({ length: 5 }, () => r.int(0, 1e9));
    };
    expect(draw(1, 2)).toEqual(draw(1, 2));
    expect(draw(1, 2)).not.toEqual(draw(1, 3));
    expect(draw(1, 2)).not.toEqual(draw(2, 2));
  });
});

describe('topic filters', () => {
  it.each([
    ['a/+/offer', 'a/h1/offer', true],
    ['a/+/offer', 'a/h1/inbox', false],
    ['a/+/offer', 'a/h1/offer/x', false],
    ['a/#', 'a/h1/offer', true],
    ['a/h1/inbox', 'a/h1/inbox', true],
    ['a/h1/inbox', 'a/h2/inbox', false],
  ])('%s matches %s: %s', (filter, topic, match) => {
    expect(topicMatches(filter, topic)).toBe(match);
  });
});

describe('simulated broker', () => {
  const OFFERS = 'z/+/offer';
  function setup(opts: { legacy?: boolean; sessionLimit?: number } = {}) {
    const sched = new Scheduler(0);
    const counts = zeroFaultCounts();
    const net = new Network(new Random(1, 1), NO_FAULTS, counts);
    const delivered: string[] = [];
    const broker = new SimBroker(
      sched,
      net,
      { legacy: opts.legacy ?? false, sessionLimit: opts.sessionLimit ?? 100 },
      counts,
      { deliveredTo: (to, m) => delivered.push(`${to}<${m.payload.toString()}`) },
    );
    const client = (id: string, filters: string[], receive: (m: WireMessage) => boolean = () => true) =>
      ({ id, filters, receive }) as Subscriber;
    const msg = (
      from: string,
      topic: string,
      payload: string,
      extra: Partial<WireMessage> = {},
    ): WireMessage => ({
      topic,
      payload: Buffer.from(payload),
      retain: false,
      expiresAt: undefined,
      from,
      type: null,
      ...extra,
    });
    return { sched, counts, broker, delivered, client, msg };
  }

  it('keeps the last retained message per topic, clears it with an empty payload, delivers it on subscribe', async () => {
    const { sched, broker, delivered, client, msg } = setup();
    broker.publish(msg('h1', 'z/h1/offer', 'v1', { retain: true }));
    broker.publish(msg('h1', 'z/h1/offer', 'v2', { retain: true }));
    broker.publish(msg('h2', 'z/h2/offer', 'w1', { retain: true }));
    broker.publish(msg('h2', 'z/h2/offer', '', { retain: true }));
    expect(broker.retainedTopics()).toEqual(['z/h1/offer']);
    broker.connect(client('h3', [OFFERS]));
    await sched.runUntil(1000);
    expect(delivered).toEqual(['h3<v2']);
  });

  it('queues messages for an offline client up to the session limit and delivers them when it is back', async () => {
    const { sched, counts, broker, delivered, client, msg } = setup({ sessionLimit: 2 });
    const h2 = client('h2', ['z/h2/inbox']);
    broker.connect(h2);
    broker.disconnect('h2');
    for (const p of ['a', 'b', 'c']) broker.publish(msg('h1', 'z/h2/inbox', p));
    await sched.runUntil(1000);
    expect(delivered).toEqual([]);
    expect(counts.sessionOverflow).toBe(1);
    broker.connect(h2);
    await sched.runUntil(2000);
    expect(delivered).toEqual(['h2<a', 'h2<b']);
  });

  it('redelivers a message its client died on, after the client reconnects', async () => {
    const { sched, broker, delivered, client, msg } = setup();
    let dying = true;
    broker.connect(client('h2', ['z/h2/inbox'], () => !dying));
    broker.publish(msg('h1', 'z/h2/inbox', 'accept'));
    await sched.runUntil(1000);
    broker.disconnect('h2');
    dying = false;
    broker.connect(client('h2', ['z/h2/inbox']));
    await sched.runUntil(2000);
    expect(delivered).toEqual(['h2<accept', 'h2<accept']);
  });

  it('as MQTT 5: drops expired messages and does not echo own publications; as 3.1.1 it does both', async () => {
    for (const legacy of [false, true]) {
      const { sched, broker, delivered, client, msg } = setup({ legacy });
      broker.connect(client('h1', [OFFERS]));
      broker.connect(client('h2', [OFFERS]));
      broker.publish(msg('h1', 'z/h1/offer', 'fresh', { retain: true, expiresAt: 500 }));
      await sched.runUntil(600);
      broker.connect(client('h3', [OFFERS]));
      await sched.runUntil(1000);
      expect(delivered.sort()).toEqual(legacy ? ['h1<fresh', 'h2<fresh', 'h3<fresh'] : ['h2<fresh']);
    }
  });
});

describe('home plant', () => {
  const spec = { seed: 5, pvKwp: 0, flexLoads: [{ id: 'heater', powerW: 2000 }], clearSky: true };
  const noon = Date.UTC(2025, 5, 21, 12);

  it('integrates imports from the load and the switched loads, exports from PV', () => {
    const plant = new HomePlant(spec, noon);
    const before = plant.counters().importWh;
    plant.advance(noon + 3_600_000);
    const baseWh = plant.counters().importWh - before;
    expect(baseWh).toBeGreaterThan(50);
    plant.setRelay('heater', true);
    plant.advance(noon + 2 * 3_600_000);
    expect(plant.counters().importWh - before - baseWh).toBeGreaterThan(2000);

    const sunny = new HomePlant({ ...spec, pvKwp: 8, flexLoads: [] }, noon);
    const exp0 = sunny.counters().exportWh;
    sunny.advance(noon + 3_600_000);
    expect(sunny.counters().exportWh - exp0).toBeGreaterThan(3000);
    expect(sunny.snapshot(noon + 3_600_000, 0).quantities.gridPowerW?.value).toBeLessThan(-3000);
  });

  it('a meter fault turns the grid readings stale or faulted, then they come back good', () => {
    const plant = new HomePlant(spec, noon);
    const first = plant.snapshot(noon, 0);
    expect(first.quantities.gridPowerW?.quality).toBe('good');
    plant.failMeter('stale', noon + 60_000);
    const stale = plant.snapshot(noon + 10_000, 1).quantities.gridImportWh!;
    expect(stale).toMatchObject({ quality: 'stale', ts: noon, value: first.quantities.gridImportWh?.value });
    plant.failMeter('fault', noon + 60_000);
    expect(plant.snapshot(noon + 20_000, 2).quantities.gridPowerW).toMatchObject({
      quality: 'fault',
      value: null,
    });
    const back = plant.snapshot(noon + 60_000, 3).quantities.gridImportWh!;
    expect(back.quality).toBe('good');
    expect(back.value).toBeGreaterThan(first.quantities.gridImportWh!.value!);
  });
});

describe('power-cut store', () => {
  let store: PowerCutStore | null = null;
  afterEach(() => store?.close());

  it('an armed cut rolls back the whole outermost transaction, and writes fail until restore', () => {
    store = new PowerCutStore(openStore({ path: ':memory:', log: silentLogger(), now: () => 1 }));
    const s = store;
    const put = (k: string) => s.meta.set(k, 'x');
    s.transaction(() => put('kept'));
    let died = 0;
    s.arm(() => died++);
    expect(() =>
      s.transaction(() => {
        s.transaction(() => put('inner'));
        put('outer');
      }),
    ).toThrow(PowerCut);
    expect(died).toBe(1);
    expect(s.meta.get('kept')).toBe('x');
    expect(s.meta.get('inner')).toBeUndefined();
    expect(s.meta.get('outer')).toBeUndefined();
    expect(() => s.transaction(() => put('later'))).toThrow(PowerCut);
    expect(() =>
      s.deadLetters.add({ direction: 'in', reason: 'x', topic: 't', payload: Buffer.alloc(0) }, 1),
    ).toThrow(PowerCut);
    s.restore();
    s.transaction(() => put('later'));
    expect(s.meta.get('later')).toBe('x');
  });
});

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLink, type Link } from '../../src/link/link.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import {
  countingReport,
  HOME,
  mqttConfig,
  printReport,
  produce,
  type Receiver,
  retainedStatus,
  startReceiver,
  type TempStore,
  tempStore,
  testLogger,
} from './helpers.js';

describe('shutdown', () => {
  let broker: Mosquitto | null = null;
  let receiver: Receiver | null = null;
  let ts: TempStore | null = null;
  const links: Link[] = [];

  function newLink(t: TempStore, url: string, over: Record<string, unknown> = {}): Link {
    const link = createLink({
      mqtt: mqttConfig([url], over),
      home: HOME,
      outbox: t.store.outbox,
      store: t.store,
      log: testLogger(),
      version: 't',
      drainStartJitterMs: 0,
    });
    links.push(link);
    link.start();
    return link;
  }

  afterEach(async () => {
    broker?.thaw();
    for (const l of links.splice(0)) await l.stop(500);
    await receiver?.close();
    receiver = null;
    ts?.dispose();
    ts = null;
    await stopAllMosquittos();
    broker = null;
  });
  afterAll(stopAllMosquittos);

  it('stops mid-drain without losing a row, and a new link sends the rest', async () => {
    broker = await startMosquitto();
    receiver = await startReceiver(broker.url, 'shutdown');
    ts = tempStore();
    const produced = produce(ts.store, 'trade', 3000, 100);
    const first = newLink(ts, broker.url, { drainRatePerS: 1000 });
    await waitFor(() => receiver!.order.length >= 300, 15_000, 'drain under way');
    await first.stop(3000);
    expect(first.status().state).toBe('stopped');
    expect((await retainedStatus(broker.url))?.state).toBe('offline');

    // Everything is either received or still in the outbox, and the two sets are exactly complementary.
    const left = new Set(ts.store.outbox.list({ limit: 10_000 }).map((r) => r.id));
    const got = receiver.seen;
    console.log(`shutdown: received ${got.size} before stop, ${left.size} left in the outbox`);
    expect(left.size).toBeGreaterThan(0);
    expect(produced.every((p) => got.has(p.id) !== left.has(p.id))).toBe(true);

    newLink(ts, broker.url, { drainRatePerS: 5000 });
    await waitFor(() => countingReport(produced, [receiver!]).missing === 0, 20_000, 'the rest delivered');
    const report = countingReport(produced, [receiver]);
    printReport('stop mid-drain', report);
    expect(report.missing).toBe(0);
    expect(report.misordered).toBe(0);
  }, 60_000);

  it('meets its deadline with PUBACKs outstanding (frozen broker) and keeps those rows', async () => {
    broker = await startMosquitto();
    receiver = await startReceiver(broker.url, 'shutdown-frozen');
    ts = tempStore();
    const link = newLink(ts, broker.url, { maxInFlight: 10, keepaliveS: 120 });
    await waitFor(
      async () => (await retainedStatus(broker!.url, HOME, 500))?.state === 'online',
      10_000,
      'online',
    );
    broker.freeze();
    const produced = produce(ts.store, 'trade', 100, 100);
    link.notify();
    await waitFor(() => link.status().inFlight === 10, 5000, 'in flight');
    const t0 = Date.now();
    await link.stop(1000);
    const took = Date.now() - t0;
    console.log(`shutdown with a frozen broker took ${took} ms (deadline 1000 ms)`);
    expect(link.status().state).toBe('stopped');
    expect(ts.store.outbox.stats(Date.now()).rows).toBe(100);

    broker.thaw();
    newLink(ts, broker.url);
    await waitFor(() => countingReport(produced, [receiver!]).missing === 0, 20_000, 'all delivered later');
    const report = countingReport(produced, [receiver]);
    printReport('stop with a frozen broker', report);
    expect(report.missing).toBe(0);
    expect(report.misordered).toBe(0);
  }, 60_000);
});

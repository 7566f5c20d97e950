import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { awaitDelivered, awaitOnline, linkParts, mqttConfig, produce, retainedStatus } from './helpers.js';

describe('shutdown', () => {
  const parts = linkParts(500);
  afterEach(parts.dispose);

  it('stops mid-drain without losing a row, and a new link sends the rest', async () => {
    const broker = await parts.broker();
    const receiver = await parts.receiver(broker.url, 'shutdown');
    const ts = parts.store();
    const produced = produce(ts.store, 'trade', 3000, 100);
    const first = parts.link(ts, mqttConfig([broker.url], { drainRatePerS: 1000 }));
    await waitFor(() => receiver.order.length >= 300, 15_000, 'drain under way');
    await first.stop(3000);
    expect(first.status().state).toBe('stopped');
    expect((await retainedStatus(broker.url))?.state).toBe('offline');

    // Everything is either received or still in the outbox, and the two sets are exactly complementary.
    const left = new Set(ts.store.outbox.list({ limit: 10_000 }).map((r) => r.id));
    const got = receiver.seen;
    console.log(`shutdown: received ${got.size} before stop, ${left.size} left in the outbox`);
    expect(left.size).toBeGreaterThan(0);
    expect(produced.every((p) => got.has(p.id) !== left.has(p.id))).toBe(true);

    parts.link(ts, mqttConfig([broker.url], { drainRatePerS: 5000 }));
    const report = await awaitDelivered('stop mid-drain', produced, [receiver]);
    expect(report.missing).toBe(0);
    expect(report.misordered).toBe(0);
  }, 60_000);

  it('meets its deadline with PUBACKs outstanding (frozen broker) and keeps those rows', async () => {
    const broker = await parts.broker();
    const receiver = await parts.receiver(broker.url, 'shutdown-frozen');
    const ts = parts.store();
    const link = parts.link(ts, mqttConfig([broker.url], { maxInFlight: 10, keepaliveS: 120 }));
    await awaitOnline(broker.url);
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
    parts.link(ts, mqttConfig([broker.url]));
    const report = await awaitDelivered('stop with a frozen broker', produced, [receiver]);
    expect(report.missing).toBe(0);
    expect(report.misordered).toBe(0);
  }, 60_000);
});

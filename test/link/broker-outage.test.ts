import { afterAll, describe, expect, it } from 'vitest';
import { createLink, type Link } from '../../src/link/link.js';
import type { OutboxClass } from '../../src/store/outbox-types.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import {
  countingReport,
  HOME,
  mqttConfig,
  type Produced,
  printReport,
  produce,
  type Receiver,
  startReceiver,
  type TempStore,
  tempStore,
  testLogger,
} from './helpers.js';

const OUTAGE_MS = 30_000;
const DURING = 1000;

describe('broker outage', () => {
  let broker: Mosquitto;
  let receiver: Receiver;
  let ts: TempStore;
  let link: Link;

  afterAll(async () => {
    await link?.stop(1000);
    await receiver?.close();
    ts?.dispose();
    await stopAllMosquittos();
  });

  it(`delivers everything produced while the broker was stopped for ${OUTAGE_MS / 1000} s`, async () => {
    // Persistence keeps the receiver's session (and what is queued for it) across the broker restart.
    broker = await startMosquitto({ persistence: true, conf: ['max_queued_messages 100000'] });
    receiver = await startReceiver(broker.url, 'outage');
    ts = tempStore();
    const mqtt = mqttConfig([broker.url], { reconnectBaseMs: 200, reconnectMaxMs: 2000, drainRatePerS: 500 });
    link = createLink({
      mqtt,
      home: HOME,
      outbox: ts.store.outbox,
      store: ts.store,
      log: testLogger(),
      version: 't',
    });
    link.start();
    const produced: Produced[] = produce(ts.store, 'trade', 50);
    link.notify();
    await waitFor(() => countingReport(produced, [receiver]).missing === 0, 15_000, 'before the outage');

    await broker.stop();
    await waitFor(() => !link.status().connected, 5000, 'link notices the outage');
    const classes: OutboxClass[] = ['trade', 'settlement', 'telemetry'];
    const ticks = 100;
    for (let i = 0; i < ticks; i++) {
      produced.push(...produce(ts.store, classes[i % classes.length]!, DURING / ticks));
      link.notify();
      await new Promise((r) => setTimeout(r, OUTAGE_MS / ticks));
    }
    expect(ts.store.outbox.stats(Date.now()).rows).toBe(DURING);
    const attemptsWhileDown = link.status().lastError;
    expect(attemptsWhileDown).toMatch(/connect/);

    await broker.start();
    await waitFor(() => link.status().connected, 10_000, 'reconnect within the backoff cap');
    const reconnectedAt = Date.now();
    expect(link.status().throttled).toBe(true);
    await waitFor(() => countingReport(produced, [receiver]).missing === 0, 30_000, 'backlog delivered');
    const drainMs = Date.now() - reconnectedAt;
    console.log(`outage: backlog of ${DURING} delivered ${drainMs} ms after the reconnect (throttle 500/s)`);
    // The backlog drain was throttled to drainRatePerS: it cannot have been faster than rate allows.
    expect(drainMs).toBeGreaterThanOrEqual(((DURING - 50) / 500) * 1000);
    expect(link.status().throttled).toBe(false);
    const report = countingReport(produced, [receiver]);
    printReport('broker stopped 30 s', report);
    expect(report.missing).toBe(0);
    expect(report.misordered).toBe(0);
    await waitFor(() => ts.store.outbox.stats(Date.now()).rows === 0, 5000, 'outbox empty');
    expect(link.status().reconnects).toBe(1);
  }, 90_000);
});

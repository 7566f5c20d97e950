import { afterAll, describe, expect, it } from 'vitest';
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { awaitDelivered, linkParts, mqttConfig, type Produced, produce, retainedStatus } from './helpers.js';

const RETURN_MS = 3000;
const BACKOFF_MAX_MS = 1000;

describe('failover between brokers', () => {
  let primary: Mosquitto;
  let secondary: Mosquitto;
  const parts = linkParts();
  let producer: NodeJS.Timeout | undefined;

  afterAll(async () => {
    clearInterval(producer);
    await parts.dispose();
  });

  it('moves to the second broker when the primary dies, and returns to the primary as documented', async () => {
    // The primary keeps its receiver's session across its death (persistence, written on SIGTERM).
    primary = await startMosquitto({ persistence: true, conf: ['max_queued_messages 100000'] });
    secondary = await startMosquitto();
    const receivers = [
      await parts.receiver(primary.url, 'fo-primary'),
      await parts.receiver(secondary.url, 'fo-second'),
    ];
    const ts = parts.store();
    const link = parts.link(
      ts,
      mqttConfig([primary.url, secondary.url], {
        reconnectBaseMs: 200,
        reconnectMaxMs: BACKOFF_MAX_MS,
        returnToPrimaryMs: RETURN_MS,
        keepaliveS: 5,
      }),
    );
    await waitFor(() => link.status().connected, 10_000, 'connected');
    expect(link.status().broker).toBe(primary.url);
    expect(link.status().nextPrimaryProbeAt).toBeNull();

    const produced: Produced[] = [];
    producer = setInterval(() => {
      produced.push(...produce(ts.store, 'trade', 4, 4));
      link.notify();
    }, 50);
    await waitFor(() => produced.length >= 100, 10_000, 'traffic');

    const diedAt = Date.now();
    await primary.stop();
    await waitFor(
      () => link.status().connected && link.status().broker === secondary.url,
      10_000,
      'failover',
    );
    const failoverMs = Date.now() - diedAt;
    const onSecondAt = Date.now();
    expect(link.status().onPrimary).toBe(false);
    const firstProbe = link.status().nextPrimaryProbeAt!;
    expect(firstProbe).toBeGreaterThanOrEqual(onSecondAt - 1000 + RETURN_MS - 100);

    // The primary is still down at the first probe: the link stays and probes again later.
    await waitFor(
      () => (link.status().nextPrimaryProbeAt ?? 0) > firstProbe,
      RETURN_MS * 3,
      'second probe scheduled',
    );
    expect(link.status().broker).toBe(secondary.url);
    expect(link.status().reconnects).toBe(1);

    await primary.start();
    await waitFor(
      () => link.status().connected && link.status().broker === primary.url,
      RETURN_MS * 3,
      'return',
    );
    const returnedAfterMs = Date.now() - onSecondAt;
    expect(link.status().onPrimary).toBe(true);
    expect(link.status().nextPrimaryProbeAt).toBeNull();
    // The link left the secondary cleanly: its retained status there says offline.
    expect((await retainedStatus(secondary.url))?.state).toBe('offline');

    clearInterval(producer);
    const report = await awaitDelivered('failover', produced, receivers);
    console.log(
      `failover after ${failoverMs} ms (backoff cap ${BACKOFF_MAX_MS} ms); back on primary after ${returnedAfterMs} ms`,
    );
    expect(report.missing).toBe(0);
    expect(report.misordered).toBe(0);
    expect(receivers[1]!.order.length).toBeGreaterThan(0);
  }, 60_000);
});

import { afterAll, describe, expect, it } from 'vitest';
import type { OutboxClass } from '../../src/store/outbox-types.js';
import { scale, timeoutFor } from '../helpers/long.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { awaitDelivered, linkParts, mqttConfig, type Produced, produce } from './helpers.js';

const OUTAGE_MS = scale(30_000, 300_000);
const DURING = 1000;

describe('broker outage', () => {
  const parts = linkParts();
  afterAll(parts.dispose);

  it(
    `delivers everything produced while the broker was stopped for ${OUTAGE_MS / 1000} s`,
    async () => {
      // Persistence keeps the receiver's session (and what is queued for it) across the broker restart.
      const broker = await startMosquitto({ persistence: true, conf: ['max_queued_messages 100000'] });
      const receiver = await parts.receiver(broker.url, 'outage');
      const ts = parts.store();
      const mqtt = mqttConfig([broker.url], {
        reconnectBaseMs: 200,
        reconnectMaxMs: 2000,
        drainRatePerS: 500,
      });
      // The link's default drain-start jitter, as in service: the backlog waits for it after the reconnect.
      const link = parts.link(ts, mqtt, { drainStartJitterMs: undefined });
      const produced: Produced[] = produce(ts.store, 'trade', 50);
      link.notify();
      await awaitDelivered('before the outage', produced, [receiver], 15_000);

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
      const report = await awaitDelivered(
        `broker stopped ${OUTAGE_MS / 1000} s`,
        produced,
        [receiver],
        30_000,
      );
      const drainMs = Date.now() - reconnectedAt;
      console.log(
        `outage: backlog of ${DURING} delivered ${drainMs} ms after the reconnect (throttle 500/s)`,
      );
      // The backlog drain was throttled to drainRatePerS: it cannot have been faster than rate allows.
      expect(drainMs).toBeGreaterThanOrEqual(((DURING - 50) / 500) * 1000);
      // The throttle turns off at the next pump that finds fewer rows than it may send.
      await waitFor(() => !link.status().throttled, 5000, 'throttle off once the backlog is drained');
      expect(report.missing).toBe(0);
      expect(report.misordered).toBe(0);
      await waitFor(() => ts.store.outbox.stats(Date.now()).rows === 0, 5000, 'outbox empty');
      expect(link.status().reconnects).toBe(1);
    },
    timeoutFor(90_000, 600_000),
  );
});

import { afterAll, describe, expect, it } from 'vitest';
import type { OutboxClass } from '../../src/store/outbox-types.js';
import { scale, timeoutFor } from '../helpers/long.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import {
  driveDelivered,
  driveFor,
  driveUntil,
  linkParts,
  mqttConfig,
  type Produced,
  produce,
} from './helpers.js';

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
      // The outage, the backoff and the throttle run on the test's clock; the broker and sockets are real.
      const clock = new ManualClock(Date.now());
      const link = parts.link(ts, mqtt, { drainStartJitterMs: undefined, clock });
      const produced: Produced[] = produce(ts.store, 'trade', 50);
      link.notify();
      await driveDelivered(clock, 'before the outage', produced, [receiver], 15_000);

      await broker.stop();
      await driveUntil(clock, () => !link.status().connected, 'link notices the outage', { timeoutMs: 5000 });
      const classes: OutboxClass[] = ['trade', 'settlement', 'telemetry'];
      const ticks = 100;
      for (let i = 0; i < ticks; i++) {
        produced.push(...produce(ts.store, classes[i % classes.length]!, DURING / ticks));
        link.notify();
        await driveFor(clock, OUTAGE_MS / ticks, 50);
      }
      expect(ts.store.outbox.stats(clock.now()).rows).toBe(DURING);
      const attemptsWhileDown = link.status().lastError;
      expect(attemptsWhileDown).toMatch(/connect/);

      await broker.start();
      await driveUntil(clock, () => link.status().connected, 'reconnect within the backoff cap', {
        timeoutMs: 10_000,
      });
      const reconnectedAt = clock.now();
      expect(link.status().throttled).toBe(true);
      const report = await driveDelivered(
        clock,
        `broker stopped ${OUTAGE_MS / 1000} s`,
        produced,
        [receiver],
        30_000,
      );
      const drainMs = clock.now() - reconnectedAt;
      console.log(
        `outage: backlog of ${DURING} delivered ${drainMs} ms (link clock) after the reconnect (throttle 500/s)`,
      );
      // The backlog drain was throttled to drainRatePerS: it cannot have been faster than rate allows.
      expect(drainMs).toBeGreaterThanOrEqual(((DURING - 50) / 500) * 1000);
      // The throttle turns off at the next pump that finds fewer rows than it may send.
      await driveUntil(clock, () => !link.status().throttled, 'throttle off once the backlog is drained', {
        timeoutMs: 5000,
      });
      expect(report.missing).toBe(0);
      expect(report.misordered).toBe(0);
      await driveUntil(clock, () => ts.store.outbox.stats(clock.now()).rows === 0, 'outbox empty', {
        timeoutMs: 5000,
      });
      expect(link.status().reconnects).toBe(1);
    },
    timeoutFor(90_000, 600_000),
  );
});

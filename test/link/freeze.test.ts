import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Link, LinkStatus } from '../../src/link/link.js';
import { ManualClock } from '../helpers/manual-clock.js';
import {
  awaitOnline,
  driveDelivered,
  driveFor,
  driveUntil,
  linkParts,
  mqttConfig,
  produce,
  type TempStore,
} from './helpers.js';

/**
 * Bytes waiting unread in the kernel on the broker's side of its connections: with the broker frozen,
 * that is exactly what clients sent it since, whatever the link believes it sent.
 */
function brokerUnreadBytes(port: number): number {
  let total = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5 || f[3] !== '01') continue; // ESTABLISHED
      const localPort = Number.parseInt(f[1]!.split(':')[1]!, 16);
      if (localPort !== port) continue;
      total += Number.parseInt(f[4]!.split(':')[1]!, 16);
    }
  }
  return total;
}

/**
 * Bytes one queued row takes on the wire as an MQTT 5 QoS 1 PUBLISH: type byte, 2-byte remaining length
 * (for 128..16383), topic length + topic, packet id, empty properties, payload.
 */
function publishBytes(ts: TempStore): number {
  const row = ts.store.outbox.list({ limit: 1 })[0]!;
  return 1 + 2 + 2 + Buffer.byteLength(row.topic) + 2 + 1 + row.payload.length;
}

/** Samples the link's status every 20 ms until stopped, keeping the highest in-flight seen. */
function watchInFlight(link: Link): { stop(): number } {
  let max = 0;
  const t = setInterval(() => {
    max = Math.max(max, link.status().inFlight);
  }, 20);
  return {
    stop() {
      clearInterval(t);
      return max;
    },
  };
}

describe('frozen broker and Receive Maximum', () => {
  const parts = linkParts(500);
  afterEach(parts.dispose);

  it('opens the breaker on PUBACK timeouts, keeps in-flight within the cap, and closes it after SIGCONT', async () => {
    const broker = await parts.broker();
    const receiver = await parts.receiver(broker.url, 'freeze');
    const ts = parts.store();
    const cap = 8;
    // PUBACK timeouts, the breaker and its probes run on the test's clock.
    const clock = new ManualClock(Date.now());
    const link = parts.link(
      ts,
      mqttConfig([broker.url], { ackTimeoutMs: 800, maxInFlight: cap, keepaliveS: 120 }),
      { clock },
    );
    await awaitOnline(broker.url);

    broker.freeze();
    const watch = watchInFlight(link);
    const produced = produce(ts.store, 'trade', 500, 50, { payloadBytes: 1000 });
    link.notify();
    await driveUntil(clock, () => link.status().breaker === 'open', 'breaker open', { timeoutMs: 10_000 });
    // Probes while open (half-open after a growing delay) must still stay within the cap: 3 s of the
    // link's time, several half-open delays of 0.4–0.8 s.
    await driveFor(clock, 3000);
    const frozen: LinkStatus = link.status();
    const unread = brokerUnreadBytes(broker.port);
    const perMessage = publishBytes(ts);
    const rowsHeld = ts.store.outbox.stats(clock.now()).rows;

    broker.thaw();
    const report = await driveDelivered(clock, 'broker frozen', produced, [receiver], 30_000);
    await driveUntil(clock, () => link.status().breaker === 'closed', 'breaker closed', {
      timeoutMs: 10_000,
    });
    const maxInFlight = watch.stop();
    console.log(
      `frozen: ackTimeouts=${frozen.ackTimeouts} inFlight=${frozen.inFlight} unreadBytes=${unread} rowsHeld=${rowsHeld} maxInFlight=${maxInFlight}`,
    );

    expect(frozen.ackTimeouts).toBeGreaterThanOrEqual(5);
    expect(frozen.inFlight).toBeLessThanOrEqual(cap);
    expect(maxInFlight).toBeLessThanOrEqual(cap);
    expect(link.status().peakInFlight).toBeLessThanOrEqual(cap);
    // What really reached the broker's socket: `cap` PUBLISH packets (plus at most a 2-byte ping).
    expect(Math.floor(unread / perMessage)).toBe(cap);
    expect(rowsHeld).toBeGreaterThanOrEqual(500 - cap);
    expect(report.missing).toBe(0);
    expect(report.misordered).toBe(0);
  }, 60_000);

  it("respects a broker Receive Maximum below mqtt.maxInFlight (mosquitto's max_inflight_messages)", async () => {
    const broker = await parts.broker({ conf: ['max_inflight_messages 5'] });
    const receiver = await parts.receiver(broker.url, 'rmax');
    const ts = parts.store();
    const clock = new ManualClock(Date.now());
    const link = parts.link(ts, mqttConfig([broker.url], { maxInFlight: 32, keepaliveS: 120 }), { clock });
    await awaitOnline(broker.url);
    expect(link.status().inFlightCap).toBe(5);

    broker.freeze();
    const produced = produce(ts.store, 'trade', 200, 50, { payloadBytes: 1000 });
    link.notify();
    await driveUntil(clock, () => link.status().inFlight === 5, 'window full', { timeoutMs: 5000 });
    // Nothing more goes out however long the link waits: 12 s of its time, past the ack timeout (10 s),
    // so the PUBACK timeouts, the breaker and its probe have all had their turn.
    await driveFor(clock, 12_000, 50);
    const unread = brokerUnreadBytes(broker.port);
    const perMessage = publishBytes(ts);
    broker.thaw();

    const report = await driveDelivered(clock, 'receive maximum 5', produced, [receiver]);
    console.log(`receive maximum: unreadBytes=${unread} peakInFlight=${link.status().peakInFlight}`);
    // Five PUBLISH packets reached the frozen broker, not six.
    expect(Math.floor(unread / perMessage)).toBe(5);
    expect(link.status().peakInFlight).toBeLessThanOrEqual(5);
    expect(report.missing).toBe(0);
    expect(report.misordered).toBe(0);
  }, 60_000);
});

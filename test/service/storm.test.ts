import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { openStore } from '../../src/store/index.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { type RunProcess, spawnRun, startNotifyListener, tempDir, writeConfig } from '../systemd/helpers.js';

const N = 4000;
const TOPIC = 'powerdeal/v1/zone-1/home-1/trades';

/**
 * SIGTERM while the link drains a backlog of never-shed rows to a real mosquitto: every row is either
 * received by a subscriber (PUBACKed, then deleted) or still in the outbox after the exit. None lost.
 */
describe('SIGTERM during a publish storm', () => {
  const tmp = tempDir('pd-storm-');
  const dbPath = join(tmp.dir, 'powerdeal.db');
  let broker: Mosquitto;
  let sub: mqtt.MqttClient;
  let run: RunProcess;
  const received = new Set<string>();

  beforeAll(async () => {
    const store = openStore({ path: dbPath, log: silentLogger() });
    store.transaction(() => {
      for (let i = 0; i < N; i++) {
        const id = `trade-${i}`;
        store.outbox.enqueue(
          { id, class: 'trade', topic: TOPIC, payload: Buffer.from(JSON.stringify({ id })), retain: false },
          Date.now(),
        );
      }
    });
    store.close();
    broker = await startMosquitto();
    sub = await mqtt.connectAsync(broker.url, { clientId: 'storm-sub', clean: true });
    sub.on('message', (_t, payload) => received.add((JSON.parse(payload.toString()) as { id: string }).id));
    await sub.subscribeAsync(TOPIC, { qos: 1 });
  });

  afterAll(async () => {
    run?.kill('SIGKILL');
    await run?.exited;
    await sub?.endAsync(true);
    await stopAllMosquittos();
    tmp.cleanup();
  });

  it('loses nothing', async () => {
    const listener = await startNotifyListener(join(tmp.dir, 'notify.sock'));
    try {
      const config = await writeConfig(tmp.dir, {
        dbPath,
        broker: broker.url,
        mqtt: { drainRatePerS: 400, maxInFlight: 32 },
      });
      run = spawnRun(config, { NOTIFY_SOCKET: listener.path });
      await listener.wait('READY=1', 45_000);
      await waitFor(() => received.size >= 300, 45_000, 'the storm to start');
      const t0 = performance.now();
      run.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      // Within TimeoutStopSec (30 s), with room to spare.
      expect(performance.now() - t0).toBeLessThan(25_000);
      await listener.wait('STOPPING=1', 5000);
    } finally {
      await listener.stop();
    }
    const store = openStore({ path: dbPath, log: silentLogger() });
    const left = new Set(store.outbox.list({ class: 'trade', limit: N + 1 }).map((r) => r.id));
    store.close();
    const lost = () =>
      Array.from({ length: N }, (_, i) => `trade-${i}`).filter((id) => !received.has(id) && !left.has(id));
    // Late deliveries of acked rows may still be on their way to the subscriber.
    const deadline = Date.now() + 5000;
    while (lost().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(lost()).toEqual([]);
    // The stop really came in the middle of the storm.
    expect(left.size).toBeGreaterThan(0);
    expect(received.size).toBeGreaterThan(0);
    expect(run.output()).toMatch(/link: stopped/);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { loadProfiles } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';
import { decodeEnvelope } from '../../src/protocol/envelope.js';
import { Service } from '../../src/service/service.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';

/**
 * The service wired end to end: simulator → cycle → telemetry into the outbox → link → real mosquitto.
 * Telemetry carries interval statistics of the real readings with a persisted, increasing seq; the
 * retained status goes online at start and offline at a clean stop.
 */
describe('service telemetry through a real broker', () => {
  let dir: string;
  let sim: Simulator;
  let broker: Mosquitto;
  let service: Service;
  let sub: MqttClient;
  const telemetry: Array<{ seq: number; body: Record<string, unknown> }> = [];
  const statuses: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'powerdeal-telemetry-'));
    sim = await startSimulator({ tcp: { host: '127.0.0.1', port: 0 } });
    sim.pin({ pvPowerW: 2500, loadPowerW: 700 });
    broker = await startMosquitto();
    sub = connect(broker.url, { protocolVersion: 5 });
    sub.on('message', (topic, payload) => {
      if (topic.endsWith('/status')) {
        statuses.push(payload.toString());
        return;
      }
      const decoded = decodeEnvelope(payload);
      if (!decoded.ok) throw new Error(`bad telemetry: ${decoded.reason}`);
      telemetry.push({ seq: decoded.envelope.seq, body: decoded.envelope.body as Record<string, unknown> });
    });
    await new Promise<void>((resolve) => sub.once('connect', () => resolve()));
    await sub.subscribeAsync('powerdeal/v1/test/home-t/#', { qos: 1 });
    const config = configSchema.parse({
      home: { id: 'home-t', zone: 'test' },
      cycleMs: 200,
      devices: [
        {
          id: 'inverter',
          profile: 'sunspec-inverter',
          modbus: { tcp: `127.0.0.1:${sim.tcpPort}`, unitId: 1 },
        },
        { id: 'grid-meter', profile: 'sdm630', modbus: { tcp: `127.0.0.1:${sim.tcpPort}`, unitId: 2 } },
      ],
      mqtt: { brokers: [broker.url], telemetryIntervalMs: 1000 },
      store: { path: join(dir, 'powerdeal.db') },
      // Everything the service would find at its default paths is pinned here instead (hermetic).
      control: { socket: join(dir, 'control.sock') },
      keys: { privateKeyFile: join(dir, 'home.key'), keyringFile: join(dir, 'keyring.yaml') },
      web: { listen: '127.0.0.1:0', tokenFile: join(dir, 'web.token') },
    });
    service = new Service({
      config,
      profiles: loadProfiles(),
      log: silentLogger(),
      now: Date.now,
      simulated: true,
      version: 'test',
    });
    await service.start();
  });

  afterAll(async () => {
    await service?.stop(5000);
    await sub?.endAsync();
    await stopAllMosquittos();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes interval telemetry of the real readings with an increasing seq', async () => {
    await waitFor(() => telemetry.length >= 3, 20_000, 'three telemetry messages');
    const seqs = telemetry.map((t) => t.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    const last = telemetry.at(-1)?.body as {
      q: Record<string, { mean: number; quality: string; n: number }>;
    };
    expect(last.q.pvPowerW).toMatchObject({ mean: 2500, quality: 'good' });
    expect(last.q.gridPowerW).toMatchObject({ mean: -1800, quality: 'good' });
    expect(last.q.loadPowerW).toMatchObject({ mean: 700, quality: 'good' });
    expect(last.q.pvPowerW?.n).toBeGreaterThanOrEqual(3);
    expect(service.status().outbox?.depth.telemetry).toBeLessThanOrEqual(1);
  });

  it('keeps a retained online status and leaves offline after a clean stop', async () => {
    await waitFor(() => statuses.some((s) => s.includes('online')), 10_000, 'online status');
    await service.stop(5000);
    await waitFor(() => statuses.at(-1)?.includes('offline'), 10_000, 'offline status');
    // Retained: a new subscriber sees offline.
    const late = connect(broker.url);
    const seen = new Promise<string>((resolve) => late.on('message', (_t, p) => resolve(p.toString())));
    await new Promise<void>((resolve) => late.once('connect', () => resolve()));
    await late.subscribeAsync('powerdeal/v1/test/home-t/status');
    expect(await seen).toContain('offline');
    await late.endAsync();
  });
});

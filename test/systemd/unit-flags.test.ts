import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { openStore } from '../../src/store/index.js';
import { CLI } from '../helpers/cli.js';
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { freePort, waitFor } from '../helpers/ports.js';

/**
 * The V8 flags the unit sets (a small heap, a 1 MB semi-space) must not be so tight that the worst
 * moments of a home's life run out of memory: draining a 100,000-message backlog after a long outage
 * while a burst of page clients reads the page. The real service runs with exactly the unit's flags
 * (read from systemd/powerdeal.service), a real mosquitto and the Modbus simulator; an independent
 * subscriber counts every message by its id, and the process's peak RSS must stay below the unit's
 * MemoryMax (where systemd's OOM kill would end it).
 */
const UNIT = readFileSync('systemd/powerdeal.service', 'utf8');
const execStart = /^ExecStart=(.*)$/m.exec(UNIT)?.[1]?.split(/\s+/) ?? [];
const NODE_FLAGS = execStart.filter((t) => t.startsWith('--max-'));
const MEMORY_MAX_MB = Number.parseInt(/^MemoryMax=(\d+)M$/m.exec(UNIT)?.[1] ?? '0', 10);

const BACKLOG = 100_000;
const HOME = 'flags-home';
const ZONE = 'flags-zone';
const TOPIC = `powerdeal/v1/${ZONE}/${HOME}/telemetry`;
/** About the size of a real telemetry envelope. */
const FILLER = 'x'.repeat(300);

function statusKb(pid: number, key: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

function httpGet(port: number, path: string, timeoutMs = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** Opens the live-page stream and resolves with its status once the first bytes arrive. */
function openEvents(port: number): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/api/events' }, (res) => {
      const close = () => req.destroy();
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ status: res.statusCode ?? 0, close });
        return;
      }
      res.once('data', () => resolve({ status: 200, close }));
    });
    req.on('error', reject);
  });
}

describe('the service under the unit V8 flags', () => {
  let dir: string;
  let sim: Simulator;
  let broker: Mosquitto;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pd-unit-flags-'));
    sim = await startSimulator({ tcp: { host: '127.0.0.1', port: 0 } });
    broker = await startMosquitto({ conf: ['max_queued_messages 200000', 'max_inflight_messages 0'] });
  });

  afterAll(async () => {
    await broker?.dispose();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drains a 100,000-message backlog while page clients burst, within MemoryMax', async () => {
    expect(NODE_FLAGS.some((f) => f.startsWith('--max-old-space-size='))).toBe(true);
    expect(MEMORY_MAX_MB).toBeGreaterThan(0);

    // The backlog a long outage leaves: 100,000 telemetry rows already in the outbox.
    const dbPath = join(dir, 'powerdeal.db');
    const store = openStore({ path: dbPath, log: silentLogger() });
    const started = Date.now();
    for (let i = 0; i < BACKLOG; i += 1000) {
      store.transaction(() => {
        for (let j = i; j < i + 1000; j++) {
          const payload = Buffer.from(JSON.stringify({ id: `m-${j}`, filler: FILLER }));
          store.outbox.enqueue({ id: `m-${j}`, class: 'telemetry', topic: TOPIC, payload }, started);
        }
      });
    }
    store.close();

    const seen = new Set<string>();
    let corrupt = 0;
    const subscriber = await mqtt.connectAsync(broker.url, { clientId: 'flags-counter', clean: true });
    subscriber.on('message', (_topic, payload) => {
      try {
        const id = (JSON.parse(payload.toString()) as { id?: unknown }).id;
        if (typeof id === 'string' && id.startsWith('m-')) seen.add(id);
      } catch {
        corrupt++;
      }
    });
    await subscriber.subscribeAsync(TOPIC, { qos: 1 });

    const webPort = await freePort();
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      [
        `home: { id: ${HOME}, zone: ${ZONE} }`,
        'devices:',
        `  - { id: inverter, profile: sunspec-inverter, modbus: { tcp: "127.0.0.1:${sim.tcpPort}", unitId: 1 } }`,
        `  - { id: grid-meter, profile: sdm630, modbus: { tcp: "127.0.0.1:${sim.tcpPort}", unitId: 2 } }`,
        `mqtt: { brokers: ["${broker.url}"], drainRatePerS: 5000, drainStartJitterMs: 0, maxInFlight: 64 }`,
        `store: { path: "${dbPath}", backupDir: "${join(dir, 'backups')}" }`,
        `web: { listen: "127.0.0.1:${webPort}", tokenFile: "${join(dir, 'web.token')}" }`,
        `control: { socket: "${join(dir, 'control.sock')}" }`,
        `keys: { privateKeyFile: "${join(dir, 'home.key')}", keyringFile: "${join(dir, 'keyring.yaml')}" }`,
      ].join('\n'),
    );
    const service = spawn(
      process.execPath,
      [...NODE_FLAGS, ...CLI, 'run', '--config', config, '--simulated'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, POWERDEAL_LOG_LEVEL: 'warn' },
      },
    );
    let stderr = '';
    service.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const pid = service.pid as number;
    let peakRssKb = 0;
    const sampler = setInterval(() => {
      if (service.exitCode === null) peakRssKb = Math.max(peakRssKb, statusKb(pid, 'VmRSS'));
    }, 200);
    try {
      await waitFor(
        async () => {
          if (service.exitCode !== null) throw new Error(`service exited ${service.exitCode}:\n${stderr}`);
          return (await httpGet(webPort, '/api/status').catch(() => 0)) === 200;
        },
        60_000,
        'the page to answer',
        200,
      );

      // While the backlog drains: more live-page clients than it serves, and 400 requests at once.
      const events = await Promise.all(Array.from({ length: 12 }, () => openEvents(webPort)));
      const paths = ['/', '/api/status', '/api/readings?since=0', '/api/outbox?limit=500', '/api/devices'];
      const statuses = await Promise.all(
        Array.from({ length: 400 }, (_, i) => httpGet(webPort, paths[i % paths.length] as string)),
      );
      for (const e of events) e.close();
      // The configured number of live clients (8) is served; the rest are told to come back later.
      expect(events.filter((e) => e.status === 200)).toHaveLength(8);
      expect(events.filter((e) => e.status !== 200).every((e) => e.status === 503)).toBe(true);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);

      await waitFor(
        () => {
          if (service.exitCode !== null) throw new Error(`service exited ${service.exitCode}:\n${stderr}`);
          return seen.size >= BACKLOG;
        },
        300_000,
        `all ${BACKLOG} backlog messages at the subscriber (have ${seen.size})`,
        500,
      );
      expect(seen.size).toBe(BACKLOG);
      expect(corrupt).toBe(0);
      expect(service.exitCode).toBeNull();
      const hwmKb = statusKb(pid, 'VmHWM');
      peakRssKb = Math.max(peakRssKb, hwmKb);
      console.log(
        JSON.stringify({
          unitFlags: NODE_FLAGS,
          backlog: BACKLOG,
          drainedS: Math.round((Date.now() - started) / 100) / 10,
          peakRssMiB: Math.round(peakRssKb / 102.4) / 10,
          memoryMaxMiB: MEMORY_MAX_MB,
        }),
      );
      expect(peakRssKb / 1024).toBeLessThan(MEMORY_MAX_MB);
      expect(stderr).not.toMatch(/heap out of memory|FATAL ERROR/i);
    } finally {
      clearInterval(sampler);
      await subscriber.endAsync();
      if (service.exitCode === null) {
        service.kill('SIGTERM');
        await once(service, 'exit');
      }
    }
  }, 420_000);
});

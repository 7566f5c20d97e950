import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { loadProfiles } from '../../src/devices/profiles.js';
import { type Logger, silentLogger } from '../../src/log/logger.js';
import { Service } from '../../src/service/service.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';

export interface HomeOptions {
  /** Broker URL; none = no link. */
  broker?: string;
  /** Write a token file (otherwise `web.tokenFile` points at a file that does not exist). */
  token?: boolean;
  /** A password file whose contents must never appear in a response. */
  passwordFile?: boolean;
  maxEventClients?: number;
  cycleMs?: number;
  /** Extra config devices. */
  devices?: unknown[];
  /** `web.allowedHosts`. */
  allowedHosts?: string[];
  /** `web.tls`: the page over HTTPS. */
  tls?: { certFile: string; keyFile: string };
  /** The service's logger (default silent). */
  log?: Logger;
  /** The `homeassistant` section. */
  homeassistant?: Record<string, unknown>;
}

export interface Home {
  service: Service;
  sim: Simulator;
  base: string;
  dir: string;
  /** The bearer token, when one was written. */
  token: string | undefined;
  tokenFile: string;
  password: string | undefined;
  stop(): Promise<void>;
}

/** A home on the Modbus simulator (over real Modbus TCP), simulated I2C/GPIO, its web server on a free port. */
export async function startHome(opts: HomeOptions = {}): Promise<Home> {
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-web-'));
  const sim = await startSimulator({ tcp: { port: 0 }, seed: 7, utcOffsetMin: 0, clock: () => noon() });
  const tokenFile = join(dir, 'web.token');
  const token = opts.token ? randomBytes(32).toString('hex') : undefined;
  if (token) writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const password = opts.passwordFile ? `pw-${randomBytes(12).toString('hex')}` : undefined;
  const passwordFile = join(dir, 'mqtt.pass');
  if (password) writeFileSync(passwordFile, password, { mode: 0o600 });
  const modbus = `127.0.0.1:${sim.tcpPort}`;
  const config = configSchema.parse({
    home: { id: 'home-web', zone: 'test-zone' },
    cycleMs: opts.cycleMs ?? 500,
    devices: [
      { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp: modbus, unitId: 1, timeoutMs: 300 } },
      { id: 'grid-meter', profile: 'sdm630', modbus: { tcp: modbus, unitId: 2, timeoutMs: 300 } },
      { id: 'dc-shunt', profile: 'ina219', i2c: { bus: 1, address: 0x40, shuntOhms: 0.1 } },
      { id: 'water-heater', profile: 'relay', gpio: { line: 17, activeLow: true }, load: { powerW: 2000 } },
      ...(opts.devices ?? []),
    ],
    ...(opts.broker
      ? {
          mqtt: {
            brokers: [opts.broker],
            username: 'home-web',
            ...(password ? { passwordFile } : {}),
            telemetryIntervalMs: 1000,
            reconnectBaseMs: 200,
            reconnectMaxMs: 1000,
            keepaliveS: 5,
          },
        }
      : {}),
    ...(opts.homeassistant ? { homeassistant: opts.homeassistant } : {}),
    store: { path: join(dir, 'powerdeal.db'), readingsFlushMs: 0 },
    // Each home its own control socket (test files run in parallel), key and keyring paths (absent).
    control: { socket: join(dir, 'control.sock') },
    keys: { privateKeyFile: join(dir, 'home.key'), keyringFile: join(dir, 'keyring.yaml') },
    web: {
      listen: '127.0.0.1:0',
      tokenFile,
      ...(opts.maxEventClients ? { maxEventClients: opts.maxEventClients } : {}),
      ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
    },
  });
  const service = new Service({
    config,
    profiles: loadProfiles(),
    log: opts.log ?? silentLogger(),
    now: Date.now,
    simulated: true,
    version: '0.0.0-test',
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await service.stop(3000).catch(() => undefined);
    await sim.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await service.start();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    service,
    sim,
    base: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${service.webPort}`,
    dir,
    token,
    tokenFile,
    password,
    stop,
  };
}

/** The simulated day at noon: the sun shines whatever time the test runs. */
function noon(): number {
  const d = new Date();
  d.setUTCHours(12, 0, 0, 0);
  return d.getTime() + (Date.now() % 3_600_000);
}

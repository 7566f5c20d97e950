import { createPublicKey, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type Config, configSchema } from '../../config/schema.js';
import { generateHomeKey, type Keyring, keyringText, writePrivateKey } from '../../protocol/keyring.js';

/** The demo's zone: every home trades in it, and the feed listens to it. */
export const DEMO_ZONE = 'demo';

/**
 * One home of the demo neighbourhood. Sellers have a big PV array; buyers have little PV and a water
 * heater on a relay, the flexible load they buy neighbours' energy for.
 */
export interface DemoHome {
  id: string;
  role: 'seller' | 'buyer';
  /** Seed of the home's simulated day (clouds, appliances). */
  seed: number;
  pvKwp: number;
  /** The water heater's power, W; null for sellers. */
  heaterW: number | null;
}

export const MAX_DEMO_HOMES = 9;

/** `count` homes: the first and then every third one a sunny seller, the others buyers. */
export function demoHomes(count: number): DemoHome[] {
  return Array.from({ length: count }, (_, i): DemoHome => {
    const n = i + 1;
    if (i % 3 === 0) return { id: `sunny-${n}`, role: 'seller', seed: 100 + n, pvKwp: 12, heaterW: null };
    // A balcony array or next to none: never enough to offer, so these homes only buy.
    return {
      id: `home-${n}`,
      role: 'buyer',
      seed: 100 + n,
      pvKwp: i % 3 === 1 ? 0.8 : 0.2,
      // A minute of either is a whole number of Wh (30, 25): buying that much covers the heater exactly.
      heaterW: i % 3 === 1 ? 1800 : 1500,
    };
  });
}

/**
 * Every home's Ed25519 key (written in `dir`, mode 0600) and the zone keyring with all their public
 * keys, written once in `dir` and shared by the homes, as each home's copy would be on real Pis.
 */
export function writeDemoKeys(
  dir: string,
  homes: readonly DemoHome[],
): { keyringFile: string; keyring: Keyring } {
  const members = new Map<string, KeyObject>();
  for (const home of homes) {
    const key = generateHomeKey();
    writePrivateKey(keyFile(dir, home.id), key);
    members.set(home.id, createPublicKey(key));
  }
  const keyring: Keyring = { zone: DEMO_ZONE, members };
  const keyringFile = join(dir, 'keyring.yaml');
  writeFileSync(keyringFile, keyringText(keyring), { mode: 0o644 });
  return { keyringFile, keyring };
}

function keyFile(dir: string, home: string): string {
  return join(dir, `${home}.key`);
}

export interface DemoConfigInput {
  home: DemoHome;
  /** The home's simulator, Modbus TCP `HOST:PORT`. */
  modbusTcp: string;
  broker: string;
  dir: string;
  keyringFile: string;
  web: string;
}

/**
 * A home's config: the simulator's inverter and meter over Modbus TCP, simulated I2C sensors, the water
 * heater on a (simulated) relay, one-minute trading slots so trades happen within a minute, everything
 * it writes inside `dir`.
 */
export function demoConfig(input: DemoConfigInput): Config {
  const { home, modbusTcp, dir } = input;
  const devices: unknown[] = [
    { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp: modbusTcp, unitId: 1, timeoutMs: 500 } },
    { id: 'grid-meter', profile: 'sdm630', modbus: { tcp: modbusTcp, unitId: 2, timeoutMs: 500 } },
    { id: 'dc-shunt', profile: 'ina219', i2c: { bus: 1, address: 0x40, shuntOhms: 0.1 } },
    { id: 'enclosure', profile: 'tmp102', i2c: { bus: 1, address: 0x48 } },
  ];
  if (home.heaterW !== null) {
    devices.push({
      id: 'water-heater',
      profile: 'relay',
      gpio: { line: 17, activeLow: true },
      // Slots last a minute here, so the heater may follow them closely.
      load: { powerW: home.heaterW, minOnS: 10, minOffS: 10 },
    });
  }
  return configSchema.parse({
    home: { id: home.id, zone: DEMO_ZONE },
    cycleMs: 1000,
    devices,
    mqtt: { brokers: [input.broker], telemetryIntervalMs: 5000, drainStartJitterMs: 0 },
    engine: {
      minOfferW: 300,
      reserveW: 200,
      priceCentsPerKwh: 11,
      maxBuyPriceCentsPerKwh: 20,
      minTradeWh: 10,
      slotMinutes: 1,
      trading: true,
    },
    keys: { privateKeyFile: keyFile(dir, home.id), keyringFile: input.keyringFile },
    store: { path: join(dir, `${home.id}.db`), diskReserveMb: 0, backupKeep: 0 },
    web: { listen: input.web, tokenFile: join(dir, 'web.token') },
    // Its own control socket, so a demo never answers for (or collides with) an installed service.
    control: { socket: join(dir, `${home.id}.sock`) },
  });
}

/**
 * Where each home's status page listens: `first` and the ports after it, skipping any that are taken
 * (an installed service on 8080, say).
 */
export async function demoWebPorts(host: string, first: number, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let port = first; ports.length < count && port <= 65535; port++) {
    if (await portFree(host, port)) ports.push(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free ports from ${host}:${first}`);
  return ports;
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

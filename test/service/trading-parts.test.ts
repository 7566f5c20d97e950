import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { type Config, configSchema } from '../../src/config/schema.js';
import { createRelay, FakeGpioBackend, type Relay } from '../../src/devices/gpio/index.js';
import { BusRegistry } from '../../src/devices/modbus/bus-registry.js';
import { createModbusDevice } from '../../src/devices/modbus/device.js';
import { loadProfiles } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';
import { createEnvelope } from '../../src/protocol/envelope.js';
import {
  generateHomeKey,
  keyringText,
  parsePublicKeyText,
  publicKeyText,
  writePrivateKey,
} from '../../src/protocol/keyring.js';
import { createVerifier } from '../../src/protocol/signing.js';
import { AutomatedRelays } from '../../src/service/automated-relays.js';
import { crossChecks } from '../../src/setup/config-checks.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { Actuation } from '../../src/trading/actuation.js';
import { loadTradingKeys } from '../../src/trading/keys.js';
import { waitFor } from '../helpers/ports.js';

/**
 * The parts around the trading host, without a whole service: which keys turn trading on or off (and the
 * words that say why), the relay control the page and the engine share (a manual override wins), export
 * limits written to a real simulated SunSpec inverter over Modbus TCP, and the config checks of the keys.
 */
const profiles = loadProfiles();
const log = silentLogger();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'powerdeal-trading-parts-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function config(over: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    home: { id: 'home-1', zone: 'z1' },
    mqtt: { brokers: ['mqtt://127.0.0.1:1'] },
    keys: { privateKeyFile: join(dir, 'home-1.key'), keyringFile: join(dir, 'keyring.yaml') },
    store: { path: ':memory:' },
    ...over,
  });
}

describe('loadTradingKeys', () => {
  it('says which file is missing and the command that fixes it, and signs once the key exists', () => {
    const c = config();
    expect(loadTradingKeys(c).off).toEqual({
      code: 'no-key',
      text: `trading off: no key at ${c.keys.privateKeyFile}; run \`powerdeal keys init\``,
    });
    const key = generateHomeKey();
    writePrivateKey(c.keys.privateKeyFile, key);
    const noRing = loadTradingKeys(c);
    expect(noRing.off?.code).toBe('no-keyring');
    expect(noRing.off?.text).toContain(c.keys.keyringFile);
    expect(noRing.signer).not.toBeNull();

    // Not in its own keyring: it runs, with a warning that neighbours will refuse it.
    const other = generateHomeKey();
    const members = new Map([['home-2', parsePublicKeyText(publicKeyText(other))]]);
    writeFileSync(c.keys.keyringFile, keyringText({ zone: 'z1', members }));
    const absent = loadTradingKeys(c);
    expect(absent.off).toBeNull();
    expect(absent.warnings.join('\n')).toMatch(/home-1 is not in the keyring .*refuse/);

    // Another key under its name: the same warning in other words.
    members.set('home-1', parsePublicKeyText(publicKeyText(generateHomeKey())));
    writeFileSync(c.keys.keyringFile, keyringText({ zone: 'z1', members }));
    expect(loadTradingKeys(c).warnings.join('\n')).toMatch(/holds another key for home-1/);

    members.set('home-1', parsePublicKeyText(publicKeyText(key)));
    writeFileSync(c.keys.keyringFile, keyringText({ zone: 'z1', members }));
    const ok = loadTradingKeys(c);
    expect(ok).toMatchObject({ off: null, warnings: [] });
    const env = createEnvelope({
      type: 'status',
      from: 'home-1',
      zone: 'z1',
      seq: 1,
      ts: 1,
      body: {
        state: 'online',
        version: 't',
      },
    });
    const signed = ok.signer?.sign(env);
    if (!signed || !ok.keyring) throw new Error('no signer or keyring');
    expect(createVerifier(ok.keyring)(signed, Buffer.alloc(0))).toBeNull();

    // Off in the config, or without a broker, whatever the files say.
    expect(loadTradingKeys(config({ engine: { trading: false } })).off?.code).toBe('disabled');
    expect(loadTradingKeys(config({ engine: { trading: false } })).signer).not.toBeNull();
    const { mqtt: _mqtt, ...noBroker } = config();
    expect(loadTradingKeys(noBroker as Config).off?.code).toBe('no-broker');
  });

  it('config check: broken key files and a keyring of another zone name the key; missing files do not', () => {
    const check = (keys: Record<string, string>) => {
      const text = `home: { id: home-1, zone: z1 }\nkeys: { privateKeyFile: ${keys.privateKeyFile}, keyringFile: ${keys.keyringFile} }\n`;
      try {
        parseConfig(text, 'config.yaml', crossChecks(profiles));
        return [];
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        return err.problems.map((p) => `${p.path}: ${p.message}`);
      }
    };
    const badKey = join(dir, 'bad.key');
    writeFileSync(badKey, 'not a key', { mode: 0o600 });
    const otherZone = join(dir, 'other-zone.yaml');
    writeFileSync(otherZone, 'zone: z9\nmembers: {}\n');
    expect(check({ privateKeyFile: join(dir, 'none.key'), keyringFile: join(dir, 'none.yaml') })).toEqual([]);
    const problems = check({ privateKeyFile: badKey, keyringFile: otherZone });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(
      /^keys\.privateKeyFile: .*not a PEM private key.*powerdeal keys init --force/,
    );
    expect(problems[1]).toMatch(/^keys\.keyringFile: .*zone "z9" but home\.zone is "z1"/);
  });
});

describe('AutomatedRelays', () => {
  const relayConfig = configSchema.parse({
    home: { id: 'home-1', zone: 'z1' },
    devices: [
      { id: 'heater', profile: 'relay', gpio: { line: 17 }, load: { powerW: 2000 } },
      { id: 'pump', profile: 'relay', gpio: { line: 27 } },
    ],
  });
  let gpio: FakeGpioBackend;
  let relays: Relay[];
  let control: AutomatedRelays;

  beforeAll(async () => {
    gpio = new FakeGpioBackend();
    const relayProfile = profiles.get('relay');
    if (!relayProfile) throw new Error('no relay profile');
    relays = relayConfig.devices.map((d) => createRelay(d, relayProfile, { gpio, log }));
    for (const r of relays) await r.start();
    control = new AutomatedRelays(relays, relayConfig, log, Date.now);
  });

  const heater = () => control.list().find((r) => r.id === 'heater');

  it('follows the engine in auto; a manual override wins until auto, which restores the wish', async () => {
    await control.automate('heater', true);
    expect(gpio.level(17)).toBe(true);
    expect(heater()).toMatchObject({ on: true, mode: 'auto' });

    await control.set('heater', 'off');
    expect(gpio.level(17)).toBe(false);
    // The engine changes its mind twice while overridden: nothing is written, the last wish is kept.
    await control.automate('heater', false);
    await control.automate('heater', true);
    expect(gpio.level(17)).toBe(false);
    expect(heater()).toMatchObject({ on: false, mode: 'off' });
    expect(control.counts.overridden).toBe(2);

    const back = await control.set('heater', 'auto');
    expect(back).toMatchObject({ on: true, mode: 'auto' });
    expect(gpio.level(17)).toBe(true);
    // Auto goes straight to the wish.
    expect(gpio.writesTo(17).map((w) => w.high)).toEqual([false, true, false, true]);
    // From an `on` override back to auto (the wish is on too): the relay never clicks off on the way.
    await control.set('heater', 'on');
    await control.set('heater', 'auto');
    expect(gpio.writesTo(17).every((w, i) => i < 4 || w.high)).toBe(true);
    expect(gpio.level(17)).toBe(true);
    expect(heater()).toMatchObject({ on: true, mode: 'auto' });
  });

  it('counts a failed write and never throws; stops commanding once halted', async () => {
    gpio.fail(27, 'EIO: gone');
    await expect(control.automate('pump', true)).resolves.toBeUndefined();
    expect(control.counts.failures).toBe(1);
    expect(control.lastError?.message).toMatch(/relay pump: .*EIO: gone/);
    expect(control.list().find((r) => r.id === 'pump')?.on).toBeNull();
    await control.automate('nope', true);
    expect(control.counts.failures).toBe(2);
    gpio.heal(27);

    const actuation = new Actuation(control, [], log, Date.now);
    actuation.halt();
    actuation.apply([{ kind: 'relay', id: 'heater', on: false }]);
    await new Promise((r) => setImmediate(r));
    expect(gpio.level(17)).toBe(true);
  });
});

describe('export limits on a real simulated inverter', () => {
  let sim: Simulator;
  let buses: BusRegistry;
  beforeAll(async () => {
    sim = await startSimulator({ tcp: { port: 0 } });
    buses = new BusRegistry({ log });
  });
  afterAll(async () => {
    await buses?.closeAll();
    await sim?.stop();
  });

  it('writes the newest limit through the bus queue, lifts it, and counts what fails', async () => {
    const cfg = configSchema.parse({
      home: { id: 'home-1', zone: 'z1' },
      devices: [
        {
          id: 'inverter',
          profile: 'sunspec-inverter',
          modbus: { tcp: `127.0.0.1:${sim.tcpPort}`, unitId: 1 },
        },
        { id: 'meter', profile: 'sdm630', modbus: { tcp: `127.0.0.1:${sim.tcpPort}`, unitId: 2 } },
      ],
    });
    const devices = cfg.devices.map((d) => {
      const p = profiles.get(d.profile);
      if (!p) throw new Error(`no profile ${d.profile}`);
      return createModbusDevice(d, p, { buses, log });
    });
    const control = new AutomatedRelays([], cfg, log, Date.now);
    const actuation = new Actuation(control, devices, log, Date.now);
    // Three limits in a row: the first is written, the last wins, the one in between may be skipped.
    actuation.apply([{ kind: 'export-limit', device: 'inverter', pct: 80 }]);
    actuation.apply([{ kind: 'export-limit', device: 'inverter', pct: 55 }]);
    actuation.apply([{ kind: 'export-limit', device: 'inverter', pct: 40 }]);
    await waitFor(
      () => sim.exportLimitPct() === 40 && actuation.stats().exportLimitPct === 40,
      10_000,
      'limit 40 %',
    );
    expect(actuation.stats().exportLimitWrites).toBeGreaterThanOrEqual(2);
    expect(actuation.stats().exportLimitWrites).toBeLessThanOrEqual(3);

    actuation.apply([{ kind: 'export-limit', device: 'inverter', pct: null }]);
    await waitFor(() => sim.exportLimitPct() === null, 10_000, 'limit lifted');

    // The meter takes no limit, an unknown device neither: counted, logged, never thrown.
    actuation.apply([
      { kind: 'export-limit', device: 'meter', pct: 50 },
      { kind: 'export-limit', device: 'ghost', pct: 50 },
    ]);
    await waitFor(() => actuation.stats().exportLimitFailures === 2, 10_000, 'two failures');
    expect(actuation.stats().lastError).toMatch(/export limit on (meter|ghost)/);
  });
});

import { describe, expect, it } from 'vitest';
import { configSchema, OUTBOX_DEFAULTS } from '../../src/config/schema.js';
import { homeYaml, problemsOf } from './checks.js';

describe('config schema', () => {
  it('fills every default from a config of only the home', () => {
    const config = configSchema.parse({ home: { id: 'home-1', zone: 'z1' } });
    expect(config).toEqual({
      home: { id: 'home-1', zone: 'z1' },
      cycleMs: 1000,
      devices: [],
      panel: {},
      homeassistant: { enabled: false, prefix: 'homeassistant' },
      fallback: { enabled: true, afterS: 20, listen: '0.0.0.0:1884', host: true, discovery: 'static' },
      engine: {
        minOfferW: 300,
        reserveW: 200,
        priceCentsPerKwh: 12,
        maxBuyPriceCentsPerKwh: 20,
        minTradeWh: 20,
        slotMinutes: 15,
        trading: true,
      },
      keys: { privateKeyFile: '/etc/powerdeal/home.key', keyringFile: '/etc/powerdeal/keyring.yaml' },
      store: {
        path: '/var/lib/powerdeal/powerdeal.db',
        readingsRetentionDays: 7,
        readingsFlushMs: 300_000,
        telemetryStageMs: 15_000,
        lowDiskMb: 64,
        diskReserveMb: 8,
        backupKeep: 7,
      },
      web: {
        listen: '127.0.0.1:8080',
        tokenFile: '/etc/powerdeal/web.token',
        maxEventClients: 8,
        maxBodyBytes: 4096,
        allowedHosts: [],
      },
      control: { socket: '/run/powerdeal/control.sock' },
      log: { level: 'info' },
    });
  });

  it('fills a section given in part, and the outbox caps of a broker section', () => {
    const config = configSchema.parse({
      home: { id: 'home-1', zone: 'z1' },
      engine: { reserveW: 0 },
      mqtt: { brokers: ['mqtt://127.0.0.1:1883'] },
    });
    expect(config.engine).toMatchObject({ reserveW: 0, minOfferW: 300, trading: true });
    expect(config.mqtt?.outbox).toEqual({ maxRows: 200_000, maxBytes: 64 * 1024 * 1024 });
    expect(config.mqtt?.keepaliveS).toBe(30);
  });

  it('messages name the key and what to write', () => {
    expect(problemsOf('home: { id: Home_1, zone: z1 }\n')).toEqual([
      `home.id: home.id must be lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters, e.g. "home-42"`,
    ]);
    expect(problemsOf('home: { id: home-1 }\n')).toEqual(['home.zone: missing: add "zone" (string)']);
    expect(problemsOf(homeYaml('cycleMs: 10\n'))).toEqual([
      'cycleMs: Too small: expected number to be >=100',
    ]);
    expect(problemsOf(homeYaml('colour: red\n'))[0]).toMatch(
      /^: unknown key "colour": remove it or fix the spelling \(allowed: home, cycleMs, devices/,
    );
    expect(problemsOf(homeYaml('engine: { colour: red }\n'))).toEqual([
      'engine: unknown key "colour": remove it or fix the spelling (allowed: minOfferW, reserveW, priceCentsPerKwh, maxBuyPriceCentsPerKwh, minTradeWh, slotMinutes, trading, noExport)',
    ]);
    expect(problemsOf(homeYaml('devices:\n  - { id: box, profile: tmp102 }\n'))).toEqual([
      'devices.0: a device needs exactly one transport: modbus, i2c or gpio',
    ]);
  });

  it('fallback: errors name the key and the fix', () => {
    expect(problemsOf(homeYaml('fallback: { afterS: 0, listen: "1884", discovery: dns }\n'))).toEqual([
      'fallback.afterS: Too small: expected number to be >=1',
      'fallback.listen: fallback.listen must be "HOST:PORT", e.g. "192.168.1.50:502"',
      "fallback.discovery: fallback.discovery must be static (list each home's endpoint in the keyring)",
    ]);
    expect(problemsOf(homeYaml('fallback: { afterS: 5, host: false, enabled: false }\n'))).toEqual([]);
    expect(problemsOf(homeYaml('fallback: { port: 1884 }\n'))[0]).toMatch(
      /^fallback: unknown key "port": remove it or fix the spelling \(allowed: enabled, afterS, listen, host, discovery\)/,
    );
  });

  it('web.allowedHosts takes names and addresses with an optional port, and says what else is wrong', () => {
    const hosts = ['powerdeal.home.arpa', 'pi.lan:8080', '192.168.1.20', '[fd00::2]:8080', 'pi.local.'];
    expect(problemsOf(homeYaml(`web: { allowedHosts: ${JSON.stringify(hosts)} }\n`))).toEqual([]);
    const wrong = ['http://pi.lan', 'pi.lan/status', '*.lan', 'pi.lan:70000', '[1::2::3]', 'pi lan', ''];
    expect(problemsOf(homeYaml(`web: { allowedHosts: ${JSON.stringify(['ok.lan', ...wrong])} }\n`))).toEqual(
      wrong.map(
        (_, i) =>
          `web.allowedHosts.${i + 1}: web.allowedHosts entries are the names the page is reached by, optionally with ":PORT", e.g. "powerdeal.home.arpa", "pi.lan:8080" or "[fd00::2]" (no scheme, no path, no wildcard)`,
      ),
    );
    expect(problemsOf(homeYaml('web: { allowedHosts: pi.lan }\n'))).toHaveLength(1);
  });
});

describe('config: homeassistant', () => {
  it('is off by default; enabled needs a broker, and the error names the key and the fix', () => {
    expect(problemsOf(homeYaml('homeassistant: { enabled: true }\n'))).toEqual([
      'homeassistant.broker: homeassistant.enabled is true but no broker is given: add homeassistant.broker, the broker Home Assistant uses, e.g. "mqtt://192.168.1.10:1883"',
    ]);
    expect(
      problemsOf(homeYaml('homeassistant: { enabled: true, broker: "mqtt://127.0.0.1:1883" }\n')),
    ).toEqual([]);
    expect(problemsOf(homeYaml('homeassistant: { broker: "localhost" }\n'))).toEqual([
      'homeassistant.broker: a broker is a URL like "mqtt://10.0.0.2:1883" or "mqtts://broker:8883"',
    ]);
    expect(problemsOf(homeYaml('homeassistant: { prefix: "ha/#" }\n'))[0]).toMatch(
      /^homeassistant\.prefix: homeassistant\.prefix is the discovery prefix set in Home Assistant's MQTT integration/,
    );
  });

  it('a password file that cannot be read is named with its key', () => {
    expect(
      problemsOf(
        homeYaml('homeassistant: { broker: "mqtt://127.0.0.1:1883", passwordFile: /nonexistent/ha.pass }\n'),
      ),
    ).toEqual([
      'homeassistant.passwordFile: cannot read /nonexistent/ha.pass: create it (readable by the powerdeal user) or remove the key',
    ]);
  });
});

describe('config defaults', () => {
  it('the outbox caps come from the schema', () => {
    expect(OUTBOX_DEFAULTS).toEqual({ maxRows: 200_000, maxBytes: 64 * 1024 * 1024 });
  });

  it('a section given empty gets the same defaults as one left out', () => {
    const home = { id: 'home-1', zone: 'z1' };
    const empty = configSchema.parse({
      home,
      fallback: {},
      engine: {},
      homeassistant: {},
      keys: {},
      store: {},
      web: {},
      control: {},
      log: {},
    });
    expect(empty).toEqual(configSchema.parse({ home }));
  });
});

import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import {
  type AddressSources,
  allowedIn,
  configAddresses,
  DROP_IN,
  network,
  systemdDropIn,
} from '../../src/setup/addresses.js';
import { runCli } from '../helpers/cli.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'pd-addresses-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const iface = (address: string, cidr: string, internal = false): NetworkInterfaceInfo =>
  ({
    address,
    cidr,
    internal,
    family: address.includes(':') ? 'IPv6' : 'IPv4',
    netmask: '',
    mac: '00:00:00:00:00:00',
    ...(address.includes(':') ? { scopeid: 0 } : {}),
  }) as NetworkInterfaceInfo;

const SOURCES: AddressSources = {
  lookup: async (host) => {
    const known: Record<string, string[]> = {
      'broker.lan': ['192.168.1.5', 'fd00::5'],
      'inverter.lan': ['192.168.1.50'],
    };
    const found = known[host];
    if (!found) throw new Error(`ENOTFOUND ${host}`);
    return found;
  },
  nameservers: ['192.168.1.1', '127.0.0.53'],
  interfaces: {
    lo: [iface('127.0.0.1', '127.0.0.1/8', true), iface('::1', '::1/128', true)],
    eth0: [
      iface('192.168.1.23', '192.168.1.23/24'),
      iface('fd00::23', 'fd00::23/64'),
      iface('fe80::1', 'fe80::1/64'),
    ],
  },
};

const config = (extra: Record<string, unknown>) =>
  configSchema.parse({ home: { id: 'home-1', zone: 'zone-1' }, ...extra });

describe('the addresses the unit allows (config addresses)', () => {
  it('needs none for the starter config: loopback page, no broker', async () => {
    expect(await configAddresses(config({}), SOURCES)).toEqual({ allow: [], problems: [] });
  });

  it('lists brokers and Modbus TCP devices, resolves names, and then allows the resolvers', async () => {
    const found = await configAddresses(
      config({
        mqtt: { brokers: ['mqtts://broker.lan:8883', 'mqtt://10.0.0.2:1883', 'mqtt://[fd00::9]:1883'] },
        devices: [
          { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp: 'inverter.lan:502' } },
          { id: 'meter', profile: 'sdm630', modbus: { rtuOverTcp: '10.0.0.2:4001', unitId: 2 } },
          { id: 'local', profile: 'sdm630', modbus: { tcp: '127.0.0.1:502' } },
          { id: 'direct', profile: 'sdm630', modbus: { tcp: '169.254.10.2:502' } },
        ],
      }),
      SOURCES,
    );
    expect(found.problems).toEqual([]);
    expect(found.allow).toEqual([
      { prefix: '192.168.1.5', why: ['mqtt.brokers.0 (broker.lan)'] },
      { prefix: 'fd00::5', why: ['mqtt.brokers.0 (broker.lan)'] },
      { prefix: '10.0.0.2', why: ['mqtt.brokers.1', 'devices.1.modbus.rtuOverTcp'] },
      { prefix: 'fd00::9', why: ['mqtt.brokers.2'] },
      { prefix: '192.168.1.50', why: ['devices.0.modbus.tcp (inverter.lan)'] },
      // 127.0.0.53 (systemd-resolved) is loopback: the unit allows it already.
      { prefix: '192.168.1.1', why: ['DNS server (/etc/resolv.conf)'] },
    ]);
  });

  it('lists the Home Assistant broker, which is not the zone broker', async () => {
    const found = await configAddresses(
      config({
        mqtt: { brokers: ['mqtt://10.0.0.2:1883'] },
        homeassistant: { enabled: true, broker: 'mqtt://192.168.1.10:1883' },
      }),
      SOURCES,
    );
    expect(found.allow).toEqual([
      { prefix: '10.0.0.2', why: ['mqtt.brokers.0'] },
      { prefix: '192.168.1.10', why: ['homeassistant.broker'] },
    ]);
  });

  it('allows no resolver when every peer is an address', async () => {
    const found = await configAddresses(config({ mqtt: { brokers: ['mqtt://10.0.0.2:1883'] } }), SOURCES);
    expect(found.allow.map((a) => a.prefix)).toEqual(['10.0.0.2']);
  });

  it('allows the LAN a page listening off loopback serves', async () => {
    const prefixes = async (listen: string) =>
      (await configAddresses(config({ web: { listen } }), SOURCES)).allow.map((a) => a.prefix);
    expect(await prefixes('0.0.0.0:8080')).toEqual(['192.168.1.0/24']);
    expect(await prefixes('[::]:8080')).toEqual(['192.168.1.0/24', 'fd00::/64']);
    expect(await prefixes('192.168.1.23:8080')).toEqual(['192.168.1.0/24']);
    expect(await prefixes('localhost:8080')).toEqual([]);
    const foreign = await configAddresses(config({ web: { listen: '10.9.9.9:8080' } }), SOURCES);
    expect(foreign.problems).toEqual(['web.listen: 10.9.9.9 is not an address of this machine']);
  });

  it('names a broker that does not resolve, and leaves it out', async () => {
    const found = await configAddresses(
      config({ mqtt: { brokers: ['mqtt://gone.lan:1883', 'mqtt://10.0.0.2:1883'] } }),
      SOURCES,
    );
    expect(found.problems).toEqual([
      'mqtt.brokers.0: "gone.lan" does not resolve, so it is not allowed (install again once it does)',
    ]);
    expect(found.allow.map((a) => a.prefix)).toEqual(['10.0.0.2', '192.168.1.1']);
  });

  it('masks subnets to their network', () => {
    expect(network('192.168.1.23/24')).toBe('192.168.1.0/24');
    expect(network('10.1.2.3/13')).toBe('10.0.0.0/13');
    expect(network('fd00:1:2:3:4::23/64')).toBe('fd00:1:2:3::/64');
    expect(network('2001:db8::8:7/126')).toBe('2001:db8::8:4/126');
  });

  it('writes a drop-in systemd accepts, read back by allowedIn', async () => {
    const found = await configAddresses(
      config({
        mqtt: { brokers: ['mqtts://broker.lan:8883', 'mqtt://gone.lan:1883'] },
        web: { listen: '[::]:8080' },
      }),
      SOURCES,
    );
    const text = systemdDropIn(found, '/etc/powerdeal/config.yaml');
    expect(text).toContain('[Service]\n');
    expect(text).toContain('# mqtt.brokers.1: "gone.lan" does not resolve');
    expect([...allowedIn(text)]).toEqual(found.allow.map((a) => a.prefix));
    expect(allowedIn('IPAddressAllow=10.0.0.1 fd00::/8\n#IPAddressAllow=10.0.0.9\n')).toEqual(
      new Set(['10.0.0.1', 'fd00::/8']),
    );

    // systemd-analyze verify reads the drop-ins beside the unit and names every entry it refuses.
    const units = join(dir, 'units');
    mkdirSync(join(units, 'powerdeal.service.d'), { recursive: true });
    copyFileSync(join(ROOT, 'systemd/powerdeal.service'), join(units, 'powerdeal.service'));
    writeFileSync(join(units, 'powerdeal.service.d/addresses.conf'), text);
    const { stdout, stderr } = await run('systemd-analyze', ['verify', join(units, 'powerdeal.service')]);
    expect(`${stdout}${stderr}`.trim()).toBe('');
  });

  it('is a CLI verb: the drop-in with --systemd, otherwise what the installed unit lacks', async () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      [
        'home: { id: home-1, zone: zone-1 }',
        'mqtt: { brokers: ["mqtt://10.0.0.2:1883"] }',
        `keys: { privateKeyFile: ${join(dir, 'home.key')}, keyringFile: ${join(dir, 'keyring.yaml')} }`,
      ].join('\n'),
    );
    const dropIn = await runCli(['config', 'addresses', '--systemd', file]);
    expect(dropIn.code).toBe(0);
    expect(dropIn.stdout).toContain(`from ${file} `);
    expect(dropIn.stdout).toContain('# mqtt.brokers.0\nIPAddressAllow=10.0.0.2\n');
    const json = await runCli(['config', 'addresses', '--json', file]);
    const report = JSON.parse(json.stdout) as { allow: { prefix: string }[]; missing: string[] };
    expect(report.allow.map((a) => a.prefix)).toEqual(['10.0.0.2']);
    // Missing unless this machine's installed drop-in allows it; a missing address is a problem.
    const installed = existsSync(DROP_IN) ? allowedIn(readFileSync(DROP_IN, 'utf8')) : new Set();
    expect(report.missing).toEqual(installed.has('10.0.0.2') ? [] : ['10.0.0.2']);
    expect(json.code).toBe(report.missing.length > 0 ? 1 : 0);
  });
});

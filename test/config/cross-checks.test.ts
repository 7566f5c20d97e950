import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE_DIR, loadProfiles } from '../../src/devices/profiles.js';
import { homeYaml, parsed, problemsOf } from './checks.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-config-'));
  dirs.push(dir);
  return dir;
}

const devices = (yaml: string) => homeYaml(`devices:\n${yaml}`);

describe('config check: devices', () => {
  it('accepts one device of every family', () => {
    const config = parsed(
      devices(
        [
          '  - { id: inverter, profile: sunspec-inverter, modbus: { tcp: "127.0.0.1:502" } }',
          '  - { id: meter, profile: sdm630, modbus: { tcp: "127.0.0.1:502", unitId: 2 } }',
          '  - { id: shunt, profile: ina219, i2c: { address: 0x40, shuntOhms: 0.1 } }',
          '  - { id: box, profile: tmp102, i2c: { address: 0x48 } }',
          '  - { id: heater, profile: relay, gpio: { line: 17 }, load: { powerW: 2000 } }',
        ].join('\n'),
      ),
    );
    expect(config.devices.map((d) => d.id)).toEqual(['inverter', 'meter', 'shunt', 'box', 'heater']);
  });

  it('a repeated id names the first one', () => {
    expect(
      problemsOf(
        devices(
          '  - { id: box, profile: tmp102, i2c: { address: 0x48 } }\n  - { id: box, profile: tmp102, i2c: { address: 0x49 } }',
        ),
      ),
    ).toEqual(['devices.1.id: "box" is already used by devices.0: ids must be unique']);
  });

  it('an unknown profile lists the profiles and the file to add', () => {
    expect(problemsOf(devices('  - { id: box, profile: tmp103, i2c: { address: 0x48 } }'))).toEqual([
      'devices.0.profile: unknown profile "tmp103": use one of ina219, relay, sdm120, sdm630, sunspec-inverter, tmp102 (or add hardware/profiles/tmp103.yaml)',
    ]);
  });

  it('a profile of another family asks for its transport', () => {
    expect(problemsOf(devices('  - { id: meter, profile: sdm630, i2c: { address: 0x48 } }'))).toEqual([
      'devices.0: profile "sdm630" is a modbus device: give it a "modbus" transport, not "i2c"',
    ]);
    expect(problemsOf(devices('  - { id: inverter, profile: sunspec-inverter, gpio: { line: 4 } }'))).toEqual(
      ['devices.0: profile "sunspec-inverter" is a sunspec device: give it a "modbus" transport, not "gpio"'],
    );
    expect(
      problemsOf(devices('  - { id: heater, profile: relay, modbus: { tcp: "127.0.0.1:502" } }')),
    ).toEqual(['devices.0: profile "relay" is a gpio device: give it a "gpio" transport, not "modbus"']);
  });

  it('only a relay switches a load', () => {
    expect(
      problemsOf(devices('  - { id: box, profile: tmp102, i2c: { address: 0x48 }, load: { powerW: 100 } }')),
    ).toEqual(['devices.0.load: only a relay (gpio) device switches a load: remove "load"']);
  });

  it('an INA219 needs its shunt', () => {
    expect(problemsOf(devices('  - { id: shunt, profile: ina219, i2c: { address: 0x40 } }'))).toEqual([
      'devices.0.i2c.shuntOhms: an INA219 needs its shunt resistance, e.g. shuntOhms: 0.1',
    ]);
  });

  it('two devices on one bus need their own unit, and one serial line has one setting', () => {
    expect(
      problemsOf(
        devices(
          [
            '  - { id: a, profile: sdm630, modbus: { rtu: /dev/ttyUSB0, unitId: 2 } }',
            '  - { id: b, profile: sdm120, modbus: { rtu: /dev/ttyUSB0, unitId: 2, baudRate: 19200 } }',
          ].join('\n'),
        ),
      ),
    ).toEqual([
      'devices.1.modbus.unitId: unit 2 on rtu:/dev/ttyUSB0 is already devices.0: give each device on a bus its own unitId',
      'devices.1.modbus.baudRate: shares /dev/ttyUSB0 with devices.0 but has baudRate 19200 instead of 9600: one serial line has one setting',
    ]);
  });

  it('a broken profile file is a problem of the device that uses it', () => {
    const dir = tempDir();
    for (const f of readdirSync(DEFAULT_PROFILE_DIR))
      copyFileSync(join(DEFAULT_PROFILE_DIR, f), join(dir, f));
    writeFileSync(
      join(dir, 'tmp102.yaml'),
      'id: tmp102\nkind: i2c\ndescription: broken\nchip: tmp102\naddresses: [0x48]\nregisters: []\nquantities: {}\n',
    );
    const [problem, ...rest] = problemsOf(
      devices('  - { id: box, profile: tmp102, i2c: { address: 0x48 } }'),
      loadProfiles(dir),
    );
    expect(rest).toEqual([]);
    expect(problem).toMatch(
      /^devices\.0\.profile: profile file is invalid: .*tmp102\.yaml: invalid i2c profile/,
    );
    expect(problem).toMatch(/registers: /);
  });
});

describe('config check: no export', () => {
  const inverter = '  - { id: inverter, profile: sunspec-inverter, modbus: { tcp: "127.0.0.1:502" } }';
  const meter = '  - { id: meter, profile: sdm630, modbus: { tcp: "127.0.0.1:502", unitId: 2 } }';
  const noExport = (device: string) => `engine:\n  noExport: { device: ${device}, inverterWMax: 5000 }\n`;

  it('names a SunSpec inverter device', () => {
    expect(problemsOf(homeYaml(`devices:\n${inverter}\n${noExport('inverter')}`))).toEqual([]);
  });

  it('a missing device, a meter or a disabled inverter is refused with the inverters to choose from', () => {
    expect(problemsOf(homeYaml(`devices:\n${inverter}\n${noExport('pv')}`))).toEqual([
      'engine.noExport.device: no device "pv": name a SunSpec inverter device (inverter)',
    ]);
    expect(problemsOf(homeYaml(`devices:\n${inverter}\n${meter}\n${noExport('meter')}`))).toEqual([
      'engine.noExport.device: "meter" is not a modbus inverter with a SunSpec profile (its export limit cannot be written): name a SunSpec inverter device (inverter)',
    ]);
    expect(
      problemsOf(
        homeYaml(`devices:\n${inverter.replace('{ id:', '{ enabled: false, id:')}\n${noExport('inverter')}`),
      ),
    ).toEqual([
      'engine.noExport.device: "inverter" is disabled: enable it or name a SunSpec inverter device (inverter)',
    ]);
  });

  it('without any inverter, says how to add one', () => {
    expect(problemsOf(homeYaml(`devices:\n${meter}\n${noExport('meter')}`))).toEqual([
      'engine.noExport.device: "meter" is not a modbus inverter with a SunSpec profile (its export limit cannot be written): add the inverter as a modbus device with a SunSpec profile (e.g. sunspec-inverter), or remove engine.noExport',
    ]);
  });
});

describe('config check: files', () => {
  it('an unreadable secret file names the key', () => {
    expect(
      problemsOf(homeYaml('mqtt: { brokers: ["mqtt://127.0.0.1:1883"], passwordFile: /nonexistent/pw }\n')),
    ).toEqual([
      'mqtt.passwordFile: cannot read /nonexistent/pw: create it (readable by the powerdeal user) or remove the key',
    ]);
  });

  it('a keyring of another zone says which zone to use', () => {
    const dir = tempDir();
    const keyring = join(dir, 'keyring.yaml');
    writeFileSync(keyring, 'zone: z9\nmembers: {}\n');
    const text = `home: { id: home-1, zone: z1 }\nkeys: { privateKeyFile: ${join(dir, 'none.key')}, keyringFile: ${keyring} }\n`;
    expect(problemsOf(text)).toEqual([
      `keys.keyringFile: ${keyring} is the keyring of zone "z9" but home.zone is "z1": use the keyring of zone z1 (or fix home.zone)`,
    ]);
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client/client.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { createHome, type TestHome } from './home.js';

interface Check {
  name: string;
  state: 'pass' | 'fail' | 'unknown';
  detail: string;
  hint?: string;
  latencyMs?: number;
}

const byName = (checks: Check[], name: string) => {
  const c = checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check "${name}" in ${checks.map((x) => x.name).join(', ')}`);
  return c;
};

/** The technician's checklist on a healthy home, then with the meter unplugged and the broker down. */
describe('powerdeal selftest', () => {
  let home: TestHome;
  let broker: Mosquitto;

  beforeAll(async () => {
    broker = await startMosquitto();
    home = await createHome({ brokerUrl: broker.url });
    await home.startService({ WATCHDOG_USEC: '30000000' });
  });
  afterAll(async () => {
    await home?.dispose();
    await stopAllMosquittos();
  });

  async function selftest(): Promise<{ code: number | null; checks: Check[]; human: string }> {
    const json = await home.cli('selftest', '--broker-timeout', '2000', '--json');
    const human = await home.cli('selftest', '--broker-timeout', '2000');
    expect(human.code).toBe(json.code);
    return {
      code: json.code,
      checks: (JSON.parse(json.stdout) as { checks: Check[] }).checks,
      human: human.stdout,
    };
  }

  it('a healthy home passes every check it can make here', async () => {
    const { code, checks, human } = await selftest();
    expect(checks.map((c) => c.name)).toEqual([
      'config',
      'service',
      'database',
      'device inverter',
      'device grid-meter',
      'device dc-shunt',
      'device water-heater',
      `broker ${broker.url}`,
      'link mode',
      'clock',
      'disk',
      'watchdog',
    ]);
    // The clock cannot be asked without systemd (here): it is then unknown, with a hint, never a failure.
    expect(checks.filter((c) => c.state === 'fail')).toEqual([]);
    expect(code).toBe(0);
    expect(byName(checks, 'device inverter').latencyMs).toBeGreaterThanOrEqual(0);
    expect(byName(checks, 'watchdog').detail).toMatch(/WATCHDOG_USEC=30000000 \(30 s\)/);
    expect(byName(checks, `broker ${broker.url}`).detail).toMatch(/^connected in \d+ ms$/);
    expect(byName(checks, 'link mode')).toMatchObject({ state: 'pass', detail: 'upstream broker' });
    expect(human).toMatch(/all checks passed/);
  });

  it('meter unplugged and broker down: names both, says what to do, exit 1', async () => {
    await broker.stop();
    await home.unplugMeter();
    // The service notices within a few cycles.
    await waitFor(
      async () => {
        const client = await ControlClient.connect(home.socket);
        try {
          const r = await client!.call<{ status: { devices: { id: string; state: string }[] } }>('status');
          return r.status.devices.find((d) => d.id === 'grid-meter')?.state === 'fault';
        } finally {
          client?.close();
        }
      },
      20_000,
      'the grid meter to fault',
    );
    const { code, checks, human } = await selftest();
    expect(code).toBe(1);
    expect(checks.filter((c) => c.state === 'fail').map((c) => c.name)).toEqual([
      'device grid-meter',
      `broker ${broker.url}`,
    ]);
    const meter = byName(checks, 'device grid-meter');
    expect(meter.detail).toMatch(`tcp 127.0.0.1:${home.meterPort} unit 2: `);
    expect(meter.hint).toMatch(`nothing accepts connections at 127.0.0.1:${home.meterPort}`);
    expect(meter.hint).toMatch(`powerdeal modbus scan --tcp 127.0.0.1:${home.meterPort}`);
    expect(byName(checks, 'device inverter').state).toBe('pass');
    const mqtt = byName(checks, `broker ${broker.url}`);
    expect(mqtt.detail).toMatch(/ECONNREFUSED/);
    expect(mqtt.hint).toMatch(/nothing accepts MQTT at 127\.0\.0\.1:\d+: is the broker running/);
    expect(human).toMatch(/device grid-meter\s+FAIL/);
    expect(human).toMatch(/→ device grid-meter: nothing accepts connections/);
    expect(human).toMatch(/2 check\(s\) failed/);
  });

  it('with the service down too, it probes the devices itself and says how to start the service', async () => {
    await home.killService();
    const { code, checks } = await selftest();
    expect(code).toBe(1);
    const failed = checks.filter((c) => c.state === 'fail').map((c) => c.name);
    expect(failed).toEqual(expect.arrayContaining(['service', 'device grid-meter', `broker ${broker.url}`]));
    expect(failed).not.toContain('device inverter');
    expect(failed).not.toContain('database');
    expect(byName(checks, 'service').hint).toMatch(/systemctl start powerdeal/);
    expect(byName(checks, 'device grid-meter').hint).toMatch(
      `nothing accepts connections at 127.0.0.1:${home.meterPort}`,
    );
    expect(byName(checks, 'device inverter').detail).toMatch(/ms$/);
  });

  it('a broken config fails the first check and names the key', async () => {
    const bad = join(home.dir, 'bad.yaml');
    writeFileSync(bad, 'home: { id: home-42, zone: lyon-7 }\ncycleMs: 5\n');
    const r = await home.cli('selftest', '--config', bad, '--json');
    expect(r.code).toBe(1);
    const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    expect(byName(checks, 'config')).toMatchObject({ state: 'fail' });
    expect(byName(checks, 'config').detail).toMatch(/cycleMs/);
  });
});

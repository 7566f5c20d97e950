import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/core/quantities.js';
import type { DeviceHealth } from '../../src/devices/device.js';
import { type CliProcess, runCli, spawnCli } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { type SocatLink, startPtyPair } from '../helpers/socat.js';

/**
 * The "done when" of device reading, with real processes: `powerdeal sim` serves an inverter over Modbus
 * TCP and a meter over RTU on a socat pty pair; `powerdeal run` reads them every second; the CLI shows
 * the values; killing the simulator faults both devices within 3 cycles while the service keeps
 * running, and they recover when it returns.
 */
describe('powerdeal run on simulated hardware (TCP inverter + RTU meter)', () => {
  let dir: string;
  let pty: SocatLink;
  let sim: CliProcess;
  let run: CliProcess;
  let simPort: number;
  let config: string;

  const startSim = async () => {
    sim = spawnCli(['sim', '--tcp', `127.0.0.1:${simPort}`, '--rtu', pty.a, '--seed', '7']);
    await sim.waitForLine((l) => l.includes('"listening"'));
    sim.send('pin pv 3000');
    sim.send('pin load 1200');
  };
  const readings = async () => {
    const r = await runCli(['readings', '--json', '--config', config]);
    return r.stdout.trim() ? (JSON.parse(r.stdout) as Snapshot) : undefined;
  };
  const devices = async () => {
    const r = await runCli(['devices', '--json', '--config', config]);
    return JSON.parse(r.stdout) as { source: string; devices: DeviceHealth[] };
  };
  const status = async (port: number) =>
    (await (await fetch(`http://127.0.0.1:${port}/api/status`)).json()) as { cycle: { cycles: number } };

  let webPort: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'powerdeal-e2e-'));
    pty = await startPtyPair();
    simPort = await freePort();
    webPort = await freePort();
    await startSim();
    config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      [
        'home: { id: home-e2e, zone: test }',
        'cycleMs: 1000',
        'devices:',
        '  - id: inverter',
        '    profile: sunspec-inverter',
        `    modbus: { tcp: "127.0.0.1:${simPort}", unitId: 1, timeoutMs: 300 }`,
        '  - id: grid-meter',
        '    profile: sdm630',
        `    modbus: { rtu: "${pty.b}", baudRate: 9600, unitId: 2, timeoutMs: 300 }`,
        `store: { path: "${join(dir, 'powerdeal.db')}" }`,
        // Its own control socket: a service on this machine's default one must not answer the verbs.
        `control: { socket: "${join(dir, 'control.sock')}" }`,
        `web: { listen: "127.0.0.1:${webPort}" }`,
      ].join('\n'),
    );
    run = spawnCli(['run', '--config', config]);
  });

  afterAll(async () => {
    await run?.stop();
    await sim?.stop('SIGKILL');
    await pty?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads correct canonical values, signs and units every second', async () => {
    const snap = await waitFor(
      async () => {
        const s = await readings();
        return s?.quantities.gridPowerW?.quality === 'good' && s.quantities.pvPowerW?.value === 3000
          ? s
          : undefined;
      },
      30_000,
      'good readings from both devices',
      500,
    );
    sim.send('status');
    const t = JSON.parse(await sim.waitForLine((l) => l.includes('"event":"status"'))) as Record<
      string,
      number
    >;
    const q = snap.quantities;
    expect(q.pvPowerW).toMatchObject({ value: 3000, quality: 'good', source: 'inverter' });
    // + import / − export: 1200 W of load with 3000 W of PV exports 1800 W.
    expect(q.gridPowerW).toMatchObject({ value: -1800, quality: 'good', source: 'grid-meter' });
    expect(q.loadPowerW).toMatchObject({ value: 1200, quality: 'good', source: 'derived' });
    // Voltage is noisy second to second and the truth is read a moment later: same value within the
    // noise, and inside the EN 50160 band.
    expect(Math.abs((q.gridVoltageV?.value ?? 0) - (t.gridVoltageV as number))).toBeLessThan(3);
    expect(q.gridVoltageV?.value).toBeGreaterThan(207);
    expect(q.gridVoltageV?.value).toBeLessThan(253);
    expect(t.pvPowerW).toBe(3000);
    expect(q.gridFrequencyHz?.value).toBeGreaterThan(49.5);
    expect(q.gridFrequencyHz?.value).toBeLessThan(50.5);
    // Counters arrive in Wh (the meter reports kWh).
    expect(q.gridImportWh?.value).toBeGreaterThan(1000);
    expect(Math.abs((q.gridImportWh?.value ?? 0) - (t.gridImportWh as number))).toBeLessThan(50);
    expect(q.pvEnergyWh?.value).toBeGreaterThan(0);

    // One cycle a second: four more take between three seconds (the first just due) and five.
    const t0 = performance.now();
    const before = (await status(webPort)).cycle.cycles;
    await waitFor(async () => (await status(webPort)).cycle.cycles >= before + 4, 10_000, 'four cycles', 100);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(3000);
    expect(took).toBeLessThanOrEqual(5000);
  });

  it('faults both devices within 3 cycles of the simulator dying, keeps running, and recovers', async () => {
    const cycleAtKill = (await status(webPort)).cycle.cycles;
    await sim.stop('SIGKILL');
    // Poll the API directly (fast) to see when the devices fault; the CLI is checked once after.
    await waitFor(
      async () => {
        const d = (await (await fetch(`http://127.0.0.1:${webPort}/api/devices`)).json()) as DeviceHealth[];
        return d.every((x) => x.state === 'fault');
      },
      15_000,
      'both devices fault',
      100,
    );
    const cycleAtFault = (await status(webPort)).cycle.cycles;
    const faulted = await devices();
    expect(faulted.devices.map((d) => d.state)).toEqual(['fault', 'fault']);
    expect(faulted.source).toBe('service');
    // Three failed reads open a device's breaker; allow one cycle of polling slack.
    expect(cycleAtFault - cycleAtKill).toBeLessThanOrEqual(4);
    const stale = await readings();
    expect(stale?.quantities.pvPowerW?.quality).not.toBe('good');
    expect(stale?.quantities.loadPowerW?.quality).not.toBe('good');
    expect(run.child.exitCode).toBeNull();

    await startSim();
    const recoveredAt = Date.now();
    await waitFor(
      async () => {
        const d = await devices();
        return d.devices.every((x) => x.state === 'ok');
      },
      45_000,
      'both devices back to ok',
      500,
    );
    // The breaker's half-open wait is capped at 30 s.
    expect(Date.now() - recoveredAt).toBeLessThan(40_000);
    const back = await readings();
    expect(back?.quantities.gridPowerW).toMatchObject({ value: -1800, quality: 'good' });
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await run.stop('SIGTERM')).toBe(0);
  });
});

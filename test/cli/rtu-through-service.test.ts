import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client/client.js';
import type { DeviceHealth } from '../../src/devices/device.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { type CliProcess, runCli, spawnCli } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { type SocatLink, startPtyPair } from '../helpers/socat.js';
import { scannedUnits } from './home.js';

/**
 * One RS485 line (a real serial path: a socat pty pair) that the service reads every cycle: the
 * technician's reads and scans on that same line go through the service's bus worker and neither side
 * sees a timeout or the other's registers.
 */
describe('modbus verbs on the serial line the service owns', () => {
  let dir: string;
  let pty: SocatLink;
  let sim: Simulator;
  let service: CliProcess;
  let configFile: string;
  let socket: string;

  const status = async () => {
    const client = await ControlClient.connect(socket);
    try {
      return (await client!.call<{ status: { devices: DeviceHealth[] } }>('status')).status.devices;
    } finally {
      client?.close();
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pd-cli-rtu-'));
    pty = await startPtyPair();
    sim = await startSimulator({ rtu: { path: pty.b!, baudRate: 19200 } });
    socket = join(dir, 'control.sock');
    configFile = join(dir, 'config.yaml');
    writeFileSync(
      configFile,
      `home: { id: home-42, zone: lyon-7 }
cycleMs: 500
devices:
  - id: inverter
    profile: sunspec-inverter
    modbus: { rtu: ${pty.a}, baudRate: 19200, unitId: 1, timeoutMs: 500 }
  - id: grid-meter
    profile: sdm630
    modbus: { rtu: ${pty.a}, baudRate: 19200, unitId: 2, timeoutMs: 500 }
store: { path: ${join(dir, 'powerdeal.db')} }
web: { listen: "127.0.0.1:${await freePort()}" }
control: { socket: ${socket} }
`,
    );
    service = spawnCli(['run', '--config', configFile], { env: { POWERDEAL_LOG_LEVEL: 'warn' } });
    await waitFor(
      async () => (await status().catch(() => [])).filter((d) => d.state === 'ok').length === 2,
      30_000,
      'both devices ok',
      200,
    );
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await sim?.stop();
    await pty?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads and a scan share the line with the cycle without a single failure', async () => {
    const before = await status();
    const read = (unit: string, address: string, format: string) =>
      runCli([
        '--config',
        configFile,
        'modbus',
        'read',
        '--rtu',
        pty.a,
        '--baud',
        '19200',
        '--unit',
        unit,
        '--input',
        '--address',
        address,
        '--count',
        '2',
        '--format',
        format,
        '--json',
      ]);
    // Three technicians' reads at once, while the service reads both units every 500 ms.
    const [voltage, frequency, again] = await Promise.all([
      read('2', '0', 'f32'),
      read('2', '70', 'f32'),
      read('2', '0', 'f32'),
    ]);
    for (const r of [voltage, frequency, again]) expect(r.code, r.stderr).toBe(0);
    const value = (r: { stdout: string }) =>
      (JSON.parse(r.stdout) as { values: { value: number }[] }).values[0]!.value;
    expect(value(voltage)).toBeGreaterThan(200);
    expect(value(voltage)).toBeLessThan(260);
    expect(value(frequency)).toBeGreaterThan(49);
    expect(value(frequency)).toBeLessThan(51);
    expect(value(again)).toBeGreaterThan(200);
    const scan = await runCli([
      '--config',
      configFile,
      'modbus',
      'scan',
      '--rtu',
      pty.a,
      '--baud',
      '19200',
      '--to',
      '4',
      '--json',
    ]);
    expect(scan.code).toBe(0);
    expect(scannedUnits(scan)).toEqual([1, 2]);
    const after = await status();
    for (const id of ['inverter', 'grid-meter']) {
      const b = before.find((d) => d.id === id)!;
      const a = after.find((d) => d.id === id)!;
      expect(a.state).toBe('ok');
      expect(a.failures).toBe(b.failures);
      expect(a.reads).toBeGreaterThan(b.reads);
    }
  });
});

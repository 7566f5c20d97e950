import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../peers/pymodbus_server.py', import.meta.url));

interface MeterValues {
  gridVoltageV: number;
  gridPowerW: number;
  gridFrequencyHz: number;
  gridImportWh: number;
  gridExportWh: number;
  serial: number;
}

/** What the pymodbus peer serves (printed by the peer itself on its READY line). */
export interface PeerExpected {
  base: number;
  inverter: {
    pvPowerW: number;
    pvEnergyWh: number;
    manufacturer: string;
    model: string;
    version: string;
    serial: string;
    phaseVoltageV: number;
    frequencyHz: number;
    wMaxLimPct: number;
  };
  meter: MeterValues;
  meter2: MeterValues;
}

export interface PymodbusPeer {
  expected: PeerExpected;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the pymodbus peer (Debian's python3-pymodbus, hence /usr/bin/python3) and waits until it serves. */
export async function startPymodbus(
  where: { tcp: number } | { serial: string },
  base: 0 | 40000 | 50000 = 40000,
): Promise<PymodbusPeer> {
  const args = 'tcp' in where ? ['--tcp', String(where.tcp)] : ['--serial', where.serial];
  const child = spawn('/usr/bin/python3', [SCRIPT, ...args, '--base', String(base)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    const expected = await new Promise<PeerExpected>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`pymodbus peer did not start: ${stderr}`)), 20_000);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const line = /^READY (.*)$/m.exec(out)?.[1];
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as PeerExpected);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`pymodbus peer exited (${code}): ${stderr}`));
      });
    });
    return { expected, child, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

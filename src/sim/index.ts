import { type FaultableUnit, SimBus } from './bus.js';
import type { SimFault } from './faults.js';
import { type Listener, listen } from './listen.js';
import { Plant, type SimTruth } from './plant.js';
import { serveRtu } from './rtu-line.js';
import { Sdm630Meter } from './sdm630.js';
import { closeSerialLine, openSerialLine } from './serial-line.js';
import { SunSpecInverter } from './sunspec-inverter.js';
import { serveMbap } from './tcp-server.js';

export { isSimFault, SIM_FAULTS, type SimFault } from './faults.js';
export type { SimTruth } from './plant.js';

/**
 * A simulated home on a Modbus bus: a SunSpec PV inverter and an Eastron SDM630 grid meter, driven by a
 * seeded day of sun and household load, served over Modbus TCP, RTU on a serial line, and raw RTU over
 * TCP (as RS485 gateways pass it), all at once if asked. Both units share each transport.
 */
export interface SimulatorOptions {
  /** Modbus TCP (MBAP); port 0 = pick a free one. Host defaults to 127.0.0.1. */
  tcp?: { host?: string; port: number };
  /** Modbus RTU on a serial device, e.g. one end of a socat pty pair. */
  rtu?: { path: string; baudRate?: number; parity?: 'none' | 'even' | 'odd' };
  /** Raw RTU frames over TCP, as a transparent RS485-to-TCP gateway forwards them; port 0 = free. */
  rtuOverTcp?: { host?: string; port: number };
  /** SunSpec inverter (models 1, 103, 123); default 1. */
  inverterUnit?: number;
  /** Eastron SDM630; default 2. */
  meterUnit?: number;
  /** Where the `SunS` marker sits; default 40000. */
  sunspecBase?: 0 | 40000 | 50000;
  /** Seed of the day (sun, clouds, appliances); default 1. */
  seed?: number;
  /** Wall clock in epoch ms; default Date.now. */
  clock?: () => number;
  /** Simulated seconds per clock second; default 1. */
  timeScale?: number;
  /** Size of the PV array, kWp; default 5. */
  pvKwp?: number;
  /** Local time offset from UTC in minutes, which places sunrise and sunset; default the system's. */
  utcOffsetMin?: number;
  /** Problems the simulator survives (a serial line that went away), for the caller to report. */
  onError?: (where: string, err: Error) => void;
}

export interface Simulator {
  readonly tcpPort?: number;
  readonly rtuOverTcpPort?: number;
  /** Current true values: what a correct reader must see. */
  truth(): SimTruth;
  /** Freezes PV (before any export limit) or house load at a value, for exact assertions. */
  pin(values: Partial<Pick<SimTruth, 'pvPowerW' | 'loadPowerW'>>): void;
  /** Lets pinned values follow the simulated day again. */
  unpin(): void;
  setFault(unit: number | 'all', fault: SimFault): void;
  faults(): Record<number, SimFault>;
  /** Last WMaxLimPct written to model 123, in percent; null when WMaxLim_Ena is off (or reverted). */
  exportLimitPct(): number | null;
  /** Simulated time, epoch ms. */
  simTimeMs(): number;
  stop(): Promise<void>;
}

const SUNSPEC_BASES = [0, 40000, 50000] as const;

function checkUnit(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 247)
    throw new Error(`${name} must be 1..247, got ${value}`);
  return value;
}

export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const inverterUnit = checkUnit('inverterUnit', opts.inverterUnit ?? 1);
  const meterUnit = checkUnit('meterUnit', opts.meterUnit ?? 2);
  if (inverterUnit === meterUnit)
    throw new Error('inverterUnit and meterUnit must differ (they share a bus)');
  const sunspecBase = opts.sunspecBase ?? 40000;
  if (!SUNSPEC_BASES.includes(sunspecBase)) throw new Error('sunspecBase must be 0, 40000 or 50000');
  const seed = opts.seed ?? 1;
  const clock = opts.clock ?? Date.now;
  const plant = new Plant({
    seed,
    clock,
    pvKwp: opts.pvKwp ?? 5,
    timeScale: opts.timeScale ?? 1,
    utcOffsetMin: opts.utcOffsetMin ?? -new Date(clock()).getTimezoneOffset(),
  });
  const serial = `PDSIM-${(seed >>> 0).toString(16).padStart(8, '0')}`;
  const units = new Map<number, FaultableUnit>([
    [inverterUnit, new SunSpecInverter(plant, sunspecBase, inverterUnit, serial)],
    [meterUnit, new Sdm630Meter(plant)],
  ]);
  const bus = new SimBus(units, seed);
  const onError = opts.onError ?? (() => {});

  const closers: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  let tcp: Listener | undefined;
  let rtuOverTcp: Listener | undefined;
  try {
    if (opts.tcp) {
      tcp = await listen(opts.tcp.host ?? '127.0.0.1', opts.tcp.port, (socket) => serveMbap(socket, bus));
      closers.push(tcp.close);
    }
    if (opts.rtuOverTcp) {
      rtuOverTcp = await listen(opts.rtuOverTcp.host ?? '127.0.0.1', opts.rtuOverTcp.port, (socket) => {
        const release = serveRtu(socket, bus);
        socket.on('close', release);
      });
      closers.push(rtuOverTcp.close);
    }
    if (opts.rtu) {
      const port = await openSerialLine(opts.rtu.path, opts.rtu.baudRate ?? 9600, opts.rtu.parity ?? 'none');
      port.on('error', (err: Error) => onError('rtu', err));
      const release = serveRtu(port, bus);
      closers.push(async () => {
        release();
        await closeSerialLine(port);
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    tcpPort: tcp?.port,
    rtuOverTcpPort: rtuOverTcp?.port,
    truth: () => plant.truth(),
    pin: (values) => plant.pin(values),
    unpin: () => plant.unpin(),
    setFault: (unit, fault) => bus.setFault(unit, fault),
    faults: () => Object.fromEntries(bus.unitIds().map((id) => [id, bus.fault(id)])),
    exportLimitPct: () => {
      const c = plant.getControls();
      return c.limitEnabled ? c.limitPct : null;
    },
    simTimeMs: () => plant.simTimeMs(),
    stop,
  };
}

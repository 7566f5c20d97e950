import { createInterface } from 'node:readline';
import { type Command, Option } from 'commander';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { errorText } from '../../core/errors.js';
import { runControlLine, type SimEvent } from '../../sim/control.js';
import {
  isSimFault,
  SIM_FAULTS,
  type SimFault,
  type SimulatorOptions,
  startSimulator,
} from '../../sim/index.js';

interface SimFlags {
  tcp?: string;
  rtu?: string;
  rtuOverTcp?: string;
  baud: string;
  parity: 'none' | 'even' | 'odd';
  seed: string;
  timeScale: string;
  pvKwp: string;
  inverterUnit: string;
  meterUnit: string;
  sunspecBase: string;
  utcOffset?: string;
  pinPv?: string;
  pinLoad?: string;
  fault: string[];
}

const emit = (e: SimEvent) => process.stdout.write(`${JSON.stringify(e)}\n`);

function usage(message: string): never {
  throw new CliError(message, EXIT.usage);
}

function number(flag: string, value: string, min: number, max: number, integer: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    usage(
      `--${flag} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got "${value}"`,
    );
  }
  return n;
}

/** `PORT` or `HOST:PORT`; the host defaults to 127.0.0.1. */
function endpoint(flag: string, value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  const host = at < 0 ? '127.0.0.1' : value.slice(0, at);
  if (host === '') usage(`--${flag} must be PORT or HOST:PORT, got "${value}"`);
  return { host, port: number(flag, at < 0 ? value : value.slice(at + 1), 0, 65535, true) };
}

function faultFlag(value: string): { unit: number | 'all'; fault: SimFault } {
  const [unitText = '', fault = ''] = value.split(':');
  const unit = unitText === 'all' ? 'all' : Number(unitText);
  if ((unit !== 'all' && !Number.isInteger(unit)) || !isSimFault(fault)) {
    usage(`--fault must be UNIT:MODE or all:MODE with MODE one of ${SIM_FAULTS.join(', ')}, got "${value}"`);
  }
  return { unit, fault };
}

function optionsFromFlags(flags: SimFlags): SimulatorOptions {
  if (flags.tcp === undefined && flags.rtu === undefined && flags.rtuOverTcp === undefined) {
    usage('give at least one of --tcp [HOST:]PORT, --rtu PATH or --rtu-over-tcp [HOST:]PORT');
  }
  return {
    tcp: flags.tcp === undefined ? undefined : endpoint('tcp', flags.tcp),
    rtuOverTcp: flags.rtuOverTcp === undefined ? undefined : endpoint('rtu-over-tcp', flags.rtuOverTcp),
    rtu:
      flags.rtu === undefined
        ? undefined
        : { path: flags.rtu, baudRate: number('baud', flags.baud, 300, 921_600, true), parity: flags.parity },
    seed: number('seed', flags.seed, 0, 0xffff_ffff, true),
    timeScale: number('time-scale', flags.timeScale, 0.001, 100_000, false),
    pvKwp: number('pv-kwp', flags.pvKwp, 0.1, 30, false),
    inverterUnit: number('inverter-unit', flags.inverterUnit, 1, 247, true),
    meterUnit: number('meter-unit', flags.meterUnit, 1, 247, true),
    sunspecBase: number('sunspec-base', flags.sunspecBase, 0, 50000, true) as 0 | 40000 | 50000,
    utcOffsetMin:
      flags.utcOffset === undefined ? undefined : number('utc-offset', flags.utcOffset, -720, 840, true),
    onError: (where, err) => emit({ event: 'error', where, message: err.message }),
  };
}

async function runSim(flags: SimFlags): Promise<void> {
  const opts = optionsFromFlags(flags);
  const faults = flags.fault.map(faultFlag);
  // The same as `pin pv W` / `pin load W` on stdin, from the first request on.
  const pins = {
    ...(flags.pinPv === undefined ? {} : { pvPowerW: number('pin-pv', flags.pinPv, 0, 1_000_000, false) }),
    ...(flags.pinLoad === undefined
      ? {}
      : { loadPowerW: number('pin-load', flags.pinLoad, 0, 1_000_000, false) }),
  };
  if (opts.inverterUnit === opts.meterUnit) usage('--inverter-unit and --meter-unit must differ');
  const sim = await startSimulator(opts).catch((err: unknown) => {
    throw new CliError(`cannot start the simulator: ${errorText(err)}`);
  });
  try {
    for (const f of faults) sim.setFault(f.unit, f.fault);
  } catch (err) {
    await sim.stop();
    usage(`--fault: ${errorText(err)}`);
  }
  sim.pin(pins);

  emit({
    event: 'listening',
    pid: process.pid,
    tcp: opts.tcp === undefined ? undefined : { host: opts.tcp.host, port: sim.tcpPort },
    rtu: opts.rtu,
    rtuOverTcp:
      opts.rtuOverTcp === undefined ? undefined : { host: opts.rtuOverTcp.host, port: sim.rtuOverTcpPort },
    inverterUnit: opts.inverterUnit,
    meterUnit: opts.meterUnit,
    sunspecBase: opts.sunspecBase,
    seed: opts.seed,
    timeScale: opts.timeScale,
    pvKwp: opts.pvKwp,
    pinned: pins,
    faults: sim.faults(),
  });

  await new Promise<void>((resolve) => {
    const lines = createInterface({ input: process.stdin, terminal: false });
    let stopping = false;
    const stop = async (reason: string) => {
      if (stopping) return;
      stopping = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      lines.close();
      // Closing the reader does not release stdin, and an open pipe would keep the process alive.
      process.stdin.destroy();
      await sim.stop();
      emit({ event: 'stopped', reason });
      resolve();
    };
    const onSignal = (signal: NodeJS.Signals) => void stop(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // End of input (stdin from /dev/null, a closed pipe) is not a reason to stop serving.
    lines.on('line', (line) => {
      const verb = line.trim();
      if (verb === 'quit' || verb === 'exit') return void stop('quit');
      const reply = runControlLine(sim, line);
      if (reply) emit(reply);
    });
  });
}

export function register(program: Command): void {
  program
    .command('sim')
    .description(
      'serve a simulated home over Modbus: a SunSpec PV inverter and an Eastron SDM630 meter on one bus; ' +
        'control it with stdin lines (fault 2 silence | fault all none | pin pv 3000 | pin load 500 | unpin | status | quit)',
    )
    .addOption(new Option('--tcp <[host:]port>', 'serve Modbus TCP (port 0 = any free port)'))
    .addOption(new Option('--rtu <path>', 'serve Modbus RTU on a serial device or pty'))
    .addOption(
      new Option('--rtu-over-tcp <[host:]port>', 'serve raw RTU frames over TCP, like an RS485 gateway'),
    )
    .addOption(new Option('--baud <n>', 'serial baud rate').default('9600'))
    .addOption(new Option('--parity <p>', 'serial parity').choices(['none', 'even', 'odd']).default('none'))
    .addOption(new Option('--seed <n>', 'seed of the simulated day').default('1'))
    .addOption(new Option('--time-scale <n>', 'simulated seconds per real second').default('1'))
    .addOption(new Option('--pv-kwp <n>', 'PV array size in kWp').default('5'))
    .addOption(new Option('--inverter-unit <n>', 'unit id of the SunSpec inverter').default('1'))
    .addOption(new Option('--meter-unit <n>', 'unit id of the SDM630 meter').default('2'))
    .addOption(
      new Option('--sunspec-base <n>', 'register of the SunS marker')
        .choices(['0', '40000', '50000'])
        .default('40000'),
    )
    .addOption(new Option('--utc-offset <minutes>', 'local time offset from UTC (default: the system zone)'))
    .addOption(new Option('--pin-pv <W>', 'hold PV power at this value (like "pin pv W" on stdin)'))
    .addOption(new Option('--pin-load <W>', 'hold the house load at this value (like "pin load W" on stdin)'))
    .addOption(
      new Option('--fault <unit:mode>', `start a unit in a fault (repeatable): ${SIM_FAULTS.join('|')}`)
        .argParser((value: string, previous: string[]) => [...previous, value])
        .default([]),
    )
    .addOption(new Option('--json', 'output is JSON lines in any case'))
    .action(async (flags: SimFlags) => runSim(flags));
}

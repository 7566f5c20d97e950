import { type Command, Option } from 'commander';
import type { ModbusConfig } from '../config/schema.js';
import { CliError, EXIT } from '../control/client/exit-codes.js';

/** Adds the shared hardware transport flags (docs/cli.md) to a verb. */
export function addTransportOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--tcp <host:port>', 'Modbus TCP device or gateway'))
    .addOption(new Option('--rtu <path>', 'Modbus RTU serial port, e.g. /dev/ttyUSB0'))
    .addOption(new Option('--rtu-over-tcp <host:port>', 'RS485-to-TCP gateway passing raw RTU frames'))
    .addOption(new Option('--baud <n>', 'serial baud rate').default('9600'))
    .addOption(new Option('--parity <p>', 'serial parity').choices(['none', 'even', 'odd']).default('none'))
    .addOption(new Option('--unit <n>', 'Modbus unit id').default('1'))
    .addOption(new Option('--timeout <ms>', 'request timeout in ms').default('1000'));
}

export interface TransportFlags {
  tcp?: string;
  rtu?: string;
  rtuOverTcp?: string;
  baud: string;
  parity: 'none' | 'even' | 'odd';
  unit: string;
  timeout: string;
}

/** Turns the flags into the same shape a config file gives, or a usage error naming the fix. */
export function transportFromFlags(flags: TransportFlags): ModbusConfig {
  const given = [flags.tcp, flags.rtu, flags.rtuOverTcp].filter((x) => x !== undefined);
  if (given.length !== 1) {
    throw new CliError(
      'give exactly one of --tcp HOST:PORT, --rtu PATH or --rtu-over-tcp HOST:PORT',
      EXIT.usage,
    );
  }
  const int = (name: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new CliError(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`, EXIT.usage);
    }
    return n;
  };
  for (const [name, v] of [
    ['tcp', flags.tcp],
    ['rtu-over-tcp', flags.rtuOverTcp],
  ] as const) {
    if (v !== undefined && !/^[^\s:]+:\d{1,5}$/.test(v)) {
      throw new CliError(`--${name} must be HOST:PORT, e.g. 192.168.1.50:502, got "${v}"`, EXIT.usage);
    }
  }
  const baudRate = int('baud', flags.baud, 300, 921_600);
  return {
    tcp: flags.tcp,
    rtu: flags.rtu,
    rtuOverTcp: flags.rtuOverTcp,
    unitId: int('unit', flags.unit, 0, 247),
    timeoutMs: int('timeout', flags.timeout, 50, 60_000),
    baudRate: baudRate as ModbusConfig['baudRate'],
    parity: flags.parity,
    dataBits: 8,
    stopBits: 1,
  };
}

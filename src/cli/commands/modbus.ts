import { type Command, Option } from 'commander';
import type { ModbusConfig } from '../../config/schema.js';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { callService, controlSocketFor, serviceOrDirect } from '../../control/client/service-call.js';
import { BusWorker } from '../../devices/modbus/bus-worker.js';
import {
  REGISTER_TYPES,
  RegisterValueError,
  registerCount,
  type WordOrder,
} from '../../devices/modbus/codec.js';
import { ModbusError } from '../../devices/modbus/errors.js';
import {
  type DecodedValue,
  decodeTable,
  type ReadFormat,
  type ReadTable,
  readTable,
  type ScanHit,
  scanUnits,
} from '../../devices/modbus/tools.js';
import { busAddress } from '../../devices/modbus/transport.js';
import { dim, noteVia, printJson, table } from '../output.js';
import { addTransportOptions, type TransportFlags, transportFromFlags } from '../transport-flags.js';

interface ReadFlags extends TransportFlags {
  address: string;
  count: string;
  input?: boolean;
  holding?: boolean;
  coils?: boolean;
  discrete?: boolean;
  format: ReadFormat;
  wordOrder: WordOrder;
  json?: boolean;
}

interface ScanFlags extends TransportFlags {
  from: string;
  to: string;
  address: string;
  input?: boolean;
  json?: boolean;
}

/** Time the running service may add to a request (it queues behind the cycle's reads on that bus). */
const SERVICE_MARGIN_MS = 10_000;

/** A scan waits this long per unit unless --timeout is given: silent ids are the common case. */
const SCAN_TIMEOUT_MS = 200;

/** Decimal or 0x-hex, in a range, or a usage error naming the flag. */
function intFlag(name: string, value: string, min: number, max: number): number {
  const n = /^0x[0-9a-f]+$/i.test(value) ? Number.parseInt(value, 16) : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliError(
      `--${name} must be a whole number from ${min} to ${max} (or 0x hex), got "${value}"`,
      EXIT.usage,
    );
  }
  return n;
}

/** The shortest decimal that reads back as the same float32: 232.4, not 232.39999389648438. */
function shortestFloat32(value: number): string {
  for (let digits = 1; digits < 9; digits++) {
    const text = String(Number(value.toPrecision(digits)));
    if (Math.fround(Number(text)) === value) return text;
  }
  return String(value);
}

/** Runs `fn` on a one-off worker for the flags' bus; Modbus failures become exit code 1. */
async function withBus<T>(cfg: ModbusConfig, fn: (bus: BusWorker) => Promise<T>): Promise<T> {
  const bus = new BusWorker(busAddress(cfg));
  try {
    return await fn(bus);
  } catch (err) {
    if (err instanceof ModbusError || err instanceof RegisterValueError)
      throw new CliError(err.message, EXIT.problem);
    throw err;
  } finally {
    await bus.close();
  }
}

function pickTable(flags: {
  input?: boolean;
  holding?: boolean;
  coils?: boolean;
  discrete?: boolean;
}): ReadTable {
  const chosen = (['input', 'holding', 'coils', 'discrete'] as const).filter((t) => flags[t] === true);
  if (chosen.length > 1) {
    throw new CliError(
      `give one of --input, --holding, --coils or --discrete, not ${chosen.map((t) => `--${t}`).join(' and ')}`,
      EXIT.usage,
    );
  }
  return chosen[0] ?? 'holding';
}

/** `powerdeal modbus read|scan`: raw register access for commissioning and fault finding. */
export function register(program: Command): void {
  const modbus = program.command('modbus').description('raw Modbus access: read registers, find unit ids');

  addTransportOptions(
    modbus
      .command('read')
      .description('read registers (or bits) from one unit and decode them')
      .requiredOption('--address <n>', 'first register, 0-based (decimal or 0x hex), e.g. 52 or 0x34')
      .option('--count <n>', 'registers (or bits) to read', '1')
      .option('--input', 'input registers (function 4)')
      .option('--holding', 'holding registers (function 3, the default)')
      .option('--coils', 'coils (function 1)')
      .option('--discrete', 'discrete inputs (function 2)')
      .addOption(
        new Option('--format <type>', 'how to decode registers')
          .choices([...REGISTER_TYPES, 'hex'])
          .default('u16'),
      )
      .addOption(
        new Option('--word-order <order>', 'order of the two words of 32-bit values')
          .choices(['big', 'little'])
          .default('big'),
      )
      .option('--json', 'machine-readable output'),
  ).action(async (flags: ReadFlags, cmd: Command) => {
    const cfg = transportFromFlags(flags);
    const which = pickTable(flags);
    const bits = which === 'coils' || which === 'discrete';
    const address = intFlag('address', flags.address, 0, 0xffff);
    const count = intFlag('count', flags.count, 1, bits ? 2000 : 125);
    if (address + count > 0x10000) throw new CliError('--address + --count runs past 65535', EXIT.usage);
    const size = flags.format === 'hex' || flags.format === 'string' ? 1 : registerCount(flags.format);
    if (!bits && count % size !== 0) {
      throw new CliError(
        `--format ${flags.format} takes ${size} registers per value: give a --count that is a multiple of ${size}`,
        EXIT.usage,
      );
    }
    const { value: raw, via } = await serviceOrDirect(
      controlSocketFor(cmd),
      (service) =>
        callService<number[] | boolean[]>(
          service,
          'modbus.read',
          { transport: cfg, table: which, address, count },
          SERVICE_MARGIN_MS + cfg.timeoutMs,
        ),
      () => withBus(cfg, (bus) => readTable(bus, cfg.unitId, which, address, count, cfg.timeoutMs)),
    );
    let values: DecodedValue[];
    try {
      values = bits
        ? (raw as boolean[]).map((value, i) => ({ address: address + i, registers: [], value }))
        : decodeTable(raw as number[], address, flags.format, flags.wordOrder);
    } catch (err) {
      // A NaN float is a read error, not a value.
      if (err instanceof RegisterValueError) throw new CliError(err.message, EXIT.problem);
      throw err;
    }
    if (flags.json) {
      printJson({
        transport: busAddress(cfg).description,
        unit: cfg.unitId,
        table: which,
        address,
        count,
        ...(bits ? {} : { format: flags.format, wordOrder: flags.wordOrder }),
        values,
      });
      return;
    }
    const rows = values.map((v) => [
      `${v.address}`,
      `0x${v.address.toString(16).padStart(4, '0')}`,
      v.registers.join(' '),
      flags.format === 'string'
        ? JSON.stringify(v.value)
        : flags.format === 'f32' && typeof v.value === 'number'
          ? shortestFloat32(v.value)
          : String(v.value),
    ]);
    process.stdout.write(`${table(['ADDRESS', 'HEX', 'REGISTERS', 'VALUE'], rows)}\n`);
    noteVia(via);
  });

  addTransportOptions(
    modbus
      .command('scan')
      .description('find the unit ids that answer on a bus')
      .option('--from <n>', 'first unit id', '1')
      .option('--to <n>', 'last unit id', '247')
      .option('--address <n>', 'register to probe (any answer, even an exception, counts)', '0')
      .option('--input', 'probe an input register instead of a holding register')
      .option('--json', 'machine-readable output'),
  ).action(async (flags: ScanFlags, cmd: Command) => {
    const from = intFlag('from', flags.from, 1, 247);
    const to = intFlag('to', flags.to, from, 247);
    const probe = {
      table: flags.input ? ('input' as const) : ('holding' as const),
      address: intFlag('address', flags.address, 0, 0xffff),
    };
    const cfg = transportFromFlags(flags);
    const timeoutMs = cmd.getOptionValueSource('timeout') === 'default' ? SCAN_TIMEOUT_MS : cfg.timeoutMs;
    const progress = !flags.json && process.stderr.isTTY;
    const { value: found, via } = await serviceOrDirect(
      controlSocketFor(cmd),
      (service) =>
        callService<ScanHit[]>(
          service,
          'modbus.scan',
          { transport: cfg, from, to, probe, timeoutMs },
          SERVICE_MARGIN_MS + (to - from + 1) * (timeoutMs + 50),
        ),
      () =>
        withBus(cfg, (bus) =>
          scanUnits(
            bus,
            from,
            to,
            probe,
            timeoutMs,
            progress ? (u) => process.stderr.write(`\rprobing unit ${u}…`) : undefined,
          ),
        ),
    );
    if (progress && via === 'direct') process.stderr.write('\r\x1b[K');
    if (flags.json) {
      printJson({ transport: busAddress(cfg).description, from, to, timeoutMs, units: found });
    } else if (found.length === 0) {
      process.stdout.write(`no unit answered from ${from} to ${to} ${dim(`(${timeoutMs} ms each)`)}\n`);
    } else {
      process.stdout.write(
        `${table(
          ['UNIT', 'ANSWER'],
          found.map((h) => [String(h.unit), h.answer]),
        )}\n`,
      );
    }
    if (!flags.json) noteVia(via);
    process.exitCode = found.length === 0 ? EXIT.problem : EXIT.ok;
  });
}

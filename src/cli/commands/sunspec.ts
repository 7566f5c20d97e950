import type { Command } from 'commander';
import type { ControlClient } from '../../control/client/client.js';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { callService, controlSocketFor, serviceOrDirect } from '../../control/client/service-call.js';
import { BusWorker } from '../../devices/modbus/bus-worker.js';
import { ModbusError } from '../../devices/modbus/errors.js';
import { dumpSunspec, type SunspecDump } from '../../devices/modbus/tools.js';
import { busAddress } from '../../devices/modbus/transport.js';
import { bold, dim, noteVia, printJson, table } from '../output.js';
import { addTransportOptions, type TransportFlags, transportFromFlags } from '../transport-flags.js';

interface SunspecFlags extends TransportFlags {
  json?: boolean;
}

function render(dump: SunspecDump, where: string): string {
  const lines = [`SunSpec device on ${where}, marker at ${dump.base}`];
  for (const m of dump.models) {
    lines.push('', bold(`model ${m.id} ${m.name}`) + dim(`  at ${m.address}, ${m.length} registers`));
    if (m.points) {
      const rows = m.points.map((p) => [
        p.name,
        p.error !== undefined
          ? `error: ${p.error}`
          : p.value === null
            ? dim('n/a')
            : typeof p.value === 'string'
              ? JSON.stringify(p.value)
              : String(p.value),
        p.unit ?? '',
      ]);
      lines.push(table(['POINT', 'VALUE', 'UNIT'], rows));
    } else {
      const regs = m.registers ?? [];
      for (let i = 0; i < regs.length; i += 8)
        lines.push(`  +${String(i + 2).padEnd(4)} ${regs.slice(i, i + 8).join(' ')}`);
    }
  }
  return lines.join('\n');
}

/** `powerdeal sunspec`: find the SunSpec map of a unit and show every model, decoded and scaled. */
export function register(program: Command): void {
  addTransportOptions(
    program
      .command('sunspec')
      .description('discover a SunSpec device (marker at 0, 40000 or 50000) and dump its models')
      .option('--json', 'machine-readable output'),
  ).action(async (flags: SunspecFlags, cmd: Command) => {
    const cfg = transportFromFlags(flags);
    const address = busAddress(cfg);
    const where = `unit ${cfg.unitId} on ${address.description}`;
    const direct = async (): Promise<SunspecDump> => {
      const bus = new BusWorker(address);
      try {
        return await dumpSunspec(bus, cfg.unitId, cfg.timeoutMs);
      } catch (err) {
        if (err instanceof ModbusError) throw new CliError(`${where}: ${err.message}`, EXIT.problem);
        throw err;
      } finally {
        await bus.close();
      }
    };
    const viaService = async (service: ControlClient): Promise<SunspecDump> => {
      try {
        // Discovery reads the marker at up to three bases and then every model: allow for each.
        return await callService<SunspecDump>(
          service,
          'sunspec',
          { transport: cfg },
          30_000 + 20 * cfg.timeoutMs,
        );
      } catch (err) {
        if (err instanceof CliError && err.exitCode === EXIT.problem)
          throw new CliError(`${where}: ${err.message}`);
        throw err;
      }
    };
    const { value: dump, via } = await serviceOrDirect(controlSocketFor(cmd), viaService, direct);
    if (flags.json) printJson({ transport: address.description, unit: cfg.unitId, ...dump });
    else {
      process.stdout.write(`${render(dump, `${address.description} unit ${cfg.unitId}`)}\n`);
      noteVia(via);
    }
  });
}

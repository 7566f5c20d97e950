import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { ControlClient } from '../../control/client/client.js';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { callService, connectService, controlSocketFor } from '../../control/client/service-call.js';
import type { GpioSetResult } from '../../control/hardware-ops.js';
import { type GpioBackend, GpioError } from '../../devices/gpio/backend.js';
import { createGpioBackend } from '../../devices/gpio/create-backend.js';
import { noteVia, printJson } from '../output.js';

/** What the verbs touch outside themselves; tests replace them. */
export interface GpioCliDeps {
  backend(simulated: boolean): Promise<GpioBackend>;
  /** Whether there is a terminal to ask for confirmation on. */
  interactive(): boolean;
  confirm(question: string): Promise<boolean>;
  /** The running service, which owns the lines while it runs; undefined when it is stopped. */
  service(cmd: Command): Promise<ControlClient | undefined>;
}

const defaultDeps: GpioCliDeps = {
  backend: async (simulated) => createGpioBackend({ simulated }),
  interactive: () => Boolean(process.stdin.isTTY),
  async confirm(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  },
  service: (cmd) => connectService(controlSocketFor(cmd)),
};

interface ServiceGpioState {
  line: number;
  sysfsNumber: number | null;
  direction: 'in' | 'out';
  level: 'high' | 'low';
  simulated: boolean;
  relay: string | null;
  activeLow: boolean | null;
}

/** Runs `fn` on the running service unless `--simulated` asked for this process's own lines. */
async function onService<T>(
  deps: GpioCliDeps,
  cmd: Command,
  simulated: boolean,
  fn: (service: ControlClient) => Promise<T>,
): Promise<T | undefined> {
  if (simulated) return undefined;
  const service = await deps.service(cmd);
  if (!service) return undefined;
  try {
    return await fn(service);
  } finally {
    service.close();
  }
}

interface CommonOptions {
  json?: boolean;
  simulated?: boolean;
}

/**
 * `powerdeal gpio get LINE` and `powerdeal gpio set LINE on|off`. LINE is the header GPIO number
 * (BCM), not the pin number. `set` leaves the line as an output at that level after it exits.
 */
export function register(program: Command, overrides: Partial<GpioCliDeps> = {}): void {
  const deps: GpioCliDeps = { ...defaultDeps, ...overrides };
  const gpio = program.command('gpio').description('read or drive a header GPIO line (BCM numbering)');

  gpio
    .command('get <line>')
    .description('show a line’s direction and level without changing it')
    .option('--simulated', 'use simulated GPIO instead of hardware')
    .option('--json', 'machine-readable result')
    .action(async (lineArg: string, opts: CommonOptions, cmd: Command) => {
      const line = parseLine(lineArg);
      const remote = await onService(deps, cmd, opts.simulated === true, (service) =>
        callService<ServiceGpioState>(service, 'gpio.get', { line }),
      );
      if (remote) {
        if (opts.json) printJson(remote);
        else {
          const sysfs = remote.sysfsNumber === null ? '' : `, sysfs ${remote.sysfsNumber}`;
          const relay = remote.relay === null ? '' : `, relay ${remote.relay}`;
          const sim = remote.simulated ? ' [simulated]' : '';
          process.stdout.write(
            `GPIO ${line}: ${remote.level} (${remote.direction === 'out' ? 'output' : 'input'}${sysfs}${relay})${sim}\n`,
          );
          noteVia('service');
        }
        return;
      }
      const backend = await openBackend(deps, opts.simulated === true);
      const state = await guard(() => backend.inspect(line));
      const result = {
        line,
        sysfsNumber: state.sysfsNumber,
        direction: state.direction,
        level: state.high ? 'high' : 'low',
        simulated: backend.simulated,
      };
      if (opts.json) {
        printJson(result);
        return;
      }
      const sysfs = state.sysfsNumber === null ? '' : `, sysfs ${state.sysfsNumber}`;
      const sim = backend.simulated ? ' [simulated]' : '';
      process.stdout.write(
        `GPIO ${line}: ${result.level} (${state.direction === 'out' ? 'output' : 'input'}${sysfs})${sim}\n`,
      );
    });

  gpio
    .command('set <line> <state>')
    .description('drive a line on or off (it stays an output at that level)')
    .option('--active-low', 'on = low level (most relay boards)')
    .option('--yes', 'do not ask for confirmation')
    .option('--simulated', 'use simulated GPIO instead of hardware')
    .option('--json', 'machine-readable result')
    .action(
      async (
        lineArg: string,
        stateArg: string,
        opts: CommonOptions & { activeLow?: boolean; yes?: boolean },
        cmd: Command,
      ) => {
        const line = parseLine(lineArg);
        if (stateArg !== 'on' && stateArg !== 'off') {
          throw new CliError(`the state must be on or off, got "${stateArg}"`, EXIT.usage);
        }
        const on = stateArg === 'on';
        const activeLow = opts.activeLow === true;
        const high = on !== activeLow;
        if (!opts.yes && !deps.interactive()) {
          throw new CliError(
            `refusing to switch GPIO ${line} without confirmation: there is no terminal to ask on; pass --yes`,
            EXIT.usage,
          );
        }
        const ask = async (what: string, drivesHigh: boolean) => {
          if (opts.yes) return;
          const question = `Switch ${what} ${stateArg} (drives the line ${drivesHigh ? 'high' : 'low'})? [y/N] `;
          if (!(await deps.confirm(question))) {
            throw new CliError(`cancelled: GPIO ${line} not changed`, EXIT.problem);
          }
        };
        const remote = await onService(deps, cmd, opts.simulated === true, async (service) => {
          // A configured relay is switched through its driver, with its own active-low setting.
          const now = await callService<ServiceGpioState>(service, 'gpio.get', { line });
          if (now.relay !== null && now.activeLow !== null) {
            await ask(`relay ${now.relay} (GPIO ${line})`, on !== now.activeLow);
          } else await ask(`GPIO ${line}`, high);
          return callService<GpioSetResult>(service, 'gpio.set', { line, on, activeLow });
        });
        if (remote) {
          if (opts.json) printJson(remote);
          else {
            const relay = remote.relay === null ? '' : `, relay ${remote.relay}`;
            const sim = remote.simulated ? ' [simulated]' : '';
            process.stdout.write(
              `GPIO ${line}: ${stateArg} (${remote.level}${remote.activeLow ? ', active-low' : ''}${relay})${sim}\n`,
            );
            noteVia('service');
          }
          return;
        }
        const backend = await openBackend(deps, opts.simulated === true);
        await ask(`GPIO ${line}`, high);
        const output = await guard(() => backend.output(line, { activeLow, initial: on }));
        await guard(() => output.write(on));
        await output.close();
        const result = { line, on, level: high ? 'high' : 'low', activeLow, simulated: backend.simulated };
        if (opts.json) {
          printJson(result);
          return;
        }
        const sim = backend.simulated ? ' [simulated]' : '';
        process.stdout.write(
          `GPIO ${line}: ${stateArg} (${result.level}${activeLow ? ', active-low' : ''})${sim}\n`,
        );
      },
    );
}

function parseLine(arg: string): number {
  const line = Number(arg);
  if (!/^\d+$/.test(arg) || line > 63) {
    throw new CliError(`LINE is the header GPIO number (BCM), 0..63, e.g. 17; got "${arg}"`, EXIT.usage);
  }
  return line;
}

async function openBackend(deps: GpioCliDeps, simulated: boolean): Promise<GpioBackend> {
  try {
    return await deps.backend(simulated);
  } catch (err) {
    if (err instanceof GpioError) {
      throw new CliError(`${err.message}. To try the command without hardware: --simulated`, EXIT.problem);
    }
    throw err;
  }
}

async function guard<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof GpioError) throw new CliError(err.message, EXIT.problem);
    throw err;
  }
}

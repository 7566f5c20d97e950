import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { type GpioBackend, GpioError } from '../../devices/gpio/backend.js';
import { createGpioBackend } from '../../devices/gpio/create-backend.js';
import { CliError, EXIT } from '../exit-codes.js';
import { printJson } from '../output.js';

/** What the verbs touch outside themselves; tests replace them. */
export interface GpioCliDeps {
  backend(simulated: boolean): Promise<GpioBackend>;
  /** Whether there is a terminal to ask for confirmation on. */
  interactive(): boolean;
  confirm(question: string): Promise<boolean>;
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
};

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
    .action(async (lineArg: string, opts: CommonOptions) => {
      const line = parseLine(lineArg);
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
        const backend = await openBackend(deps, opts.simulated === true);
        if (!opts.yes) {
          const question = `Switch GPIO ${line} ${stateArg} (drives the line ${high ? 'high' : 'low'})? [y/N] `;
          if (!(await deps.confirm(question))) {
            throw new CliError(`cancelled: GPIO ${line} not changed`, EXIT.problem);
          }
        }
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

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorText } from '../../core/errors.js';
import {
  type GpioBackend,
  GpioError,
  type InputLine,
  type InputOptions,
  type LineState,
  levelFor,
  type OutputLine,
  type OutputOptions,
} from './backend.js';
import { DEFAULT_SYSFS_GPIO, findHeaderChip, type GpioChipInfo, sysfsNumber } from './chip-base.js';
import { EdgeDebouncer } from './debounce.js';

type Bit = 0 | 1;

/** The part of onoff's `Gpio` this backend uses (so the adapter can be exercised without sysfs). */
export interface OnoffGpio {
  read(): Promise<Bit>;
  readSync(): Bit;
  write(value: Bit): Promise<void>;
  watch(callback: (err: Error | null | undefined, value: Bit) => void): void;
  unwatchAll(): void;
  unexport(): void;
}

export type OnoffGpioClass = new (
  gpio: number,
  direction: 'in' | 'out' | 'high' | 'low',
  edge: 'none' | 'rising' | 'falling' | 'both',
  options: { debounceTimeout?: number; activeLow?: boolean; reconfigureDirection?: boolean },
) => OnoffGpio;

export interface SysfsBackendOptions {
  /** onoff's `Gpio` class. */
  Gpio: OnoffGpioClass;
  /** Where to find the gpiochips (default /sys/class/gpio; onoff itself always uses that path). */
  sysfsRoot?: string;
  /** Use this chip instead of looking for the header chip. */
  chip?: GpioChipInfo;
}

/**
 * GPIO on sysfs through onoff. The kernel's numbers are the header chip's base plus the BCM line, the
 * base read from sysfs (never assumed: 512 or 571 on kernels ≥ 6.6). Levels are handled as physical
 * values with sysfs `active_low` forced to 0, and active-low inverted here, so an `active_low` left
 * behind by another program cannot flip a relay. Outputs are created with direction `high`/`low` (the
 * kernel sets direction and level in one step; `out` would drive low first), with
 * `reconfigureDirection: false` (an output from a previous run is not re-driven), then written to the
 * wanted level at once; they are never unexported, so the load stays in its state across a restart.
 */
export function createSysfsGpioBackend(opts: SysfsBackendOptions): GpioBackend {
  const root = opts.sysfsRoot ?? DEFAULT_SYSFS_GPIO;
  const chip = opts.chip ?? findHeaderChip(root);
  const Gpio = opts.Gpio;

  const open = (
    line: number,
    direction: 'in' | 'high' | 'low',
    edge: 'none' | 'both',
  ): { gpio: OnoffGpio; n: number } => {
    const n = sysfsNumber(chip, line);
    try {
      return { gpio: new Gpio(n, direction, edge, { activeLow: false, reconfigureDirection: false }), n };
    } catch (err) {
      throw sysfsError(err, line, n);
    }
  };

  return {
    simulated: false,

    async output(line: number, o: OutputOptions): Promise<OutputLine> {
      const initial = levelFor(o.initial, o.activeLow);
      const { gpio, n } = open(line, initial ? 'high' : 'low', 'none');
      const write = async (high: boolean) => {
        try {
          await gpio.write(high ? 1 : 0);
        } catch (err) {
          throw sysfsError(err, line, n);
        }
      };
      // Already an output (left by a previous run): the constructor kept its level; set ours now.
      await write(initial);
      return {
        write: (on) => write(levelFor(on, o.activeLow)),
        read: async () => levelFor((await gpio.read()) === 1, o.activeLow),
        async close() {
          gpio.unwatchAll();
        },
      };
    },

    async input(line: number, o: InputOptions): Promise<InputLine> {
      const { gpio } = open(line, 'in', 'both');
      const debouncer = new EdgeDebouncer(
        () => levelFor(gpio.readSync() === 1, o.activeLow),
        o.debounceMs,
        o.edge,
      );
      gpio.watch(() => debouncer.rawEdge());
      return {
        read: async () => levelFor((await gpio.read()) === 1, o.activeLow),
        watch: (cb) => debouncer.watch(cb),
        async close() {
          debouncer.close();
          gpio.unexport();
        },
      };
    },

    async inspect(line: number): Promise<LineState> {
      const n = sysfsNumber(chip, line);
      const dir = join(root, `gpio${n}`);
      if (existsSync(dir)) {
        const read = (file: string) => readFileSync(join(dir, file), 'utf8').trim();
        const activeLow = read('active_low') === '1';
        const direction = read('direction') === 'in' ? 'in' : 'out';
        return { line, sysfsNumber: n, direction, high: levelFor(read('value') === '1', activeLow) };
      }
      // Not exported: borrow it as an input (its reset state) and give it back.
      const { gpio } = open(line, 'in', 'none');
      try {
        return { line, sysfsNumber: n, direction: 'in', high: gpio.readSync() === 1 };
      } finally {
        gpio.unexport();
      }
    },
  };
}

function sysfsError(err: unknown, line: number, n: number): GpioError {
  const code = (err as NodeJS.ErrnoException).code;
  const what = `GPIO ${line} (sysfs ${n})`;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new GpioError(
        `${what}: permission denied: add the service user to the gpio group`,
        'permission',
      );
    case 'EBUSY':
      return new GpioError(`${what}: in use by a kernel driver or overlay (EBUSY): pick a free line`, 'busy');
    case 'EINVAL':
      return new GpioError(`${what}: the kernel rejected this line number (EINVAL)`, 'bad-line');
    default:
      return new GpioError(`${what}: ${errorText(err)}`, 'io');
  }
}

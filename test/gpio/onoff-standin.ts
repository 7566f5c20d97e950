import type { OnoffGpio, OnoffGpioClass } from '../../src/devices/gpio/sysfs-backend.js';

type Bit = 0 | 1;
type Direction = 'in' | 'out' | 'high' | 'low';

interface KernelLine {
  direction: 'in' | 'out';
  /** Physical level. */
  raw: Bit;
  activeLow: boolean;
  listeners: Set<() => void>;
}

/** A physical level the pin took, and who caused it. */
export interface LevelEvent {
  n: number;
  raw: Bit;
  cause: 'export' | 'direction' | 'write' | 'external';
}

/**
 * The kernel's sysfs GPIO semantics, in memory, behind a class shaped like onoff's `Gpio` and following
 * onoff 6's constructor logic: export if needed, write active_low when given, set the direction only if
 * reconfigureDirection or it differs, and edge for inputs. `direction` high/low set the physical level;
 * `value` reads and writes go through active_low. Exports outlive the objects, as in the kernel.
 */
export class SimKernel {
  readonly lines = new Map<number, KernelLine>();
  readonly events: LevelEvent[] = [];
  readonly constructed: Array<{
    n: number;
    direction: Direction;
    edge: string;
    options: Record<string, unknown>;
  }> = [];
  readonly unexported: number[] = [];
  exportError: string | null = null;

  /** A line exported by an earlier process, as it was left. */
  preexport(n: number, state: { direction: 'in' | 'out'; raw: Bit; activeLow: boolean }): void {
    this.lines.set(n, { ...state, listeners: new Set() });
  }

  /** Drives an input pin from outside (a button). */
  drive(n: number, raw: Bit): void {
    const l = this.lines.get(n);
    if (l?.direction !== 'in') throw new Error(`sysfs ${n} is not an exported input`);
    if (l.raw === raw) return;
    l.raw = raw;
    this.events.push({ n, raw, cause: 'external' });
    for (const cb of [...l.listeners]) cb();
  }

  raw(n: number): Bit | undefined {
    return this.lines.get(n)?.raw;
  }

  eventsFor(n: number): LevelEvent[] {
    return this.events.filter((e) => e.n === n);
  }

  gpioClass(): OnoffGpioClass {
    const kernel = this;
    return class StandInGpio implements OnoffGpio {
      private readonly line: KernelLine;
      private readonly watchers: Array<() => void> = [];

      constructor(
        private readonly n: number,
        direction: Direction,
        edge: 'none' | 'rising' | 'falling' | 'both',
        options: { debounceTimeout?: number; activeLow?: boolean; reconfigureDirection?: boolean },
      ) {
        kernel.constructed.push({ n, direction, edge, options: { ...options } });
        let line = kernel.lines.get(n);
        if (!line) {
          if (kernel.exportError) {
            throw Object.assign(new Error(`${kernel.exportError}, write '/sys/class/gpio/export'`), {
              code: kernel.exportError,
            });
          }
          line = { direction: 'in', raw: 0, activeLow: false, listeners: new Set() };
          kernel.lines.set(n, line);
        }
        this.line = line;
        if (typeof options.activeLow === 'boolean') line.activeLow = options.activeLow;
        const requested = direction === 'high' || direction === 'low' ? 'out' : direction;
        if ((options.reconfigureDirection ?? true) || line.direction !== requested) {
          this.setDirection(direction);
        }
      }

      private setDirection(direction: Direction): void {
        if (direction === 'in') {
          this.line.direction = 'in';
          return;
        }
        this.line.direction = 'out';
        this.line.raw = direction === 'high' ? 1 : 0;
        kernel.events.push({ n: this.n, raw: this.line.raw, cause: 'direction' });
      }

      readSync(): Bit {
        return (this.line.raw ^ (this.line.activeLow ? 1 : 0)) as Bit;
      }

      async read(): Promise<Bit> {
        return this.readSync();
      }

      async write(value: Bit): Promise<void> {
        if (this.line.direction !== 'out') throw Object.assign(new Error('EPERM, write'), { code: 'EPERM' });
        this.line.raw = (value ^ (this.line.activeLow ? 1 : 0)) as Bit;
        kernel.events.push({ n: this.n, raw: this.line.raw, cause: 'write' });
      }

      watch(callback: (err: Error | null | undefined, value: Bit) => void): void {
        const listener = () => callback(null, this.readSync());
        this.watchers.push(listener);
        this.line.listeners.add(listener);
      }

      unwatchAll(): void {
        for (const w of this.watchers.splice(0)) this.line.listeners.delete(w);
      }

      unexport(): void {
        this.unwatchAll();
        kernel.lines.delete(this.n);
        kernel.unexported.push(this.n);
      }
    };
  }
}

/**
 * GPIO as the drivers see it: header line numbers (BCM), logical on/off with active-low handled by the
 * backend. Implemented on sysfs (onoff) and in memory; a libgpiod backend can slot in later.
 */
export type Edge = 'none' | 'rising' | 'falling' | 'both';

export interface OutputOptions {
  /** On = physical low (most relay boards). */
  activeLow: boolean;
  /** The logical state the line has from the moment it becomes an output. */
  initial: boolean;
}

export interface InputOptions {
  activeLow: boolean;
  /** Which logical transitions `watch` reports: rising = off→on. */
  edge: Edge;
  /** A change counts once the line has been stable this long (0 = every change). */
  debounceMs: number;
}

export interface OutputLine {
  write(on: boolean): Promise<void>;
  read(): Promise<boolean>;
  /** Releases the handle; the line keeps its level (relays are never unexported). */
  close(): Promise<void>;
}

export interface InputLine {
  read(): Promise<boolean>;
  /** Called with the new logical state after each debounced change that matches `edge`. */
  watch(cb: (on: boolean) => void): void;
  close(): Promise<void>;
}

/** A line as found, without changing it (for `powerdeal gpio get`). */
export interface LineState {
  line: number;
  /** The kernel's number for it (sysfs), when there is one. */
  sysfsNumber: number | null;
  direction: 'in' | 'out';
  /** Physical level. */
  high: boolean;
}

export interface GpioBackend {
  readonly simulated: boolean;
  output(line: number, opts: OutputOptions): Promise<OutputLine>;
  input(line: number, opts: InputOptions): Promise<InputLine>;
  /** Reads a line without reconfiguring it (an output stays an output). */
  inspect(line: number): Promise<LineState>;
}

export type GpioErrorKind = 'no-gpio' | 'permission' | 'no-chip' | 'bad-line' | 'busy' | 'io';

export class GpioError extends Error {
  constructor(
    message: string,
    readonly kind: GpioErrorKind,
  ) {
    super(message);
    this.name = 'GpioError';
  }
}

/** Physical level for a logical state. */
export function levelFor(on: boolean, activeLow: boolean): boolean {
  return on !== activeLow;
}

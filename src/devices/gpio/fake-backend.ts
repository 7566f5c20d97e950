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
import { EdgeDebouncer } from './debounce.js';

interface FakeLine {
  direction: 'in' | 'out';
  /** Physical level. */
  high: boolean;
  /** Raw-edge listeners of open inputs. */
  edges: Set<() => void>;
}

/** One physical level change the fake saw on an output, in order. */
export interface FakeWrite {
  line: number;
  high: boolean;
  /** `open`: the level the line got when it became an output; `write`: a later write. */
  cause: 'open' | 'write';
}

export interface FakeGpioOptions {
  /** Number of header lines (default 54, lines 0..53). */
  lines?: number;
}

/**
 * In-memory GPIO with the same semantics as the sysfs backend: physical levels, active-low inverted in
 * the backend, inputs fed from outside (`setInput`, for the button), a log of every level given to an
 * output (so a test can prove a relay was never at its unsafe level), and a switch to make a line fail.
 */
export class FakeGpioBackend implements GpioBackend {
  readonly simulated = true;
  readonly writes: FakeWrite[] = [];
  private readonly lines = new Map<number, FakeLine>();
  private readonly failing = new Map<number, string>();
  private readonly count: number;

  constructor(opts: FakeGpioOptions = {}) {
    this.count = opts.lines ?? 54;
  }

  /** Physical level of a line (inputs default low). */
  level(line: number): boolean {
    return this.lines.get(line)?.high ?? false;
  }

  direction(line: number): 'in' | 'out' {
    return this.lines.get(line)?.direction ?? 'in';
  }

  /** Drives an input from outside (a button closing, a sensor output). */
  setInput(line: number, high: boolean): void {
    const l = this.line(line);
    if (l.direction === 'out') throw new Error(`GPIO ${line} is an output`);
    if (l.high === high) return;
    l.high = high;
    for (const edge of [...l.edges]) edge();
  }

  /** Every following operation on `line` fails with `message` until `heal(line)`. */
  fail(line: number, message = 'EIO: i/o error'): void {
    this.failing.set(line, message);
  }

  heal(line: number): void {
    this.failing.delete(line);
  }

  writesTo(line: number): FakeWrite[] {
    return this.writes.filter((w) => w.line === line);
  }

  async output(line: number, o: OutputOptions): Promise<OutputLine> {
    this.check(line);
    const l = this.line(line);
    const initial = levelFor(o.initial, o.activeLow);
    this.record(line, initial, 'open');
    l.direction = 'out';
    l.high = initial;
    return {
      write: async (on) => {
        this.check(line);
        const high = levelFor(on, o.activeLow);
        this.record(line, high, 'write');
        l.high = high;
      },
      read: async () => {
        this.check(line);
        return levelFor(l.high, o.activeLow);
      },
      close: async () => {},
    };
  }

  async input(line: number, o: InputOptions): Promise<InputLine> {
    this.check(line);
    const l = this.line(line);
    l.direction = 'in';
    const debouncer = new EdgeDebouncer(() => levelFor(l.high, o.activeLow), o.debounceMs, o.edge);
    const edge = () => debouncer.rawEdge();
    l.edges.add(edge);
    return {
      read: async () => {
        this.check(line);
        return levelFor(l.high, o.activeLow);
      },
      watch: (cb) => debouncer.watch(cb),
      close: async () => {
        debouncer.close();
        l.edges.delete(edge);
      },
    };
  }

  async inspect(line: number): Promise<LineState> {
    this.check(line);
    const l = this.line(line);
    return { line, sysfsNumber: null, direction: l.direction, high: l.high };
  }

  private record(line: number, high: boolean, cause: FakeWrite['cause']): void {
    this.writes.push({ line, high, cause });
  }

  private check(line: number): void {
    if (!Number.isInteger(line) || line < 0 || line >= this.count) {
      throw new GpioError(`GPIO ${line} does not exist (lines 0..${this.count - 1})`, 'bad-line');
    }
    const failure = this.failing.get(line);
    if (failure !== undefined) throw new GpioError(`GPIO ${line}: ${failure}`, 'io');
  }

  private line(line: number): FakeLine {
    let l = this.lines.get(line);
    if (!l) {
      l = { direction: 'in', high: false, edges: new Set() };
      this.lines.set(line, l);
    }
    return l;
  }
}

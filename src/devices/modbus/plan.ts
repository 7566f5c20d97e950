import { ModbusError } from './errors.js';
import type { RegisterFunction } from './profile-schema.js';

/** A run of registers that must come back in one request (a value, or a value and its scale factor). */
export interface Span {
  fn: RegisterFunction;
  address: number;
  count: number;
}

/** One read request. */
export type ReadBlock = Span;

export interface PlanOptions {
  /** Unneeded registers that may be read to join two spans (0: only adjacent spans merge). */
  maxGap: number;
  /** Registers per request: at most 125 by the Modbus spec, fewer for some devices. */
  maxRegisters: number;
}

/**
 * Merges spans into as few requests as the limits allow, per function code. A span is never split:
 * a value always arrives with its scale factor, so both come from the same instant.
 */
export function planReads(spans: readonly Span[], opts: PlanOptions): ReadBlock[] {
  const blocks: ReadBlock[] = [];
  for (const fn of ['input', 'holding'] as const) {
    const sorted = spans
      .filter((s) => s.fn === fn)
      .sort((a, b) => a.address - b.address || b.count - a.count);
    let current: ReadBlock | undefined;
    for (const span of sorted) {
      if (span.count > opts.maxRegisters) {
        throw new RangeError(
          `registers ${span.address}..${span.address + span.count - 1} must be read together but exceed ${opts.maxRegisters} per request`,
        );
      }
      if (current !== undefined) {
        const end = current.address + current.count;
        const newEnd = Math.max(end, span.address + span.count);
        if (span.address - end <= opts.maxGap && newEnd - current.address <= opts.maxRegisters) {
          current.count = newEnd - current.address;
          continue;
        }
      }
      current = { fn, address: span.address, count: span.count };
      blocks.push(current);
    }
  }
  return blocks;
}

/** The registers one cycle read, by function code and address. */
export class RegisterImage {
  private readonly regs = { input: new Map<number, number>(), holding: new Map<number, number>() };

  set(fn: RegisterFunction, address: number, values: readonly number[]): void {
    const map = this.regs[fn];
    values.forEach((v, i) => {
      map.set(address + i, v);
    });
  }

  get(fn: RegisterFunction, address: number, count: number): number[] {
    const map = this.regs[fn];
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const v = map.get(address + i);
      if (v === undefined) throw new RangeError(`${fn} register ${address + i} was not read`);
      out.push(v);
    }
    return out;
  }
}

export type BlockReader = (fn: RegisterFunction, address: number, count: number) => Promise<number[]>;

/** Runs the blocks one after the other (they share one bus) and collects the answers. */
export async function readBlocks(blocks: readonly ReadBlock[], read: BlockReader): Promise<RegisterImage> {
  const image = new RegisterImage();
  for (const b of blocks) {
    const values = await read(b.fn, b.address, b.count);
    if (values.length < b.count) {
      throw new ModbusError('frame', `asked for ${b.count} registers at ${b.address}, got ${values.length}`);
    }
    image.set(b.fn, b.address, values.slice(0, b.count));
  }
  return image;
}

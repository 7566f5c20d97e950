import { hex } from './bus.js';
import type { I2cRegisterSpec } from './profile.js';

/** A register value that cannot be a measurement (flag, garbage, out of range). */
export class I2cDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'I2cDataError';
  }
}

/** Turns a register word (already in chip byte order) into a physical value, or says why it cannot. */
export function decodeRegister(spec: I2cRegisterSpec, word: number): number {
  const where = `${spec.name} (${hex(spec.register)}) = ${hex(word, 4)}`;
  const stray = word & spec.mustBeZero;
  if (stray !== 0) {
    throw new I2cDataError(`${where}: bits ${hex(stray, 4)} should be 0 (garbage on the bus?)`);
  }
  for (const flag of spec.flags) {
    const set = (word >> flag.bit) & 1;
    if ((flag.failWhen === 'set' && set) || (flag.failWhen === 'clear' && !set)) {
      throw new I2cDataError(`${where}: ${flag.reason}`);
    }
  }
  const counts = spec.signed ? ((word << 16) >> 16) >> spec.shift : word >>> spec.shift;
  if (spec.rawRange && (counts < spec.rawRange[0] || counts > spec.rawRange[1])) {
    throw new I2cDataError(`${where}: ${counts} counts is outside ${spec.rawRange[0]}..${spec.rawRange[1]}`);
  }
  return counts * spec.lsb;
}

/** Drops binary floating-point noise (0.12000000000000001 → 0.12) without losing sensor resolution. */
export function tidy(value: number): number {
  return Number(value.toPrecision(12));
}

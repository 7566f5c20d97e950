/**
 * Register codec: turns 16-bit Modbus registers into values and back. Bytes inside a register are always
 * big-endian (the Modbus rule); only the order of the 16-bit words of a 32-bit value varies by vendor.
 */

export const REGISTER_TYPES = ['u16', 's16', 'u32', 's32', 'f32', 'acc32', 'string'] as const;
export type RegisterType = (typeof REGISTER_TYPES)[number];

/** `big`: high word first (SunSpec, Eastron). `little`: low word first ("swapped words"). */
export type WordOrder = 'big' | 'little';

export interface CodecOptions {
  wordOrder?: WordOrder;
  /** Read SunSpec "not implemented" sentinels as "no value" (null). */
  sunspecSentinels?: boolean;
}

/** A register held a value that cannot be a reading (NaN or infinite float). */
export class RegisterValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegisterValueError';
  }
}

/** Registers a value of this type occupies; strings take `length` registers (two characters each). */
export function registerCount(type: RegisterType, length = 1): number {
  switch (type) {
    case 'u16':
    case 's16':
      return 1;
    case 'string':
      return length;
    default:
      return 2;
  }
}

/** SunSpec "not implemented" values; acc32 0 means the counter is not implemented. */
const SENTINELS: Partial<Record<RegisterType, number>> = {
  u16: 0xffff,
  s16: -0x8000,
  u32: 0xffffffff,
  s32: -0x80000000,
  acc32: 0,
};

function word(regs: readonly number[], i: number): number {
  const r = regs[i];
  if (r === undefined || !Number.isInteger(r) || r < 0 || r > 0xffff) {
    throw new RangeError(`register ${i} is missing or not a 16-bit value (${String(r)})`);
  }
  return r;
}

function toBuffer(regs: readonly number[], count: number, order: WordOrder): Buffer {
  const buf = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) buf.writeUInt16BE(word(regs, i), i * 2);
  if (count === 2 && order === 'little') return Buffer.concat([buf.subarray(2, 4), buf.subarray(0, 2)]);
  return buf;
}

/**
 * Decodes `regs` (starting at the value's first register). Returns null for a SunSpec sentinel when
 * `sunspecSentinels` is set; throws RegisterValueError for NaN or infinite floats.
 */
export function decodeRegisters(
  regs: readonly number[],
  type: RegisterType,
  opts: CodecOptions & { length?: number } = {},
): number | string | null {
  const order = opts.wordOrder ?? 'big';
  if (type === 'string') {
    const buf = toBuffer(regs, opts.length ?? regs.length, 'big');
    // SunSpec pads strings with NUL; some devices pad with spaces.
    const end = buf.indexOf(0);
    return buf
      .subarray(0, end === -1 ? buf.length : end)
      .toString('latin1')
      .trimEnd();
  }
  const buf = toBuffer(regs, registerCount(type), order);
  let value: number;
  switch (type) {
    case 'u16':
      value = buf.readUInt16BE(0);
      break;
    case 's16':
      value = buf.readInt16BE(0);
      break;
    case 'u32':
    case 'acc32':
      value = buf.readUInt32BE(0);
      break;
    case 's32':
      value = buf.readInt32BE(0);
      break;
    case 'f32':
      value = buf.readFloatBE(0);
      if (!Number.isFinite(value)) {
        throw new RegisterValueError(`float register holds ${value} (0x${buf.toString('hex')})`);
      }
      return value;
  }
  if (opts.sunspecSentinels && SENTINELS[type] === value) return null;
  return value;
}

/**
 * Encodes a value into registers; null encodes the SunSpec "not implemented" sentinel (NaN for f32,
 * an empty string for strings). Integers are range-checked; floats are rounded to float32.
 */
export function encodeRegisters(
  value: number | string | null,
  type: RegisterType,
  opts: { wordOrder?: WordOrder; length?: number } = {},
): number[] {
  const order = opts.wordOrder ?? 'big';
  if (type === 'string') {
    const length = opts.length ?? 1;
    const text = value === null ? '' : String(value);
    const buf = Buffer.alloc(length * 2);
    if (Buffer.byteLength(text, 'latin1') > buf.length) {
      throw new RangeError(`"${text}" does not fit in ${length} registers`);
    }
    buf.write(text, 'latin1');
    return fromBuffer(buf, 'big');
  }
  if (typeof value === 'string') throw new TypeError(`a ${type} register needs a number, got "${value}"`);
  const buf = Buffer.alloc(registerCount(type) * 2);
  const v = value ?? (type === 'f32' ? Number.NaN : (SENTINELS[type] as number));
  const checkInt = (min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${v} is not a valid ${type}`);
  };
  switch (type) {
    case 'u16':
      checkInt(0, 0xffff);
      buf.writeUInt16BE(v, 0);
      break;
    case 's16':
      checkInt(-0x8000, 0x7fff);
      buf.writeInt16BE(v, 0);
      break;
    case 'u32':
    case 'acc32':
      checkInt(0, 0xffffffff);
      buf.writeUInt32BE(v, 0);
      break;
    case 's32':
      checkInt(-0x80000000, 0x7fffffff);
      buf.writeInt32BE(v, 0);
      break;
    case 'f32':
      buf.writeFloatBE(v, 0);
      break;
  }
  return fromBuffer(buf, order);
}

function fromBuffer(buf: Buffer, order: WordOrder): number[] {
  const regs: number[] = [];
  for (let i = 0; i < buf.length; i += 2) regs.push(buf.readUInt16BE(i));
  if (regs.length === 2 && order === 'little') regs.reverse();
  return regs;
}

/** SunSpec scale factors are small signed powers of ten; anything else means the map is wrong. */
export function applyScaleFactor(value: number, sf: number): number {
  if (!Number.isInteger(sf) || sf < -10 || sf > 10) {
    throw new RegisterValueError(`scale factor ${sf} is outside -10..10`);
  }
  // Dividing by a positive power of ten keeps 2301 × 10^-1 = 230.1 exact instead of 230.10000000000002.
  return sf < 0 ? value / 10 ** -sf : value * 10 ** sf;
}

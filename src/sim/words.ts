/**
 * Writing values into 16-bit Modbus registers: integers, SunSpec acc32 counters, float32 and ASCII
 * strings, always high word first (big-endian within and across words).
 */

/** SunSpec "not implemented" markers. */
export const NOT_IMPLEMENTED = { u16: 0xffff, s16: 0x8000, acc32: 0 } as const;

export class Words {
  readonly data: Uint16Array;

  constructor(length: number) {
    this.data = new Uint16Array(length);
  }

  u16(offset: number, value: number): void {
    this.data[offset] = Math.round(value) & 0xffff;
  }

  s16(offset: number, value: number): void {
    const v = Math.max(-32768, Math.min(32767, Math.round(value)));
    this.data[offset] = v & 0xffff;
  }

  /** Unsigned 32-bit (also SunSpec acc32), high word first. */
  u32(offset: number, value: number): void {
    const v = Math.round(value) >>> 0;
    this.data[offset] = v >>> 16;
    this.data[offset + 1] = v & 0xffff;
  }

  /** IEEE 754 single precision, high word first (the Eastron order). */
  f32(offset: number, value: number): void {
    const buf = Buffer.alloc(4);
    buf.writeFloatBE(value);
    this.data[offset] = buf.readUInt16BE(0);
    this.data[offset + 1] = buf.readUInt16BE(2);
  }

  /** ASCII, two characters per register, first character in the high byte, padded with NUL. */
  string(offset: number, lengthWords: number, text: string): void {
    for (let i = 0; i < lengthWords; i++) {
      const hi = text.charCodeAt(2 * i) || 0;
      const lo = text.charCodeAt(2 * i + 1) || 0;
      this.data[offset + i] = ((hi & 0xff) << 8) | (lo & 0xff);
    }
  }
}

import { describe, expect, it } from 'vitest';
import {
  applyScaleFactor,
  decodeRegisters,
  encodeRegisters,
  type RegisterType,
  RegisterValueError,
  registerCount,
  type WordOrder,
} from '../../src/devices/modbus/codec.js';

interface Row {
  type: RegisterType;
  regs: number[];
  value: number | string | null;
  order?: WordOrder;
  sentinels?: boolean;
  length?: number;
}

// Register images written by hand from the byte layouts (not produced by the encoder under test).
const rows: Row[] = [
  { type: 'u16', regs: [0x1234], value: 0x1234 },
  { type: 'u16', regs: [0xffff], value: 65535 },
  { type: 'u16', regs: [0xffff], value: null, sentinels: true },
  { type: 's16', regs: [0xfffe], value: -2 },
  { type: 's16', regs: [0x7fff], value: 32767 },
  { type: 's16', regs: [0x8000], value: -32768 },
  { type: 's16', regs: [0x8000], value: null, sentinels: true },
  { type: 'u32', regs: [0x0001, 0x0002], value: 0x00010002 },
  { type: 'u32', regs: [0x0002, 0x0001], value: 0x00010002, order: 'little' },
  { type: 'u32', regs: [0xffff, 0xffff], value: null, sentinels: true },
  { type: 's32', regs: [0xffff, 0xfffe], value: -2 },
  { type: 's32', regs: [0xfffe, 0xffff], value: -2, order: 'little' },
  { type: 's32', regs: [0x8000, 0x0000], value: null, sentinels: true },
  { type: 's32', regs: [0x8000, 0x0000], value: -2147483648 },
  { type: 'acc32', regs: [0x075b, 0xcd15], value: 123456789 },
  { type: 'acc32', regs: [0xcd15, 0x075b], value: 123456789, order: 'little' },
  { type: 'acc32', regs: [0, 0], value: null, sentinels: true },
  { type: 'acc32', regs: [0, 0], value: 0 },
  // 231.5 = 0x43678000; -1500.5 = 0xC4BB9000
  { type: 'f32', regs: [0x4367, 0x8000], value: 231.5 },
  { type: 'f32', regs: [0x8000, 0x4367], value: 231.5, order: 'little' },
  { type: 'f32', regs: [0xc4bb, 0x9000], value: -1500.5 },
  { type: 'f32', regs: [0x0000, 0x0000], value: 0, sentinels: true },
  { type: 'string', regs: [0x5375, 0x6e53], value: 'SunS', length: 2 },
  { type: 'string', regs: [0x4142, 0x4300, 0x0000], value: 'ABC', length: 3 },
  { type: 'string', regs: [0x4142, 0x2020], value: 'AB', length: 2 },
];

describe('register codec', () => {
  it.each(rows)('decodes $type $regs ($order) as $value', (row) => {
    const got = decodeRegisters(row.regs, row.type, {
      wordOrder: row.order,
      sunspecSentinels: row.sentinels,
      length: row.length,
    });
    expect(got).toBe(row.value);
  });

  it.each(rows.filter((r) => r.value !== null && !(r.type === 'string' && r.regs.includes(0x2020))))(
    'encodes $value as $type $regs ($order)',
    (row) => {
      expect(encodeRegisters(row.value, row.type, { wordOrder: row.order, length: row.length })).toEqual(
        row.regs,
      );
    },
  );

  it.each([
    ['u16', [0xffff]],
    ['s16', [0x8000]],
    ['u32', [0xffff, 0xffff]],
    ['s32', [0x8000, 0x0000]],
    ['acc32', [0, 0]],
  ] as const)('encodes null as the %s sentinel', (type, regs) => {
    expect(encodeRegisters(null, type)).toEqual(regs);
    expect(decodeRegisters(regs, type, { sunspecSentinels: true })).toBeNull();
  });

  it.each([
    ['NaN', [0x7fc0, 0x0000]],
    ['+Infinity', [0x7f80, 0x0000]],
    ['-Infinity', [0xff80, 0x0000]],
  ])('rejects a %s float as a read error', (_name, regs) => {
    expect(() => decodeRegisters(regs, 'f32')).toThrow(RegisterValueError);
    expect(() => decodeRegisters(regs, 'f32', { sunspecSentinels: true })).toThrow(RegisterValueError);
  });

  it('refuses missing or out-of-range registers and values', () => {
    expect(() => decodeRegisters([0x1234], 'u32')).toThrow(RangeError);
    expect(() => decodeRegisters([0x10000], 'u16')).toThrow(RangeError);
    expect(() => encodeRegisters(70000, 'u16')).toThrow(RangeError);
    expect(() => encodeRegisters(-1, 'acc32')).toThrow(RangeError);
    expect(() => encodeRegisters(1.5, 's16')).toThrow(RangeError);
    expect(() => encodeRegisters('too long', 'string', { length: 2 })).toThrow(RangeError);
  });

  it('counts registers per type', () => {
    expect(registerCount('u16')).toBe(1);
    expect(registerCount('s16')).toBe(1);
    expect(registerCount('f32')).toBe(2);
    expect(registerCount('acc32')).toBe(2);
    expect(registerCount('string', 8)).toBe(8);
  });

  it('applies SunSpec scale factors exactly and refuses absurd ones', () => {
    expect(applyScaleFactor(2301, -1)).toBe(230.1);
    expect(applyScaleFactor(5002, -2)).toBe(50.02);
    expect(applyScaleFactor(1234567, 1)).toBe(12345670);
    expect(applyScaleFactor(42, 0)).toBe(42);
    expect(() => applyScaleFactor(1, 11)).toThrow(RegisterValueError);
    expect(() => applyScaleFactor(1, -32768)).toThrow(RegisterValueError);
  });
});

import { describe, expect, it } from 'vitest';
import { crc16, crcValid, withCrc } from '../../src/sim/crc16.js';
import { garblePdu, garbleRtuFrame, truncateFrame } from '../../src/sim/faults.js';
import { answerPdu, EXCEPTION, type SimUnit } from '../../src/sim/modbus-pdu.js';
import { mulberry32 } from '../../src/sim/prng.js';
import { Words } from '../../src/sim/words.js';

describe('register encoding', () => {
  it('writes float32 high word first, acc32 high word first, strings two characters per word', () => {
    const w = new Words(12);
    w.f32(0, 230.5);
    w.u32(2, 0x12345678);
    w.s16(4, -2);
    w.string(5, 3, 'SunS');
    w.u16(8, 65535);
    expect([...w.data.subarray(0, 9)]).toEqual([
      0x4366, 0x8000, 0x1234, 0x5678, 0xfffe, 0x5375, 0x6e53, 0, 0xffff,
    ]);
    w.f32(10, Number.NaN);
    expect([...w.data.subarray(10)]).toEqual([0x7fc0, 0x0000]);
  });

  it('computes the Modbus CRC, low byte first', () => {
    const frame = withCrc(Buffer.from([0x01, 0x03, 0x00, 0x00, 0x00, 0x01]));
    expect(frame.subarray(6)).toEqual(Buffer.from([0x84, 0x0a]));
    expect(crc16(Buffer.from('123456789'))).toBe(0x4b37);
    expect(crcValid(frame)).toBe(true);
    frame[3] = 0x01;
    expect(crcValid(frame)).toBe(false);
  });
});

describe('request handling', () => {
  const unit: SimUnit = {
    readHolding: (address, count) =>
      address === 10 && count <= 2 ? Uint16Array.of(7, 8).subarray(0, count) : EXCEPTION.illegalDataAddress,
    readInput: () => EXCEPTION.illegalDataAddress,
    writeHolding: (address) => (address === 10 ? null : EXCEPTION.illegalDataAddress),
  };

  it('answers reads and writes, and the exceptions real devices give', () => {
    expect(answerPdu(unit, Buffer.from([0x03, 0, 10, 0, 2]))).toEqual(Buffer.from([0x03, 4, 0, 7, 0, 8]));
    expect(answerPdu(unit, Buffer.from([0x03, 0, 11, 0, 2]))).toEqual(Buffer.from([0x83, 0x02]));
    expect(answerPdu(unit, Buffer.from([0x03, 0, 10, 0, 0]))).toEqual(Buffer.from([0x83, 0x03]));
    expect(answerPdu(unit, Buffer.from([0x03, 0, 10, 0, 126]))).toEqual(Buffer.from([0x83, 0x03]));
    expect(answerPdu(unit, Buffer.from([0x01, 0, 0, 0, 1]))).toEqual(Buffer.from([0x81, 0x01]));
    expect(answerPdu(unit, Buffer.from([0x06, 0, 10, 0, 5]))).toEqual(Buffer.from([0x06, 0, 10, 0, 5]));
    expect(answerPdu(unit, Buffer.from([0x10, 0, 10, 0, 1, 2, 0, 5]))).toEqual(
      Buffer.from([0x10, 0, 10, 0, 1]),
    );
    expect(answerPdu(unit, Buffer.from([0x10, 0, 10, 0, 2, 2, 0, 5]))).toEqual(Buffer.from([0x90, 0x03]));
  });
});

describe('fault mangling', () => {
  it('garbles an RTU answer so that its CRC never matches, keeping the framing bytes', () => {
    const random = mulberry32(1);
    const good = withCrc(Buffer.from([0x02, 0x04, 0x04, 0x43, 0x66, 0x80, 0x00]));
    for (let i = 0; i < 500; i++) {
      const bad = garbleRtuFrame(good, random);
      expect(bad.length).toBe(good.length);
      expect(bad.subarray(0, 3)).toEqual(good.subarray(0, 3));
      expect(crcValid(bad)).toBe(false);
    }
  });

  it('garbles a TCP answer with a function code nobody asked for, and truncates frames', () => {
    const random = mulberry32(2);
    for (let i = 0; i < 200; i++) {
      const fc = garblePdu(Buffer.from([0x03, 2, 0, 1]), random)[0] ?? 0;
      expect(fc).toBeGreaterThanOrEqual(65);
      expect(fc).toBeLessThanOrEqual(72);
    }
    expect(truncateFrame(Buffer.alloc(17), 8).length).toBe(8);
    expect(truncateFrame(Buffer.alloc(5), 2).length).toBe(2);
  });
});

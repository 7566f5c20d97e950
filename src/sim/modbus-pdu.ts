/** Modbus application layer (the PDU) shared by the TCP and RTU servers. */

export const EXCEPTION = {
  illegalFunction: 0x01,
  illegalDataAddress: 0x02,
  illegalDataValue: 0x03,
  slaveDeviceFailure: 0x04,
  gatewayTargetFailedToRespond: 0x0b,
} as const;

const FC = {
  readHolding: 0x03,
  readInput: 0x04,
  writeSingle: 0x06,
  writeMultiple: 0x10,
} as const;

/** A register block: a read must fall inside one block, as on real devices. */
export interface Block {
  start: number;
  words: Uint16Array;
}

/** A simulated device behind a unit id. A number result is a Modbus exception code. */
export interface SimUnit {
  readHolding(address: number, count: number): Uint16Array | number;
  readInput(address: number, count: number): Uint16Array | number;
  writeHolding(address: number, values: number[]): number | null;
}

export function readBlocks(blocks: readonly Block[], address: number, count: number): Uint16Array | number {
  for (const b of blocks) {
    if (address >= b.start && address + count <= b.start + b.words.length) {
      return b.words.subarray(address - b.start, address - b.start + count);
    }
  }
  return EXCEPTION.illegalDataAddress;
}

export function exceptionPdu(fc: number, code: number): Buffer {
  return Buffer.from([fc | 0x80, code]);
}

/** Answers one request PDU (function code first) with a response PDU, normal or exception. */
export function answerPdu(unit: SimUnit, pdu: Buffer): Buffer {
  const fc = pdu[0] ?? 0;
  switch (fc) {
    case FC.readHolding:
    case FC.readInput: {
      if (pdu.length !== 5) return exceptionPdu(fc, EXCEPTION.illegalDataValue);
      const address = pdu.readUInt16BE(1);
      const count = pdu.readUInt16BE(3);
      if (count < 1 || count > 125) return exceptionPdu(fc, EXCEPTION.illegalDataValue);
      const result =
        fc === FC.readHolding ? unit.readHolding(address, count) : unit.readInput(address, count);
      if (typeof result === 'number') return exceptionPdu(fc, result);
      const out = Buffer.alloc(2 + count * 2);
      out[0] = fc;
      out[1] = count * 2;
      for (let i = 0; i < count; i++) out.writeUInt16BE(result[i] ?? 0, 2 + i * 2);
      return out;
    }
    case FC.writeSingle: {
      if (pdu.length !== 5) return exceptionPdu(fc, EXCEPTION.illegalDataValue);
      const code = unit.writeHolding(pdu.readUInt16BE(1), [pdu.readUInt16BE(3)]);
      return code === null ? Buffer.from(pdu) : exceptionPdu(fc, code);
    }
    case FC.writeMultiple: {
      if (pdu.length < 6) return exceptionPdu(fc, EXCEPTION.illegalDataValue);
      const address = pdu.readUInt16BE(1);
      const count = pdu.readUInt16BE(3);
      const byteCount = pdu[5] ?? 0;
      if (count < 1 || count > 123 || byteCount !== count * 2 || pdu.length !== 6 + byteCount) {
        return exceptionPdu(fc, EXCEPTION.illegalDataValue);
      }
      const values = Array.from({ length: count }, (_, i) => pdu.readUInt16BE(6 + i * 2));
      const code = unit.writeHolding(address, values);
      return code === null ? Buffer.from(pdu.subarray(0, 5)) : exceptionPdu(fc, code);
    }
    default:
      return exceptionPdu(fc, EXCEPTION.illegalFunction);
  }
}

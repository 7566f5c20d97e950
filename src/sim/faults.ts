import { crc16 } from './crc16.js';

/** Faults a simulated unit can be switched into at run time, and how they mangle its answers. */

export const SIM_FAULTS = ['none', 'silence', 'exception', 'garbage', 'truncated', 'nan'] as const;
export type SimFault = (typeof SIM_FAULTS)[number];

export function isSimFault(value: string): value is SimFault {
  return (SIM_FAULTS as readonly string[]).includes(value);
}

const READS = new Set([0x03, 0x04]);

/**
 * Line noise on an RTU answer: address and function code (and a read's byte count, so a master waits for
 * the right length) survive, the rest is random and the CRC never matches.
 */
export function garbleRtuFrame(frame: Buffer, random: () => number): Buffer {
  const out = Buffer.from(frame);
  const keep = READS.has(out[1] ?? 0) ? 3 : 2;
  for (let i = keep; i < out.length - 2; i++) out[i] = Math.floor(random() * 256);
  const crcAt = out.length - 2;
  out.writeUInt16LE(crc16(out.subarray(0, crcAt)) ^ 0xa5a5, crcAt);
  return out;
}

/**
 * A garbled TCP answer: the MBAP framing survives (the connection stays in step) but the PDU is random,
 * headed by a function code from the user-defined range 65..72 that no request here ever uses, so any
 * master sees an answer that does not match its question.
 */
export function garblePdu(pdu: Buffer, random: () => number): Buffer {
  const out = Buffer.alloc(pdu.length);
  for (let i = 1; i < out.length; i++) out[i] = Math.floor(random() * 256);
  out[0] = 65 + Math.floor(random() * 8);
  return out;
}

/** The first half of a frame: the sender stopped mid-answer. */
export function truncateFrame(frame: Buffer, keepAtLeast: number): Buffer {
  return frame.subarray(0, Math.max(keepAtLeast, Math.floor(frame.length / 2)));
}

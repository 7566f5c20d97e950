/**
 * The I2C bus as the drivers see it. Registers are 16-bit words with an explicit byte order: SMBus
 * sends the low byte first, most sensors (INA219, TMP102) send the high byte first.
 */
export type ByteOrder = 'be' | 'le';

export interface I2cBusStats {
  /** Transactions asked for (reads, writes, probes). */
  transactions: number;
  /** Extra attempts after a transient error (NACK, timeout). */
  retries: number;
  /** Transactions that failed after their retries. */
  failures: number;
}

export interface I2cBus {
  readonly busNumber: number;
  /** `i2c-1`. */
  readonly name: string;
  readWord(address: number, register: number, order: ByteOrder): Promise<number>;
  writeWord(address: number, register: number, value: number, order: ByteOrder): Promise<void>;
  readByte(address: number, register: number): Promise<number>;
  /** True if a device acknowledges at `address` (a receive-byte, as `i2cdetect -r` does). */
  probe(address: number): Promise<boolean>;
  close(): Promise<void>;
  stats(): I2cBusStats;
}

/**
 * The bottom of the stack: SMBus primitives exactly as the kernel (and `i2c-bus`) provide them. A word
 * read returns the first byte on the wire as the low byte. Errors carry the kernel's errno `code`.
 * Everything above this (queueing, retries, byte order, decoding) is shared by the real and the
 * simulated bus.
 */
export interface SmbusAdapter {
  /** Opens the bus and checks it is usable; rejects (ENOENT, EACCES) when it is not. */
  open(): Promise<void>;
  readWord(address: number, command: number): Promise<number>;
  writeWord(address: number, command: number, word: number): Promise<void>;
  readByte(address: number, command: number): Promise<number>;
  receiveByte(address: number): Promise<number>;
  close(): Promise<void>;
}

export function swap16(word: number): number {
  return ((word & 0xff) << 8) | ((word >> 8) & 0xff);
}

export function hex(n: number, digits = 2): string {
  return `0x${n.toString(16).padStart(digits, '0')}`;
}

import { setTimeout as sleep } from 'node:timers/promises';
import { type ByteOrder, hex, type I2cBus, type I2cBusStats, type SmbusAdapter, swap16 } from './bus.js';
import { errnoCode, I2cError, isNack, isTransient, toI2cError } from './errors.js';
import { SerialQueue } from './serial-queue.js';

export interface I2cRetryOptions {
  /** Extra attempts after a NACK or bus timeout (default 2). */
  retries?: number;
  /** Pause before each extra attempt, in ms (default 2). */
  retryDelayMs?: number;
}

/**
 * One physical bus: every transaction of every device on it goes through one FIFO, so two drivers never
 * interleave on the wire. Transient errors are retried inside the transaction's turn. The bus opens on
 * the first transaction (and again after a failed open), so a bus that is absent at start is reported
 * by each transaction rather than by a crash. The kernel bounds each transaction (adapter timeout), so
 * no cooperative timeout is needed here.
 */
export class SmbusI2cBus implements I2cBus {
  readonly name: string;
  private readonly queue = new SerialQueue();
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private opening: Promise<void> | null = null;
  private closed = false;
  private readonly counters: I2cBusStats = { transactions: 0, retries: 0, failures: 0 };

  constructor(
    readonly busNumber: number,
    private readonly adapter: SmbusAdapter,
    opts: I2cRetryOptions = {},
  ) {
    this.name = `i2c-${busNumber}`;
    this.retries = opts.retries ?? 2;
    this.retryDelayMs = opts.retryDelayMs ?? 2;
  }

  async readWord(address: number, register: number, order: ByteOrder): Promise<number> {
    checkRange('register', register, 0xff);
    return this.transact(`${this.where(address)} read ${hex(register)}`, address, async () => {
      const word = await this.adapter.readWord(address, register);
      return order === 'be' ? swap16(word) : word;
    });
  }

  async writeWord(address: number, register: number, value: number, order: ByteOrder): Promise<void> {
    checkRange('register', register, 0xff);
    checkRange('value', value, 0xffff);
    return this.transact(`${this.where(address)} write ${hex(register)}`, address, () =>
      this.adapter.writeWord(address, register, order === 'be' ? swap16(value) : value),
    );
  }

  async readByte(address: number, register: number): Promise<number> {
    checkRange('register', register, 0xff);
    return this.transact(`${this.where(address)} read byte ${hex(register)}`, address, () =>
      this.adapter.readByte(address, register),
    );
  }

  async probe(address: number): Promise<boolean> {
    checkRange('address', address, 0x7f);
    this.counters.transactions++;
    return this.queue.run(async () => {
      await this.ensureOpen();
      try {
        await this.adapter.receiveByte(address);
        return true;
      } catch (err) {
        if (isNack(err)) return false;
        // Claimed by a kernel driver: something is there (i2cdetect shows it as UU).
        if (errnoCode(err) === 'EBUSY') return true;
        this.counters.failures++;
        throw toI2cError(err, `${this.where(address)} probe`, this.busNumber);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.run(async () => {
      if (this.opening === null) return;
      const opened = await this.opening.then(
        () => true,
        () => false,
      );
      this.opening = null;
      if (opened) await this.adapter.close();
    });
  }

  stats(): I2cBusStats {
    return { ...this.counters };
  }

  private where(address: number): string {
    return `${this.name} ${hex(address)}`;
  }

  private transact<T>(where: string, address: number, op: () => Promise<T>): Promise<T> {
    checkRange('address', address, 0x7f);
    this.counters.transactions++;
    return this.queue.run(async () => {
      await this.ensureOpen();
      for (let attempt = 1; ; attempt++) {
        try {
          return await op();
        } catch (err) {
          if (!isTransient(err) || attempt > this.retries) {
            this.counters.failures++;
            throw toI2cError(err, where, this.busNumber, attempt);
          }
          this.counters.retries++;
          await sleep(this.retryDelayMs);
        }
      }
    });
  }

  private async ensureOpen(): Promise<void> {
    if (this.closed) throw new I2cError(`${this.name} is closed`, 'closed');
    if (this.opening === null) {
      this.opening = this.adapter.open();
    }
    try {
      await this.opening;
    } catch (err) {
      this.opening = null;
      this.counters.failures++;
      throw toI2cError(err, this.name, this.busNumber);
    }
  }
}

function checkRange(what: string, n: number, max: number): void {
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new I2cError(`invalid I2C ${what} ${n} (0..${hex(max)})`, 'data');
  }
}

import type { PromisifiedBus } from 'i2c-bus';
import type { SmbusAdapter } from './bus.js';
import { I2cError } from './errors.js';

/**
 * The real bus, on the `i2c-bus` native module (loaded on first open, so machines without it can still
 * run simulated). `openPromisified` only records the bus number; the device file is opened on the first
 * access, so `open()` asks for the adapter's functionality right away: that opens `/dev/i2c-N` and
 * fails here, with ENOENT or EACCES, instead of on the first sensor read.
 */
export class I2cBusAdapter implements SmbusAdapter {
  private bus: PromisifiedBus | null = null;

  constructor(private readonly busNumber: number) {}

  async open(): Promise<void> {
    const { openPromisified } = await import('i2c-bus');
    const bus = await openPromisified(this.busNumber);
    try {
      const funcs = await bus.i2cFuncs();
      if (!funcs.smbusReadWord || !funcs.smbusWriteWord || !funcs.smbusReceiveByte) {
        throw new I2cError(
          `/dev/i2c-${this.busNumber} does not support SMBus word access: use the SoC's I2C controller`,
          'no-bus',
        );
      }
    } catch (err) {
      // The open is failing with the reason above; a bus that also fails to close adds nothing to it.
      await bus.close().catch(() => undefined);
      throw err;
    }
    this.bus = bus;
  }

  async readWord(address: number, command: number): Promise<number> {
    return this.opened().readWord(address, command);
  }

  async writeWord(address: number, command: number, word: number): Promise<void> {
    return this.opened().writeWord(address, command, word);
  }

  async readByte(address: number, command: number): Promise<number> {
    return this.opened().readByte(address, command);
  }

  async receiveByte(address: number): Promise<number> {
    return this.opened().receiveByte(address);
  }

  async close(): Promise<void> {
    const bus = this.bus;
    this.bus = null;
    await bus?.close();
  }

  private opened(): PromisifiedBus {
    if (this.bus === null) throw new I2cError(`/dev/i2c-${this.busNumber} is not open`, 'closed');
    return this.bus;
  }
}

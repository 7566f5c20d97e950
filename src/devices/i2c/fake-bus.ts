import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import type { SmbusAdapter } from './bus.js';
import type { FakeI2cChip } from './fake-chips.js';

interface Slot {
  chip: FakeI2cChip;
  unplugged: boolean;
  /** NACK every Nth access (0 = never). */
  flakyEvery: number;
  /** When set, every read returns this word (a stuck or floating bus). */
  garbage: number | null;
}

export interface FakeI2cBusOptions {
  /** False simulates a missing `/dev/i2c-N` (open fails with ENOENT). */
  present?: boolean;
  /** Time each transaction takes, in ms (default: one event-loop turn). */
  latencyMs?: number;
}

function errno(code: string, errnoValue: number, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}, ${syscall}`), { code, errno: errnoValue, syscall });
}

/**
 * An in-memory I2C bus with chips mapped by address, behind the same SMBus primitives as the kernel:
 * a word read assembles the first byte on the wire as the low byte. Switches make a chip unplugged
 * (every access NACKs with EREMOTEIO), flaky (every Nth access NACKs) or return garbage. It counts
 * accesses per address and the peak number of overlapping transactions, so tests can check retries
 * and that access to the bus is serialized.
 */
export class FakeI2cBus implements SmbusAdapter {
  private readonly slots = new Map<number, Slot>();
  private readonly accessCounts = new Map<number, number>();
  private readonly nackCounts = new Map<number, number>();
  private readonly present: boolean;
  private readonly latencyMs: number;
  private isOpen = false;
  private inFlight = 0;
  /** Highest number of transactions that were in progress at once. */
  peakConcurrency = 0;
  opens = 0;

  constructor(
    readonly busNumber = 1,
    opts: FakeI2cBusOptions = {},
  ) {
    this.present = opts.present ?? true;
    this.latencyMs = opts.latencyMs ?? 0;
  }

  attach(address: number, chip: FakeI2cChip): void {
    this.slots.set(address, { chip, unplugged: false, flakyEvery: 0, garbage: null });
  }

  chip<T extends FakeI2cChip>(address: number): T {
    const slot = this.slots.get(address);
    if (!slot) throw new Error(`no simulated chip at 0x${address.toString(16)}`);
    return slot.chip as T;
  }

  addresses(): number[] {
    return [...this.slots.keys()].sort((a, b) => a - b);
  }

  /** The chip stops answering (NACK). */
  unplug(address: number): void {
    this.slot(address).unplugged = true;
  }

  /** The chip answers again, reset to its power-on state as after a real replug. */
  plug(address: number): void {
    const slot = this.slot(address);
    slot.unplugged = false;
    slot.chip.reset();
  }

  /** NACK every `everyN`th access to this address (0 turns it off). */
  setFlaky(address: number, everyN: number): void {
    this.slot(address).flakyEvery = everyN;
  }

  /** Every read returns `word` (0xFFFF: SDA stuck high); null turns it off. Writes are acknowledged. */
  setGarbage(address: number, word: number | null = 0xffff): void {
    this.slot(address).garbage = word;
  }

  accesses(address: number): number {
    return this.accessCounts.get(address) ?? 0;
  }

  nacks(address: number): number {
    return this.nackCounts.get(address) ?? 0;
  }

  async open(): Promise<void> {
    await tick();
    if (!this.present) throw errno('ENOENT', -2, `open '/dev/i2c-${this.busNumber}'`);
    this.isOpen = true;
    this.opens++;
  }

  readWord(address: number, command: number): Promise<number> {
    return this.access(address, 'readWord', (slot) => {
      if (slot.garbage !== null) return slot.garbage & 0xffff;
      const [first = 0, second = 0] = slot.chip.read(command, 2);
      return first | (second << 8);
    });
  }

  writeWord(address: number, command: number, word: number): Promise<void> {
    return this.access(address, 'writeWord', (slot) => {
      if (slot.garbage === null) slot.chip.write(command, [word & 0xff, (word >> 8) & 0xff]);
    });
  }

  readByte(address: number, command: number): Promise<number> {
    return this.access(address, 'readByte', (slot) =>
      slot.garbage !== null ? slot.garbage & 0xff : (slot.chip.read(command, 1)[0] ?? 0),
    );
  }

  receiveByte(address: number): Promise<number> {
    return this.access(address, 'receiveByte', (slot) =>
      slot.garbage !== null ? slot.garbage & 0xff : slot.chip.receive(),
    );
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }

  private slot(address: number): Slot {
    const slot = this.slots.get(address);
    if (!slot) throw new Error(`no simulated chip at 0x${address.toString(16)}`);
    return slot;
  }

  private async access<T>(address: number, syscall: string, op: (slot: Slot) => T): Promise<T> {
    if (!this.isOpen) throw errno('EBADF', -9, syscall);
    this.inFlight++;
    this.peakConcurrency = Math.max(this.peakConcurrency, this.inFlight);
    try {
      if (this.latencyMs > 0) await sleep(this.latencyMs);
      else await tick();
      const count = (this.accessCounts.get(address) ?? 0) + 1;
      this.accessCounts.set(address, count);
      const slot = this.slots.get(address);
      if (!slot || slot.unplugged || (slot.flakyEvery > 0 && count % slot.flakyEvery === 0)) {
        this.nackCounts.set(address, (this.nackCounts.get(address) ?? 0) + 1);
        throw errno('EREMOTEIO', -121, syscall);
      }
      return op(slot);
    } finally {
      this.inFlight--;
    }
  }
}

import { afterEach, describe, expect, it } from 'vitest';
import { I2cError } from '../../src/devices/i2c/errors.js';
import { FakeI2cBus } from '../../src/devices/i2c/fake-bus.js';
import { FakeIna219, FakeTmp102, Register16Chip } from '../../src/devices/i2c/fake-chips.js';
import { SmbusI2cBus } from '../../src/devices/i2c/smbus-bus.js';

/** A chip with plain read/write 16-bit registers, high byte first on the wire. */
class PlainChip extends Register16Chip {
  readonly model = 'plain';
  regs = new Map<number, number>();
  reset(): void {
    this.regs.clear();
  }
  protected value(register: number): number {
    return this.regs.get(register) ?? 0;
  }
  protected store(register: number, word: number): void {
    this.regs.set(register, word);
  }
}

let bus: SmbusI2cBus | undefined;
afterEach(async () => {
  await bus?.close();
  bus = undefined;
});

function setup(retries?: number) {
  const fake = new FakeI2cBus(1);
  const chip = new PlainChip();
  fake.attach(0x20, chip);
  bus = new SmbusI2cBus(1, fake, { retries, retryDelayMs: 1 });
  return { fake, chip, bus };
}

describe('byte order', () => {
  it('returns a big-endian register as the chip holds it (the SMBus word is swapped back)', async () => {
    const { chip, bus } = setup();
    chip.regs.set(0x02, 0x1234);
    expect(await bus.readWord(0x20, 0x02, 'be')).toBe(0x1234);
    // Without the swap the same transaction gives the SMBus (low byte first) word.
    expect(await bus.readWord(0x20, 0x02, 'le')).toBe(0x3412);
  });

  it('writes a big-endian word so the chip stores it as given', async () => {
    const { chip, bus } = setup();
    await bus.writeWord(0x20, 0x05, 0xabcd, 'be');
    expect(chip.regs.get(0x05)).toBe(0xabcd);
    await bus.writeWord(0x20, 0x06, 0xabcd, 'le');
    expect(chip.regs.get(0x06)).toBe(0xcdab);
  });

  it('reads a single byte (the register high byte, first on the wire)', async () => {
    const { chip, bus } = setup();
    chip.regs.set(0x01, 0x9a42);
    expect(await bus.readByte(0x20, 0x01)).toBe(0x9a);
  });

  it('rejects out-of-range arguments without touching the bus', async () => {
    const { fake, bus } = setup();
    await expect(bus.readWord(0x80, 0, 'be')).rejects.toThrow(/invalid I2C address/);
    await expect(bus.writeWord(0x20, 0, 0x10000, 'be')).rejects.toThrow(/invalid I2C value/);
    expect(fake.accesses(0x20)).toBe(0);
  });
});

describe('retries', () => {
  it('retries a NACK and succeeds: the flaky access costs exactly one extra attempt', async () => {
    const { fake, chip, bus } = setup();
    chip.regs.set(0x00, 0x0102);
    fake.setFlaky(0x20, 2); // every 2nd access NACKs
    const values: number[] = [];
    for (let i = 0; i < 4; i++) values.push(await bus.readWord(0x20, 0x00, 'be'));
    expect(values).toEqual([0x0102, 0x0102, 0x0102, 0x0102]);
    // accesses: 1 ok, 2 nack, 3 ok, 4 nack, 5 ok, 6 nack, 7 ok
    expect(fake.accesses(0x20)).toBe(7);
    expect(fake.nacks(0x20)).toBe(3);
    expect(bus.stats()).toEqual({ transactions: 4, retries: 3, failures: 0 });
  });

  it('gives up after the configured retries with a NACK error', async () => {
    const { fake, bus } = setup(2);
    fake.unplug(0x20);
    const err = await bus.readWord(0x20, 0x00, 'be').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(I2cError);
    expect((err as I2cError).kind).toBe('nack');
    expect((err as I2cError).code).toBe('EREMOTEIO');
    expect((err as I2cError).attempts).toBe(3);
    expect((err as I2cError).message).toMatch(/i2c-1 0x20 read 0x00: no acknowledge after 3 attempts/);
    expect(fake.accesses(0x20)).toBe(3);
    expect(bus.stats()).toEqual({ transactions: 1, retries: 2, failures: 1 });
  });

  it('with retries 0 a single NACK fails the transaction', async () => {
    const { fake, bus } = setup(0);
    fake.unplug(0x20);
    await expect(bus.readWord(0x20, 0x00, 'be')).rejects.toThrow(/no acknowledge \(EREMOTEIO\)/);
    expect(fake.accesses(0x20)).toBe(1);
  });
});

describe('serialization', () => {
  it('never has two transactions on the wire at once, even from concurrent callers', async () => {
    const fake = new FakeI2cBus(1, { latencyMs: 2 });
    fake.attach(0x40, new FakeIna219({ busVoltageV: 12 }));
    fake.attach(0x48, new FakeTmp102({ temperatureC: 20 }));
    bus = new SmbusI2cBus(1, fake);
    const jobs: Promise<number>[] = [];
    for (let i = 0; i < 20; i++) {
      jobs.push(bus.readWord(0x40, 0x02, 'be'), bus.readWord(0x48, 0x00, 'be'));
    }
    const words = await Promise.all(jobs);
    expect(words.filter((_, i) => i % 2 === 1).every((w) => w === (20 / 0.0625) << 4)).toBe(true);
    expect(fake.peakConcurrency).toBe(1);
    expect(fake.accesses(0x40) + fake.accesses(0x48)).toBe(40);
  });

  it('a failing transaction does not block the ones queued behind it', async () => {
    const { fake, chip, bus } = setup(0);
    chip.regs.set(0x00, 7);
    fake.attach(0x21, new PlainChip());
    fake.unplug(0x21);
    const results = await Promise.allSettled([bus.readWord(0x21, 0, 'be'), bus.readWord(0x20, 0, 'be')]);
    expect(results[0].status).toBe('rejected');
    expect(results[1]).toEqual({ status: 'fulfilled', value: 7 });
  });
});

describe('open and probe', () => {
  it('reports a missing bus as no-bus with the fix, and tries to open again next time', async () => {
    const fake = new FakeI2cBus(3, { present: false });
    bus = new SmbusI2cBus(3, fake);
    const err = await bus.readWord(0x40, 0, 'be').catch((e: unknown) => e);
    expect((err as I2cError).kind).toBe('no-bus');
    expect((err as I2cError).message).toMatch(/\/dev\/i2c-3 does not exist: enable I2C/);
    await expect(bus.probe(0x40)).rejects.toThrow(/does not exist/);
    expect(bus.stats().failures).toBe(2);
  });

  it('opens once for many transactions', async () => {
    const { fake, bus } = setup();
    await bus.readWord(0x20, 0, 'be');
    await bus.readWord(0x20, 1, 'be');
    expect(fake.opens).toBe(1);
  });

  it('probe: true for a chip, false for an empty address or an unplugged chip, no retries', async () => {
    const { fake, bus } = setup();
    expect(await bus.probe(0x20)).toBe(true);
    expect(await bus.probe(0x21)).toBe(false);
    fake.unplug(0x20);
    expect(await bus.probe(0x20)).toBe(false);
    expect(fake.accesses(0x20)).toBe(2);
  });

  it('refuses transactions after close', async () => {
    const { bus } = setup();
    await bus.close();
    await expect(bus.readWord(0x20, 0, 'be')).rejects.toThrow(/closed/);
  });
});

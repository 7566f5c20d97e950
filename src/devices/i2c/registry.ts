import { existsSync } from 'node:fs';
import type { I2cBus, SmbusAdapter } from './bus.js';
import { FakeI2cBus } from './fake-bus.js';
import { I2cBusAdapter } from './i2c-bus-adapter.js';
import { type I2cRetryOptions, SmbusI2cBus } from './smbus-bus.js';

/**
 * Hands out one shared `I2cBus` per bus number, so every device on `/dev/i2c-1` goes through the same
 * queue. Simulated or real is decided once, by the composition root: it passes `simulated: true` for
 * `powerdeal demo`/`sim`, for `--simulated`, or when `i2cBusPresent()` says the machine has no such bus
 * (and then shows "simulated" in the status so nobody mistakes the values for measurements).
 */
export interface I2cBusRegistry {
  readonly simulated: boolean;
  bus(busNumber: number): I2cBus;
  /** The simulated bus behind `bus(n)`, to place chips and flip faults; undefined on hardware. */
  simulator(busNumber: number): FakeI2cBus | undefined;
  /** Closes every bus handed out. */
  closeAll(): Promise<void>;
}

export interface I2cBusRegistryOptions extends I2cRetryOptions {
  simulated: boolean;
  /** Time each simulated transaction takes (a 16-bit register read at 100 kHz is about 0.5 ms). */
  simulatedLatencyMs?: number;
}

export function createI2cBusRegistry(opts: I2cBusRegistryOptions): I2cBusRegistry {
  const buses = new Map<number, SmbusI2cBus>();
  const fakes = new Map<number, FakeI2cBus>();
  const adapterFor = (n: number): SmbusAdapter => {
    if (!opts.simulated) return new I2cBusAdapter(n);
    const fake = new FakeI2cBus(n, { latencyMs: opts.simulatedLatencyMs });
    fakes.set(n, fake);
    return fake;
  };
  return {
    simulated: opts.simulated,
    bus(busNumber) {
      let bus = buses.get(busNumber);
      if (bus === undefined) {
        bus = new SmbusI2cBus(busNumber, adapterFor(busNumber), opts);
        buses.set(busNumber, bus);
      }
      return bus;
    },
    simulator(busNumber) {
      if (!opts.simulated) return undefined;
      this.bus(busNumber);
      return fakes.get(busNumber);
    },
    async closeAll() {
      const all = [...buses.values()];
      buses.clear();
      fakes.clear();
      await Promise.all(all.map((b) => b.close()));
    },
  };
}

/** Whether this machine has `/dev/i2c-N` (on a Pi: I2C enabled in raspi-config). */
export function i2cBusPresent(busNumber: number): boolean {
  return existsSync(`/dev/i2c-${busNumber}`);
}

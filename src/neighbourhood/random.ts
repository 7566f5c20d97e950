import { hash01, mulberry32 } from '../sim/prng.js';

/**
 * Seeded randomness for the simulation. Each concern draws from its own stream (network, crashes,
 * partitions, the rogue client…), so adding draws to one never shifts the others: a run with the rogue
 * client has the same network faults as the run without it.
 */
export class Random {
  private readonly next: () => number;

  constructor(seed: number, stream: number) {
    this.next = mulberry32(Math.floor(hash01(seed, 0x5eed + stream, stream) * 0x1_0000_0000));
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A float in [min, max). */
  range(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Time to the next event of a Poisson process with `perHour` events per hour, ms. */
  exponentialMs(perHour: number): number {
    return Math.max(1, Math.round((-Math.log(1 - this.next()) / perHour) * 3_600_000));
  }
}

/** The streams of one run. */
export const STREAM = {
  homes: 1,
  network: 2,
  /** Connect latencies of the simulated transport. */
  links: 3,
  crashes: 4,
  partitions: 5,
  meters: 6,
  rogue: 7,
  /** The links' own chance (reconnect backoff, drain start jitter, breaker jitter). */
  linkClocks: 8,
} as const;

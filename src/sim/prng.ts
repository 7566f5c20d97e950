/**
 * Seeded randomness for the simulated home. The day is built from stateless hashes of (seed, channel,
 * index), so a value at a given time never depends on when or how often it was asked for.
 */

/** A 32-bit integer hash (murmur3 finalizer) of three integers, as a float in [0, 1). */
export function hash01(seed: number, channel: number, index: number): number {
  let h = (seed ^ Math.imul(channel, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (index >>> 0), 0x85ebca6b);
  h = Math.imul(h ^ Math.floor(index / 0x1_0000_0000), 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/** Smooth value noise in [0, 1): hashed knots every `periodS` seconds, eased between them. */
export function smoothNoise(seed: number, channel: number, tS: number, periodS: number): number {
  const x = tS / periodS;
  const k = Math.floor(x);
  const f = x - k;
  const ease = f * f * (3 - 2 * f);
  const a = hash01(seed, channel, k);
  const b = hash01(seed, channel, k + 1);
  return a + (b - a) * ease;
}

/** A sequential generator (mulberry32) for things that need a stream, such as garbage bytes. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

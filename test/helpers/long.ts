/**
 * Soak and chaos modes: `POWERDEAL_LONG=1 npm test` runs the fault tests at a larger scale (more kills,
 * longer outages). CI runs the default scale; the long figures go in the closing notes.
 */
export const LONG = process.env.POWERDEAL_LONG === '1';

/** `normal` in CI, `long` in the soak mode. */
export function scale(normal: number, long: number): number {
  return LONG ? long : normal;
}

/** A test timeout that grows with the soak mode. */
export function timeoutFor(normalMs: number, longMs: number): number {
  return LONG ? longMs : normalMs;
}

import { slotStart } from './slots.js';
import { INTEGRAL_SLOTS, type SlotIntegral, type Volatile } from './state.js';
import type { EngineConfig } from './types.js';

/**
 * The grid power estimate: a time-based EWMA of the good gridPowerW samples (alpha = 1 − e^(−dt/τ), so the
 * smoothing does not depend on the cycle length), and the per-slot integral of the same samples used when
 * the meter counters are missing at settlement.
 */

/** Folds one good gridPowerW sample taken at `now` into the estimate and the integrals. */
export function observeGridPower(vol: Volatile, cfg: EngineConfig, w: number, now: number): Volatile {
  const prevAt = vol.lastGoodAt;
  const known = vol.ema !== null && prevAt !== null && now - prevAt < cfg.maxReadingAgeMs;
  let ema: number;
  if (!known || vol.ema === null) {
    ema = w;
  } else {
    const dt = now - (prevAt ?? now);
    const alpha = cfg.smoothingTauMs > 0 ? 1 - Math.exp(-Math.max(0, dt) / cfg.smoothingTauMs) : 1;
    ema = vol.ema + alpha * (w - vol.ema);
  }
  // A gap longer than the reading age is not bridged: the integral then does not cover its slot.
  const bridge = prevAt !== null && now > prevAt && now - prevAt <= cfg.maxReadingAgeMs;
  const integrals = bridge ? integrate(vol.integrals, cfg.slotMs, prevAt, now, w) : vol.integrals;
  return { ...vol, ema, lastGoodAt: now, lastGoodW: w, integrals };
}

/** The smoothed grid power (+ import), or null when no good sample arrived for maxReadingAgeMs. */
export function gridEstimate(vol: Volatile, cfg: EngineConfig, now: number): number | null {
  if (vol.ema === null || vol.lastGoodAt === null) return null;
  return now - vol.lastGoodAt < cfg.maxReadingAgeMs ? vol.ema : null;
}

/** Adds power `w` held over [from, to) to the slots it spans, keeping the last INTEGRAL_SLOTS slots. */
function integrate(
  integrals: readonly SlotIntegral[],
  slotMs: number,
  from: number,
  to: number,
  w: number,
): SlotIntegral[] {
  const next = integrals.slice();
  let a = from;
  while (a < to) {
    const slot = slotStart(a, slotMs);
    const b = Math.min(to, slot + slotMs);
    const wh = (w * (b - a)) / 3_600_000;
    let i = next.length - 1;
    while (i >= 0 && next[i]!.slot > slot) i--;
    const cur = i >= 0 && next[i]!.slot === slot ? next[i]! : null;
    const updated: SlotIntegral = {
      slot,
      importWh: (cur?.importWh ?? 0) + (wh > 0 ? wh : 0),
      exportWh: (cur?.exportWh ?? 0) + (wh < 0 ? -wh : 0),
      coveredMs: (cur?.coveredMs ?? 0) + (b - a),
    };
    if (cur) next[i] = updated;
    else next.splice(i + 1, 0, updated);
    a = b;
  }
  return next.length > INTEGRAL_SLOTS ? next.slice(next.length - INTEGRAL_SLOTS) : next;
}

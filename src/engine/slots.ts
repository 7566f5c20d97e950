/** Slot arithmetic. Slots are aligned to the epoch: slot k covers [k·slotMs, (k+1)·slotMs). */

const MS_PER_HOUR = 3_600_000;

/** Start of the slot containing `t`. */
export function slotStart(t: number, slotMs: number): number {
  return Math.floor(t / slotMs) * slotMs;
}

/** The slot a home trades at `t`: the next one (the current one's gate has closed). */
export function tradingSlot(t: number, slotMs: number): number {
  return slotStart(t, slotMs) + slotMs;
}

/** Energy of a constant power held over a whole slot, Wh (not rounded). */
export function slotWh(powerW: number, slotMs: number): number {
  return (powerW * slotMs) / MS_PER_HOUR;
}

/** The constant power that delivers `wh` over a slot, W. */
export function slotPowerW(wh: number, slotMs: number): number {
  return (wh * MS_PER_HOUR) / slotMs;
}

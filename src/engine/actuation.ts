import type { Snapshot } from '../core/quantities.js';
import { goodValue, type StepContext } from './context.js';
import { tradedWh } from './deals.js';
import type { Durable } from './durable.js';
import { slotPowerW, slotStart } from './slots.js';
import type { LoadState, Volatile } from './state.js';

/**
 * What the home does with what it traded in the current slot: flexible loads run on bought power, and where
 * the home must not export more than it sold, the inverter is limited to consumption + sold power.
 */

/** Switches the flexible loads for the power bought in the current slot; emits `relay` on changes only. */
export function actuateLoads(d: Durable, vol: Volatile, ctx: StepContext): Volatile {
  const { cfg, now } = ctx;
  if (cfg.flexLoads.length === 0) return vol;
  const boughtW = slotPowerW(tradedWh(d.deals, slotStart(now, cfg.slotMs), 'buyer'), cfg.slotMs);
  let loads: LoadState[] | null = null;
  let cumulativeW = 0;
  cfg.flexLoads.forEach((load, i) => {
    // Config order is priority: once a load does not fit, the cumulative power keeps the ones after it off.
    cumulativeW += load.powerW;
    const fits = cumulativeW <= boughtW;
    const cur = vol.loads[i] ?? { on: false, since: null };
    if (cur.on === fits) return;
    const holdMs = cur.on ? load.minOnMs : load.minOffMs;
    if (cur.since !== null && now - cur.since < holdMs) return;
    loads ??= cfg.flexLoads.map((_, j) => vol.loads[j] ?? { on: false, since: null });
    loads[i] = { on: fits, since: now };
    ctx.commands.push({ kind: 'relay', id: load.id, on: fits });
  });
  return loads ? { ...vol, loads } : vol;
}

/**
 * Limits the inverter so the home exports no more than it sold (engine.noExport), plus a probe margin.
 * The surplus is measured at the grid meter, so a home limited to exactly load + sold power would never see
 * a surplus to offer: the margin (minOfferW + reserveW) lets the estimate reach the offer threshold, at the
 * cost of exporting at most that margin unsold. Such a home offers at most minOfferW beyond what it sells in
 * the current slot, so its offers grow slot by slot as they sell.
 */
export function limitExport(d: Durable, vol: Volatile, ctx: StepContext, snapshot: Snapshot): Volatile {
  const { cfg, now } = ctx;
  const noExport = cfg.noExport;
  if (!noExport) return vol;
  const pvW = goodValue(snapshot, 'pvPowerW');
  const loadW = goodValue(snapshot, 'loadPowerW');
  if (pvW === null || loadW === null) return vol;
  const soldW = slotPowerW(tradedWh(d.deals, slotStart(now, cfg.slotMs), 'seller'), cfg.slotMs);
  const limitW = loadW + soldW + cfg.minOfferW + cfg.reserveW;
  const limitPct = Math.min(100, Math.max(0, Math.ceil((limitW / noExport.inverterWMax) * 100)));
  const current = vol.exportLimitPct;
  let pct: number | null;
  if (typeof current !== 'number') pct = pvW <= limitW ? null : limitPct;
  // A limited inverter produces about its limit: only output clearly below it (less sun) lifts the limit,
  // so the limit does not flap every cycle.
  else if (pvW < 0.9 * (current / 100) * noExport.inverterWMax) pct = null;
  else pct = limitPct;
  if (pct === vol.exportLimitPct) return vol;
  ctx.commands.push({ kind: 'export-limit', device: noExport.device, pct });
  return { ...vol, exportLimitPct: pct };
}

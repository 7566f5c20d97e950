import { buysFor, isTrade, sellsFor } from './deals.js';
import type { Deal } from './durable.js';
import { slotStart } from './slots.js';
import { durableOf, volatileOf } from './state.js';
import type { DealView, EngineState, EngineSummary, EngineTotals, OwnOfferView } from './types.js';

/** Read-only selectors over an engine state: the page, the CLI and the simulation's invariants. */

/** This home's offers, newest slot first. */
export function ownOffers(state: EngineState): OwnOfferView[] {
  const offers = durableOf(state).offers;
  const out: OwnOfferView[] = [];
  for (let i = offers.length - 1; i >= 0; i--) {
    const o = offers[i]!;
    out.push({
      slot: o.slot,
      version: o.version,
      energyWh: o.energyWh,
      availableWh: o.availableWh,
      priceCentsPerKwh: o.priceCentsPerKwh,
      status: o.status,
      exp: o.slot,
      ts: o.ts,
      maxEnergyWh: o.maxEnergyWh,
    });
  }
  return out;
}

function dealView(x: Deal): DealView {
  return {
    id: x.tradeId ?? x.acceptId,
    acceptId: x.acceptId,
    tradeId: x.tradeId,
    role: x.role,
    counterparty: x.counterparty,
    slot: x.slot,
    energyWh: x.energyWh,
    priceCentsPerKwh: x.priceCentsPerKwh,
    status: x.status,
    rejectReason: x.rejectReason,
    confirmedAt: x.confirmedAt,
    acknowledged: x.role === 'buyer' ? isTrade(x) : x.acked,
    ownAllocationWh: x.ownAllocWh,
    peerAllocationWh: x.peerAllocWh,
    settledWh: x.settledWh,
    ts: x.ts,
  };
}

/** Trades and requests, newest first (by slot, then creation). */
export function deals(state: EngineState): DealView[] {
  const all = durableOf(state).deals;
  const out: DealView[] = [];
  for (let i = all.length - 1; i >= 0; i--) out.push(dealView(all[i]!));
  return out;
}

export function summary(state: EngineState): EngineSummary {
  const d = durableOf(state);
  const vol = volatileOf(state);
  // The slot being traded decides the role; failing that, the slot being delivered.
  const current = slotStart(vol.now, vol.slotMs);
  let role: EngineSummary['role'] = 'idle';
  for (const slot of [current + vol.slotMs, current]) {
    if (sellsFor(d, slot)) role = 'seller';
    else if (buysFor(d, slot)) role = 'buyer';
    if (role !== 'idle') break;
  }
  const loadsOn: string[] = [];
  vol.loads.forEach((l, i) => {
    const id = vol.loadIds[i];
    if (l.on && id !== undefined) loadsOn.push(id);
  });
  return {
    netW: vol.grid === null ? null : -vol.grid,
    role,
    loadsOn,
    exportLimitPct: vol.exportLimitPct ?? null,
  };
}

export function totals(state: EngineState): EngineTotals {
  const t = durableOf(state).totals;
  return {
    offers: t.offers,
    trades: { ...t.trades },
    energyWh: { ...t.energyWh },
    rejects: { ...t.rejects },
  };
}

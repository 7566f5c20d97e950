import type { Snapshot } from '../core/quantities.js';
import type { AckBody, SettlementBody } from '../protocol/trading.js';
import { goodValue, type StepContext, send, sendAck } from './context.js';
import { findDealIndex, replaceDeal } from './deals.js';
import type { Deal, DealRole, Durable, Measured, MeterReading, SettlementBasis } from './durable.js';
import { slotStart } from './slots.js';
import { METER_SLOTS, type Volatile } from './state.js';

/**
 * After a slot, each side allocates its metered export (seller) or import (buyer) in that slot across its
 * trades of the slot in confirmation order and tells the counterparty; the settled energy of a trade is the
 * smaller of the two allocations. Meter counters at both slot boundaries are the basis; the integral of the
 * good power samples is the fallback when the home ran the whole slot; otherwise nothing is claimed.
 */

/** Records the first good counters seen at a slot start, if they are fresh enough to stand for the boundary. */
export function recordMeter(d: Durable, ctx: StepContext, snapshot: Snapshot): Durable {
  const { cfg, now } = ctx;
  const slot = slotStart(now, cfg.slotMs);
  if (now - slot > cfg.maxReadingAgeMs) return d;
  const last = d.meter[d.meter.length - 1];
  if (last !== undefined && last.slot > slot) return d;
  const cur = last?.slot === slot ? last : undefined;
  if (cur && cur.importWh !== null && cur.exportWh !== null) return d;
  const importWh = cur?.importWh ?? goodValue(snapshot, 'gridImportWh');
  const exportWh = cur?.exportWh ?? goodValue(snapshot, 'gridExportWh');
  if (importWh === (cur?.importWh ?? null) && exportWh === (cur?.exportWh ?? null)) return d;
  const reading: MeterReading = { slot, importWh, exportWh };
  const meter = cur ? [...d.meter.slice(0, -1), reading] : [...d.meter, reading];
  return { ...d, meter: meter.length > METER_SLOTS ? meter.slice(meter.length - METER_SLOTS) : meter };
}

/** What this home exported (seller) or imported (buyer) in a slot, and how it knows. */
function measureSlot(
  d: Durable,
  vol: Volatile,
  slotMs: number,
  slot: number,
  role: DealRole,
): { totalWh: number; basis: SettlementBasis } {
  const field = role === 'seller' ? 'exportWh' : 'importWh';
  const a = d.meter.find((m) => m.slot === slot)?.[field];
  const b = d.meter.find((m) => m.slot === slot + slotMs)?.[field];
  if (a !== null && a !== undefined && b !== null && b !== undefined && b >= a) {
    return { totalWh: Math.round(b - a), basis: 'meter' };
  }
  const integral = vol.integrals.find((x) => x.slot === slot);
  if (integral && integral.coveredMs >= slotMs)
    return { totalWh: Math.round(integral[field]), basis: 'integrated' };
  return { totalWh: 0, basis: 'none' };
}

function settlementBody(deal: Deal): SettlementBody {
  return {
    tradeId: deal.tradeId ?? '',
    slot: deal.slot,
    role: deal.role,
    tradedWh: deal.energyWh,
    allocatedWh: deal.ownAllocWh ?? 0,
    basis: deal.basis ?? 'none',
  };
}

export function sendSettlement(ctx: StepContext, deal: Deal, withCopy: boolean): void {
  const body = settlementBody(deal);
  send(ctx, {
    type: 'settlement',
    to: { inbox: deal.counterparty },
    class: 'settlement',
    body,
  });
  if (withCopy) send(ctx, { type: 'settlement', to: { own: 'trades' }, class: 'settlement', body });
}

function due(deal: Deal, slotMs: number, settleDelayMs: number, now: number): boolean {
  return (
    deal.status === 'confirmed' &&
    deal.tradeId !== null &&
    deal.ownAllocWh === null &&
    deal.slot + slotMs + settleDelayMs <= now
  );
}

/** When a slot's allocation is due: the earliest, over the trades not yet allocated (null: none). */
export function nextSettleAt(deal: Deal, slotMs: number, settleDelayMs: number): number | null {
  if (deal.status !== 'confirmed' || deal.tradeId === null || deal.ownAllocWh !== null) return null;
  return deal.slot + slotMs + settleDelayMs;
}

/** Allocates every slot whose settlement is due and sends the settlements. */
export function settleDue(d: Durable, vol: Volatile, ctx: StepContext): Durable {
  const { cfg, now } = ctx;
  const groups = new Map<string, { slot: number; role: DealRole }>();
  for (const deal of d.deals) {
    if (due(deal, cfg.slotMs, cfg.settleDelayMs, now)) groups.set(`${deal.slot}/${deal.role}`, deal);
  }
  if (groups.size === 0) return d;
  let next = d;
  for (const { slot, role } of groups.values()) {
    let measured: Measured | undefined = next.measured.find((m) => m.slot === slot && m.role === role);
    if (!measured) {
      measured = { slot, role, ...measureSlot(next, vol, cfg.slotMs, slot, role) };
      next = { ...next, measured: [...next.measured, measured] };
    }
    const same: Array<[number, Deal]> = [];
    let leftWh = measured.totalWh;
    next.deals.forEach((x, i) => {
      if (x.slot !== slot || x.role !== role) return;
      if (x.ownAllocWh !== null) leftWh -= x.ownAllocWh;
      else if (due(x, cfg.slotMs, cfg.settleDelayMs, now)) same.push([i, x]);
    });
    same.sort(([, a], [, b]) => confirmationOrder(a, b));
    let deals = next.deals;
    for (const [i, x] of same) {
      const allocWh = Math.max(0, Math.min(x.energyWh, leftWh));
      leftWh -= allocWh;
      const allocated = withOwnAllocation(x, allocWh, measured.basis, now, cfg.resendBaseMs);
      deals = replaceDeal(deals, i, allocated);
      sendSettlement(ctx, allocated, true);
    }
    next = { ...next, deals };
  }
  return next;
}

function confirmationOrder(a: Deal, b: Deal): number {
  const ta = a.confirmedAt ?? 0;
  const tb = b.confirmedAt ?? 0;
  if (ta !== tb) return ta - tb;
  const ia = a.tradeId ?? '';
  const ib = b.tradeId ?? '';
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

function withOwnAllocation(
  x: Deal,
  allocWh: number,
  basis: SettlementBasis,
  now: number,
  resendBaseMs: number,
): Deal {
  const settled = x.peerAllocWh !== null;
  return {
    ...x,
    ownAllocWh: allocWh,
    basis,
    settledWh: settled ? Math.min(allocWh, x.peerAllocWh ?? 0) : null,
    status: settled ? 'settled' : x.status,
    settlementAcked: false,
    settleNextAt: now + resendBaseMs,
    settleDelayMs: resendBaseMs,
    ts: now,
  };
}

/** A counterparty's allocation: recorded once, acknowledged every time. Unknown trades are not acknowledged. */
export function handleSettlement(
  d: Durable,
  ctx: StepContext,
  from: string,
  envId: string,
  s: SettlementBody,
): Durable {
  const i = findDealIndex(
    d.deals,
    (x) => x.tradeId === s.tradeId && x.counterparty === from && x.role !== s.role && x.tradeId !== null,
  );
  if (i < 0) return d;
  sendAck(ctx, from, { of: 'settlement', tradeId: s.tradeId }, envId);
  const deal = d.deals[i]!;
  if (deal.peerAllocWh !== null) return d;
  const settled = deal.ownAllocWh !== null;
  const updated: Deal = {
    ...deal,
    peerAllocWh: s.allocatedWh,
    settledWh: settled ? Math.min(deal.ownAllocWh ?? 0, s.allocatedWh) : null,
    status: settled ? 'settled' : deal.status,
    ts: ctx.now,
  };
  return { ...d, deals: replaceDeal(d.deals, i, updated) };
}

/** A receipt: stops the re-sends of a trade (seller) or of a settlement (either side). */
export function handleAck(d: Durable, ctx: StepContext, from: string, a: AckBody): Durable {
  if (a.of === 'trade') {
    const i = findDealIndex(
      d.deals,
      (x) => x.role === 'seller' && x.tradeId === a.tradeId && x.counterparty === from,
    );
    const deal = i >= 0 ? d.deals[i]! : undefined;
    if (!deal || deal.acked) return d;
    return { ...d, deals: replaceDeal(d.deals, i, { ...deal, acked: true, nextAt: null, ts: ctx.now }) };
  }
  const i = findDealIndex(d.deals, (x) => x.tradeId === a.tradeId && x.counterparty === from);
  const deal = i >= 0 ? d.deals[i]! : undefined;
  if (!deal || deal.ownAllocWh === null || deal.settlementAcked) return d;
  return {
    ...d,
    deals: replaceDeal(d.deals, i, { ...deal, settlementAcked: true, settleNextAt: null, ts: ctx.now }),
  };
}

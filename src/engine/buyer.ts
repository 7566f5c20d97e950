import type { AcceptBody, OfferBody, RejectBody, TradeBody } from '../protocol/trading.js';
import { nextId, type StepContext, send, sendAck } from './context.js';
import { findDealIndex, forSlot, insertDeal, isTrade, replaceDeal, sellsFor, unsettled } from './deals.js';
import type { Deal, Durable } from './durable.js';
import { slotWh } from './slots.js';
import { type MarketOffer, own, type Volatile } from './state.js';

/**
 * The buyer: keeps the neighbours' latest offers (in memory: see Volatile.market), asks for what the home needs in the next slot from the
 * cheapest valid offer, re-sends unanswered accepts, and records every trade a seller confirms (the seller is
 * the authority, so a late or unexpected trade is still binding) and acknowledges it.
 */

/** At most this many accepts wait for an answer at once. */
const MAX_OPEN_ACCEPTS = 3;

// ---- the market ----

/** Whether `b` supersedes `a` for the same seller: a later slot, a later version, or a fill of the same one. */
function supersedes(b: MarketOffer, a: MarketOffer): boolean {
  if (b.slot !== a.slot) return b.slot > a.slot;
  if (b.version !== a.version) return b.version > a.version;
  // Within one version the available energy only goes down (fills), whatever order messages arrive in.
  return b.availableWh <= a.availableWh;
}

export function handleOffer(
  vol: Volatile,
  ctx: StepContext,
  from: string,
  envId: string,
  exp: number | undefined,
  o: OfferBody,
): Volatile {
  const { cfg, now } = ctx;
  if (o.slot <= now || o.slotMs !== cfg.slotMs) return vol;
  const entry: MarketOffer = {
    slot: o.slot,
    version: o.version,
    energyWh: o.energyWh,
    availableWh: o.availableWh,
    priceCentsPerKwh: o.priceCentsPerKwh,
    exp: exp ?? o.slot,
    id: envId,
  };
  if (entry.exp <= now) return vol;
  const cur = own(vol.market, from);
  // The same message again (offers are not deduplicated: a redelivery or a retained copy) changes nothing.
  if (cur && cur.exp > now && (cur.id === envId || !supersedes(entry, cur))) return vol;
  return { ...vol, market: { ...vol.market, [from]: entry } };
}

export function dropMarketOffer(vol: Volatile, home: string): Volatile {
  if (!own(vol.market, home)) return vol;
  const { [home]: _gone, ...market } = vol.market;
  return { ...vol, market };
}

/** Forgets offers past their expiry. */
export function pruneMarket(vol: Volatile, now: number): Volatile {
  let market: Record<string, MarketOffer> | null = null;
  for (const [home, o] of Object.entries(vol.market)) {
    if (o.exp > now) continue;
    market ??= { ...vol.market };
    delete market[home];
  }
  return market ? { ...vol, market } : vol;
}

// ---- asking ----

/** Energy the home wants for a slot: its base deficit plus its flexible loads running the whole slot. */
function needWh(vol: Volatile, ctx: StepContext, grid: number): number {
  const { flexLoads, slotMs } = ctx.cfg;
  let switchedOnW = 0;
  let flexW = 0;
  flexLoads.forEach((l, i) => {
    flexW += l.powerW;
    if (vol.loads[i]?.on) switchedOnW += l.powerW;
  });
  const deficitW = Math.max(0, Math.max(0, grid) - switchedOnW);
  // The loads part rounds up: a load only runs when the bought power covers all of it.
  return Math.floor(slotWh(deficitW, slotMs)) + Math.ceil(slotWh(flexW, slotMs));
}

export function buyerTick(
  d: Durable,
  vol: Volatile,
  ctx: StepContext,
  grid: number | null,
  slot: number,
): { d: Durable; vol: Volatile } {
  const { cfg, now } = ctx;
  if (grid === null || now >= slot || sellsFor(d, slot)) return { d, vol };
  const scan = vol.emptyScan;
  if (scan && scan.slot === slot && scan.market === vol.market && scan.deals === d.deals) return { d, vol };

  let covered = 0;
  let open = 0;
  const asked = new Set<string>();
  forSlot(d.deals, slot, (x) => {
    if (x.role !== 'buyer') return;
    asked.add(`${x.counterparty}/${x.version}`);
    if (isTrade(x) || x.status === 'requested') covered += x.energyWh;
  });
  for (let i = d.deals.length - 1; i >= 0; i--) {
    const x = d.deals[i]!;
    if (x.slot <= now) break;
    if (x.role === 'buyer' && x.status === 'requested') open++;
  }
  let uncovered = needWh(vol, ctx, grid) - covered;
  if (uncovered < cfg.minTradeWh || open >= MAX_OPEN_ACCEPTS) return { d, vol };

  let next = d;
  while (uncovered >= cfg.minTradeWh && open < MAX_OPEN_ACCEPTS) {
    const pick = cheapest(
      vol.market,
      cfg.homeId,
      cfg.minTradeWh,
      cfg.maxBuyPriceCentsPerKwh,
      slot,
      now,
      asked,
    );
    if (!pick) break;
    const [seller, offer] = pick;
    const energyWh = Math.min(uncovered, offer.availableWh);
    const accept: AcceptBody = {
      acceptId: nextId(ctx),
      seller,
      slot,
      version: offer.version,
      energyWh,
      minWh: Math.min(cfg.minTradeWh, energyWh),
      maxPriceCentsPerKwh: cfg.maxBuyPriceCentsPerKwh,
    };
    sendAccept(ctx, accept);
    const deal: Deal = {
      role: 'buyer',
      acceptId: accept.acceptId,
      tradeId: null,
      counterparty: seller,
      slot,
      version: offer.version,
      energyWh,
      priceCentsPerKwh: offer.priceCentsPerKwh,
      status: 'requested',
      rejectReason: null,
      confirmedAt: null,
      acked: false,
      accept,
      trade: null,
      nextAt: now + cfg.answerTimeoutMs,
      delayMs: cfg.answerTimeoutMs,
      ...unsettled(cfg.resendBaseMs),
      ts: now,
    };
    next = { ...next, deals: insertDeal(next.deals, deal) };
    asked.add(`${seller}/${offer.version}`);
    uncovered -= energyWh;
    open++;
  }
  if (next === d) return { d, vol: { ...vol, emptyScan: { market: vol.market, deals: d.deals, slot } } };
  return { d: next, vol };
}

/** The valid offer to ask: cheapest, then most available, then lowest seller id. */
function cheapest(
  market: Record<string, MarketOffer>,
  self: string,
  minWh: number,
  maxPrice: number,
  slot: number,
  now: number,
  asked: ReadonlySet<string>,
): [string, MarketOffer] | null {
  let best: [string, MarketOffer] | null = null;
  for (const [seller, o] of Object.entries(market)) {
    if (seller === self || o.slot !== slot || o.exp <= now) continue;
    if (o.availableWh < minWh || o.priceCentsPerKwh > maxPrice || asked.has(`${seller}/${o.version}`))
      continue;
    if (best === null || better(seller, o, best[0], best[1])) best = [seller, o];
  }
  return best;
}

function better(s: string, o: MarketOffer, bs: string, b: MarketOffer): boolean {
  if (o.priceCentsPerKwh !== b.priceCentsPerKwh) return o.priceCentsPerKwh < b.priceCentsPerKwh;
  if (o.availableWh !== b.availableWh) return o.availableWh > b.availableWh;
  return s < bs;
}

export function sendAccept(ctx: StepContext, accept: AcceptBody): void {
  send(ctx, {
    type: 'accept',
    to: { inbox: accept.seller },
    class: 'accept',
    body: accept,
    exp: accept.slot,
  });
}

// ---- answers ----

export function handleTrade(
  d: Durable,
  ctx: StepContext,
  from: string,
  envId: string,
  t: TradeBody,
): Durable {
  const { cfg, now } = ctx;
  if (t.buyer !== cfg.homeId || t.seller !== from) return d;
  const ack = () => sendAck(ctx, from, { of: 'trade', tradeId: t.tradeId }, envId);
  if (findDealIndex(d.deals, (x) => x.role === 'buyer' && x.tradeId === t.tradeId) >= 0) {
    ack();
    return d;
  }
  const i = findDealIndex(
    d.deals,
    (x) => x.role === 'buyer' && x.acceptId === t.acceptId && x.counterparty === from && x.tradeId === null,
  );
  const base: Deal | undefined = i >= 0 ? d.deals[i] : undefined;
  const deal: Deal = {
    role: 'buyer',
    acceptId: t.acceptId,
    counterparty: from,
    accept: base?.accept ?? null,
    ...unsettled(cfg.resendBaseMs),
    tradeId: t.tradeId,
    slot: t.slot,
    version: t.version,
    energyWh: t.energyWh,
    priceCentsPerKwh: t.priceCentsPerKwh,
    status: 'confirmed',
    rejectReason: null,
    confirmedAt: t.confirmedAt,
    acked: true,
    trade: t,
    nextAt: null,
    delayMs: 0,
    ts: now,
  };
  ack();
  const deals = i >= 0 ? replaceDeal(d.deals, i, deal) : insertDeal(d.deals, deal);
  const tot = d.totals;
  return {
    ...d,
    deals,
    totals: {
      ...tot,
      trades: { ...tot.trades, buyer: tot.trades.buyer + 1 },
      energyWh: { ...tot.energyWh, buyer: tot.energyWh.buyer + t.energyWh },
    },
  };
}

export function handleReject(
  d: Durable,
  vol: Volatile,
  ctx: StepContext,
  from: string,
  r: RejectBody,
): { d: Durable; vol: Volatile } {
  if (r.seller !== from) return { d, vol };
  const i = findDealIndex(
    d.deals,
    (x) => x.role === 'buyer' && x.acceptId === r.acceptId && x.counterparty === from,
  );
  const deal = i >= 0 ? d.deals[i]! : undefined;
  if (!deal || (deal.status !== 'requested' && deal.status !== 'expired')) return { d, vol };
  const next: Durable = {
    ...d,
    deals: replaceDeal(d.deals, i, {
      ...deal,
      status: 'rejected',
      rejectReason: r.reason,
      nextAt: null,
      ts: ctx.now,
    }),
  };
  // A version refusal tells what the seller has now: the next tick may ask again against it.
  const cur = own(vol.market, from);
  if (r.reason === 'version' && cur && cur.slot === r.slot && r.version > cur.version) {
    const market = { ...vol.market, [from]: { ...cur, version: r.version, availableWh: r.availableWh } };
    return { d: next, vol: { ...vol, market } };
  }
  return { d: next, vol };
}

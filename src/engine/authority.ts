import type { AcceptBody, RejectBody, RejectReason, TradeBody } from '../protocol/trading.js';
import { nextId, type StepContext, send } from './context.js';
import { findDealIndex, findOffer, insertDeal, unsettled } from './deals.js';
import type { Deal, Durable, StoredAnswer } from './durable.js';
import { publishOffer, replaceOffer } from './seller.js';
import { own } from './state.js';

/**
 * The seller is the single authority for its offer: an accept is answered with a binding trade or a reject,
 * decided and recorded in one step (one transaction in the host). The answer is stored under
 * (buyer, acceptId), so a repeated accept gets the very same answer again and changes nothing.
 */

function answerKey(buyer: string, acceptId: string): string {
  return `${buyer}/${acceptId}`;
}

export function handleAccept(
  d: Durable,
  ctx: StepContext,
  from: string,
  envId: string,
  a: AcceptBody,
): Durable {
  const key = answerKey(from, a.acceptId);
  const stored = own(d.answers, key);
  if (stored) {
    replay(d, ctx, from, envId, stored);
    return d;
  }

  const { cfg, now } = ctx;
  const offer = findOffer(d, a.slot);
  let reason: RejectReason | null = null;
  let fill = 0;
  if (offer === undefined || now >= a.slot || a.seller !== cfg.homeId) reason = 'expired';
  else if (a.version !== offer.version) reason = 'version';
  else if (a.maxPriceCentsPerKwh < offer.priceCentsPerKwh) reason = 'price';
  else if (offer.availableWh === 0) reason = 'filled';
  else {
    fill = Math.min(a.energyWh, offer.availableWh);
    if (fill < a.minWh) reason = 'insufficient';
  }

  if (reason !== null || offer === undefined) {
    const body: RejectBody = {
      acceptId: a.acceptId,
      seller: cfg.homeId,
      slot: a.slot,
      reason: reason ?? 'expired',
      availableWh: offer?.availableWh ?? 0,
      version: offer?.version ?? 0,
    };
    send(ctx, { type: 'reject', to: { inbox: from }, class: 'reject', body, corr: envId });
    const answers = { ...d.answers, [key]: { slot: a.slot, type: 'reject', body } satisfies StoredAnswer };
    const rejects = { ...d.totals.rejects, [body.reason]: d.totals.rejects[body.reason] + 1 };
    return { ...d, answers, totals: { ...d.totals, rejects } };
  }

  const trade: TradeBody = {
    tradeId: nextId(ctx),
    acceptId: a.acceptId,
    seller: cfg.homeId,
    buyer: from,
    slot: a.slot,
    slotMs: cfg.slotMs,
    version: offer.version,
    energyWh: fill,
    priceCentsPerKwh: offer.priceCentsPerKwh,
    confirmedAt: now,
  };
  send(ctx, { type: 'trade', to: { inbox: from }, class: 'trade', body: trade, corr: envId });
  send(ctx, {
    type: 'trade',
    to: { own: 'trades' },
    class: 'trade',
    body: trade,
    corr: envId,
  });
  const availableWh = offer.availableWh - fill;
  const sold = {
    ...offer,
    soldWh: offer.soldWh + fill,
    availableWh,
    status: availableWh === 0 ? ('filled' as const) : offer.status,
    ts: now,
  };
  // The whole zone receives every revision, so a sale republishes the offer only once nothing worth asking
  // for is left. Until then a buyer that asks for more than is left gets a partial fill or a reject that
  // carries the true availableWh: one message to one home instead of one to every home.
  if (availableWh === 0 || availableWh < cfg.minTradeWh) publishOffer(ctx, sold);

  const deal: Deal = {
    role: 'seller',
    acceptId: a.acceptId,
    tradeId: trade.tradeId,
    counterparty: from,
    slot: a.slot,
    version: offer.version,
    energyWh: fill,
    priceCentsPerKwh: offer.priceCentsPerKwh,
    status: 'confirmed',
    rejectReason: null,
    confirmedAt: now,
    acked: false,
    accept: null,
    trade,
    nextAt: now + cfg.resendBaseMs,
    delayMs: cfg.resendBaseMs,
    ...unsettled(cfg.resendBaseMs),
    ts: now,
  };
  const next = replaceOffer(d, sold);
  const t = next.totals;
  return {
    ...next,
    deals: insertDeal(next.deals, deal),
    answers: { ...next.answers, [key]: { slot: a.slot, type: 'trade', tradeId: trade.tradeId } },
    totals: {
      ...t,
      trades: { ...t.trades, seller: t.trades.seller + 1 },
      energyWh: { ...t.energyWh, seller: t.energyWh.seller + fill },
    },
  };
}

/** Sends a stored answer again: a new envelope, the same body. */
function replay(d: Durable, ctx: StepContext, from: string, envId: string, stored: StoredAnswer): void {
  if (stored.type === 'reject') {
    send(ctx, {
      type: 'reject',
      to: { inbox: from },
      class: 'reject',
      body: stored.body,
      corr: envId,
    });
    return;
  }
  const i = findDealIndex(d.deals, (x) => x.role === 'seller' && x.tradeId === stored.tradeId);
  const trade = i >= 0 ? d.deals[i]!.trade : null;
  if (trade)
    send(ctx, {
      type: 'trade',
      to: { inbox: from },
      class: 'trade',
      body: trade,
      corr: envId,
    });
}

/** Re-sends an unacknowledged trade to the buyer's inbox (the trades-topic copy is sent once). */
export function resendTrade(ctx: StepContext, deal: Deal): void {
  if (deal.trade) {
    send(ctx, {
      type: 'trade',
      to: { inbox: deal.counterparty },
      class: 'trade',
      body: deal.trade,
    });
  }
}

import type { OfferBody } from '../protocol/trading.js';
import { type StepContext, send } from './context.js';
import { buysFor, findOffer } from './deals.js';
import type { Durable, OwnOffer } from './durable.js';
import { slotWh } from './slots.js';

/**
 * The seller's offer lifecycle for the slot it trades (the next one): open with hysteresis, revise at most
 * every reviseMinIntervalMs and only on a ≥ 20 % change, withdraw when the surplus goes away, expire at gate
 * closure. An offer never shrinks below what is already sold.
 */

/** A revision needs the estimate to move by at least this fraction of the offered energy. */
const REVISE_FRACTION = 0.2;

export function offerBody(o: OwnOffer, slotMs: number): OfferBody {
  return {
    slot: o.slot,
    slotMs,
    version: o.version,
    energyWh: o.energyWh,
    availableWh: o.availableWh,
    priceCentsPerKwh: o.priceCentsPerKwh,
    reserveWh: o.reserveWh,
  };
}

/** Publishes the offer on the home's retained offer topic, expiring at gate closure. */
export function publishOffer(ctx: StepContext, o: OwnOffer): void {
  send(ctx, {
    type: 'offer',
    to: { own: 'offer' },
    class: 'offer',
    body: offerBody(o, ctx.cfg.slotMs),
    exp: o.slot,
  });
}

/** Replaces the offer of the same slot (which must exist). */
export function replaceOffer(d: Durable, o: OwnOffer): Durable {
  const offers = d.offers.slice();
  for (let i = offers.length - 1; i >= 0; i--) {
    if (offers[i]!.slot === o.slot) {
      offers[i] = o;
      break;
    }
  }
  return { ...d, offers };
}

/** Open offers whose gate has closed become expired (only the newest ones can still be open). */
export function expireOffers(d: Durable, now: number): Durable {
  let offers: OwnOffer[] | null = null;
  for (let i = d.offers.length - 1; i >= 0; i--) {
    const o = d.offers[i]!;
    if (o.slot > now) continue;
    if (o.status !== 'open') break;
    offers ??= d.offers.slice();
    offers[i] = { ...o, status: 'expired', ts: now };
  }
  return offers ? { ...d, offers } : d;
}

/**
 * One tick of the seller for slot `slot`. `grid` is the smoothed grid power (+ import) or null when unknown.
 */
export function sellerTick(d: Durable, ctx: StepContext, grid: number | null, slot: number): Durable {
  const { cfg, now } = ctx;
  if (buysFor(d, slot)) return d;
  const headroom = grid === null ? null : -grid - cfg.reserveW;
  const estimateWh = headroom === null ? null : Math.floor(slotWh(headroom, cfg.slotMs));
  const offer = findOffer(d, slot);

  if (offer === undefined || offer.status === 'withdrawn') {
    if (headroom === null || estimateWh === null) return d;
    if (headroom < cfg.minOfferW || estimateWh < cfg.minTradeWh) return d;
    const last = d.offers[d.offers.length - 1];
    // A clock stepped back: never insert behind a newer slot's offer.
    if (offer === undefined && last !== undefined && last.slot > slot) return d;
    const opened: OwnOffer = {
      slot,
      version: (offer?.version ?? 0) + 1,
      energyWh: estimateWh,
      soldWh: 0,
      availableWh: estimateWh,
      priceCentsPerKwh: cfg.priceCentsPerKwh,
      reserveWh: Math.floor(slotWh(cfg.reserveW, cfg.slotMs)),
      status: 'open',
      revisedAt: now,
      ts: now,
      maxEnergyWh: Math.max(estimateWh, offer?.maxEnergyWh ?? 0),
    };
    publishOffer(ctx, opened);
    const offers = offer ? d.offers.map((o) => (o.slot === slot ? opened : o)) : [...d.offers, opened];
    return { ...d, offers, totals: { ...d.totals, offers: d.totals.offers + 1 } };
  }
  if (offer.status !== 'open' && offer.status !== 'filled') return d;

  if (headroom === null || estimateWh === null || headroom < cfg.minOfferW / 2) {
    if (offer.status !== 'open') return d;
    if (offer.soldWh === 0) {
      ctx.commands.push({ kind: 'clear-offer', exp: slot });
      return replaceOffer(d, { ...offer, availableWh: 0, status: 'withdrawn', ts: now });
    }
    const closed: OwnOffer = {
      ...offer,
      version: offer.version + 1,
      energyWh: offer.soldWh,
      availableWh: 0,
      status: 'filled',
      revisedAt: now,
      ts: now,
    };
    publishOffer(ctx, closed);
    return replaceOffer(d, closed);
  }

  if (now - offer.revisedAt < cfg.reviseMinIntervalMs) return d;
  if (Math.abs(estimateWh - offer.energyWh) < REVISE_FRACTION * offer.energyWh) return d;
  const energyWh = Math.max(estimateWh, offer.soldWh);
  if (energyWh === offer.energyWh) return d;
  const availableWh = energyWh - offer.soldWh;
  const revised: OwnOffer = {
    ...offer,
    version: offer.version + 1,
    energyWh,
    availableWh,
    status: availableWh > 0 ? 'open' : 'filled',
    revisedAt: now,
    ts: now,
    maxEnergyWh: Math.max(offer.maxEnergyWh, energyWh),
  };
  publishOffer(ctx, revised);
  return replaceOffer(d, revised);
}

import type { OfferRequestBody } from '../protocol/trading.js';
import { type StepContext, send } from './context.js';
import { findOffer } from './deals.js';
import type { Durable } from './durable.js';
import { offerBody } from './seller.js';
import { tradingSlot } from './slots.js';

/**
 * Offer sync (docs/protocol.md, "Offer requests"): a home that (re)connected asks the zone for the open
 * offers of the slot it trades, and every seller with one answers with a copy in the asker's inbox. Buyers
 * then see offers made before they subscribed on any broker, also one that does not deliver retained
 * messages to a wildcard subscription or keeps them per cluster node.
 */

/**
 * The link (re)connected: ask for the open offers of the trading slot, stale at its gate closure. A home
 * that sells in that slot never buys in it and does not ask; offers for later slots are made while it is
 * connected and reach it live.
 */
export function requestOffers(d: Durable, ctx: StepContext): void {
  const slot = tradingSlot(ctx.now, ctx.cfg.slotMs);
  const own = findOffer(d, slot);
  if (own !== undefined && own.status !== 'withdrawn') return;
  const body: OfferRequestBody = { slot, slotMs: ctx.cfg.slotMs };
  send(ctx, { type: 'offer-request', to: { own: 'requests' }, class: 'offer-sync', body, exp: slot });
}

/** A neighbour asks: answer with this home's open offer for that slot, if it has one. */
export function answerOfferRequest(d: Durable, ctx: StepContext, from: string, body: OfferRequestBody): void {
  if (body.slotMs !== ctx.cfg.slotMs || body.slot <= ctx.now) return;
  const offer = findOffer(d, body.slot);
  if (offer === undefined || offer.status !== 'open') return;
  send(ctx, {
    type: 'offer',
    to: { inbox: from },
    class: 'offer-sync',
    body: offerBody(offer, ctx.cfg.slotMs),
    exp: offer.slot,
  });
}

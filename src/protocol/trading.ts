import { z } from 'zod';
import { ID_PATTERN } from '../core/ids.js';
import { isUuidV7 } from './uuidv7.js';

/**
 * Bodies of the trading messages (docs/protocol.md). Energies are whole Wh, times epoch ms,
 * prices cents per kWh. Business identities (`acceptId`, `tradeId`) are stable across retransmissions; the
 * envelope id is new on every transmission, so the inbox's (from, id) dedupe only removes transport
 * duplicates and the engine decides what a repeated request means.
 */

/** The message types of trading: the ones a home's engine sends and takes. */
export const TRADING_TYPES = [
  'offer',
  'offer-request',
  'accept',
  'trade',
  'reject',
  'ack',
  'settlement',
] as const;
export type TradingType = (typeof TRADING_TYPES)[number];

const homeId = z.string().regex(ID_PATTERN);
const uuid = z.string().refine(isUuidV7, { error: 'must be a lowercase UUIDv7' });
const wh = z.int().min(0).max(100_000_000);
const price = z.number().min(0).max(100_000);
const time = z.int().min(0);

/** A seller's offer for one slot, retained on its offer topic; an empty payload there means "no offer". */
export const offerBodySchema = z
  .strictObject({
    /** Start of the slot the energy is delivered in; trading for it closes when it starts (gate closure). */
    slot: time,
    slotMs: z.int().min(60_000).max(3_600_000),
    /** Revision of this slot's offer, from 1; an accept names the version it saw. */
    version: z.int().min(1),
    /** Energy offered for the slot in total, including what is already sold. */
    energyWh: wh,
    /** What is still unsold when this revision was made. */
    availableWh: wh,
    priceCentsPerKwh: price,
    /** Energy the seller keeps back for itself over the slot (its reserve power × slot length). */
    reserveWh: wh,
  })
  .refine((b) => b.availableWh <= b.energyWh, { error: 'availableWh cannot exceed energyWh' });
export type OfferBody = z.infer<typeof offerBodySchema>;

/**
 * A home that (re)connected asks the zone for the open offers of the slot it trades; each seller with one
 * answers with a copy of it in the asker's inbox. Buyers so never depend on a broker delivering retained
 * offers to a wildcard subscription (RabbitMQ does not, and keeps retained messages per node).
 */
export const offerRequestBodySchema = z.strictObject({
  slot: time,
  slotMs: z.int().min(60_000).max(3_600_000),
});
export type OfferRequestBody = z.infer<typeof offerRequestBodySchema>;

/** A buyer's request for (part of) an offer, sent to the seller's inbox. */
export const acceptBodySchema = z
  .strictObject({
    /** The buyer's id for this request; a retransmission carries the same one. */
    acceptId: uuid,
    seller: homeId,
    slot: time,
    version: z.int().min(1),
    /** Energy wanted. */
    energyWh: wh.min(1),
    /** Smallest part the buyer takes; the seller fills min(energyWh, available) if that is ≥ minWh. */
    minWh: wh.min(1),
    maxPriceCentsPerKwh: price,
  })
  .refine((b) => b.minWh <= b.energyWh, { error: 'minWh cannot exceed energyWh' });
export type AcceptBody = z.infer<typeof acceptBodySchema>;

/** The seller's binding answer to an accept, sent to the buyer's inbox and on the seller's trades topic. */
export const tradeBodySchema = z.strictObject({
  tradeId: uuid,
  acceptId: uuid,
  seller: homeId,
  buyer: homeId,
  slot: time,
  slotMs: z.int().min(60_000).max(3_600_000),
  /** The offer version the trade was made against. */
  version: z.int().min(1),
  energyWh: wh.min(1),
  priceCentsPerKwh: price,
  /** When the seller committed the trade; always before `slot` (gate closure). */
  confirmedAt: time,
});
export type TradeBody = z.infer<typeof tradeBodySchema>;

export const REJECT_REASONS = ['filled', 'insufficient', 'version', 'expired', 'price'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** The seller's refusal of an accept, sent to the buyer's inbox. */
export const rejectBodySchema = z.strictObject({
  acceptId: uuid,
  seller: homeId,
  slot: time,
  reason: z.enum(REJECT_REASONS),
  /** What was left of the offer when the accept was refused. */
  availableWh: wh,
  /** The seller's current offer version for the slot (0: it has none). */
  version: z.int().min(0),
});
export type RejectBody = z.infer<typeof rejectBodySchema>;

/** Receipt of a trade (buyer → seller) or of a settlement (either way); stops the sender's re-sends. */
export const ackBodySchema = z.strictObject({
  of: z.enum(['trade', 'settlement']),
  tradeId: uuid,
});
export type AckBody = z.infer<typeof ackBodySchema>;

/** One side's metered allocation of a trade after its slot; settled = min(seller's, buyer's). */
export const settlementBodySchema = z.strictObject({
  tradeId: uuid,
  slot: time,
  role: z.enum(['seller', 'buyer']),
  /** The traded energy. */
  tradedWh: wh,
  /** The part of the home's metered export (seller) or import (buyer) in the slot given to this trade. */
  allocatedWh: wh,
  /** meter: counter readings at both slot boundaries; integrated: good power samples; none: no data (0). */
  basis: z.enum(['meter', 'integrated', 'none']),
});
export type SettlementBody = z.infer<typeof settlementBodySchema>;

/** The body schema of each trading type: what the envelope check and the engine both validate against. */
export const TRADING_BODY_SCHEMAS: Record<TradingType, z.ZodType> = {
  offer: offerBodySchema,
  'offer-request': offerRequestBodySchema,
  accept: acceptBodySchema,
  trade: tradeBodySchema,
  reject: rejectBodySchema,
  ack: ackBodySchema,
  settlement: settlementBodySchema,
};

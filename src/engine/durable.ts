import { z } from 'zod';
import {
  acceptBodySchema,
  REJECT_REASONS,
  type RejectReason,
  rejectBodySchema,
  tradeBodySchema,
} from '../protocol/trading.js';

/**
 * The engine's durable state, written once: the zod schemas that check a stored state at restore, and the
 * types inferred from them. It is what the host persists as JSON, so plain data only: null rather than
 * undefined, no Infinity. Keys a schema does not list are dropped at restore (z.object strips them): a
 * state stored by an older version still has the neighbours' offers under `market`, which now live in
 * memory only.
 */

const int = z.int();
const count = z.int().min(0);
const time = z.number().finite();
const nullableTime = time.nullable();

const dealRoleSchema = z.enum(['seller', 'buyer']);
export type DealRole = z.infer<typeof dealRoleSchema>;

/**
 * requested: accept sent, no answer yet · rejected · expired: no answer by gate closure ·
 * confirmed: binding trade · settled: both allocations known.
 */
const dealStatusSchema = z.enum(['requested', 'rejected', 'expired', 'confirmed', 'settled']);
export type DealStatus = z.infer<typeof dealStatusSchema>;

const offerStatusSchema = z.enum(['open', 'filled', 'expired', 'withdrawn']);
export type OfferStatus = z.infer<typeof offerStatusSchema>;

const basisSchema = z.enum(['meter', 'integrated', 'none']);
export type SettlementBasis = z.infer<typeof basisSchema>;

/** One of this home's offers (seller). `availableWh = energyWh − soldWh` while open. */
const ownOfferSchema = z.object({
  slot: int,
  version: count,
  energyWh: count,
  soldWh: count,
  availableWh: count,
  priceCentsPerKwh: z.number().finite(),
  reserveWh: count,
  status: offerStatusSchema,
  /** When the version last changed (revisions are rate-limited from it). */
  revisedAt: time,
  ts: time,
  maxEnergyWh: count,
});
export type OwnOffer = z.infer<typeof ownOfferSchema>;

/** A request (buyer) or a trade (either side). Kept sorted by slot, then creation. */
const dealSchema = z.object({
  role: dealRoleSchema,
  acceptId: z.string(),
  tradeId: z.string().nullable(),
  counterparty: z.string(),
  slot: int,
  version: count,
  /** Requested energy while requested/rejected/expired; traded energy once confirmed. */
  energyWh: count,
  priceCentsPerKwh: z.number().finite(),
  status: dealStatusSchema,
  rejectReason: z.enum(REJECT_REASONS).nullable(),
  confirmedAt: nullableTime,
  /** Seller: the buyer acknowledged the trade. Buyer: true once confirmed (it always acks). */
  acked: z.boolean(),
  /** Buyer: the accept as sent (re-sent unchanged). */
  accept: acceptBodySchema.nullable(),
  /** The trade as committed by the seller. */
  trade: tradeBodySchema.nullable(),
  /** Next re-send: of the accept (buyer, requested) or of the trade (seller, unacknowledged). */
  nextAt: nullableTime,
  /** Current re-send backoff of the trade. */
  delayMs: z.number().finite().min(0),
  ownAllocWh: count.nullable(),
  basis: basisSchema.nullable(),
  peerAllocWh: count.nullable(),
  settledWh: count.nullable(),
  settlementAcked: z.boolean(),
  settleNextAt: nullableTime,
  settleDelayMs: z.number().finite().min(0),
  ts: time,
});
export type Deal = z.infer<typeof dealSchema>;

/** A seller's stored answer to an accept, keyed by `buyer/acceptId`, replayed on a repeated accept. */
const storedAnswerSchema = z.discriminatedUnion('type', [
  z.object({ slot: int, type: z.literal('trade'), tradeId: z.string() }),
  z.object({ slot: int, type: z.literal('reject'), body: rejectBodySchema }),
]);
export type StoredAnswer = z.infer<typeof storedAnswerSchema>;

/** The first good meter counters seen at (or just after) a slot start. */
const meterReadingSchema = z.object({
  slot: int,
  importWh: z.number().finite().nullable(),
  exportWh: z.number().finite().nullable(),
});
export type MeterReading = z.infer<typeof meterReadingSchema>;

/** The energy a slot's allocation used, fixed once computed so late trades share the same total. */
const measuredSchema = z.object({ slot: int, role: dealRoleSchema, totalWh: count, basis: basisSchema });
export type Measured = z.infer<typeof measuredSchema>;

/** Counters since the state was created: the metrics. */
const totalsSchema = z.object({
  offers: count,
  trades: z.object({ seller: count, buyer: count }),
  energyWh: z.object({ seller: count, buyer: count }),
  /** Accepts refused as seller, by reason. */
  rejects: z.object(
    Object.fromEntries(REJECT_REASONS.map((r) => [r, count])) as Record<RejectReason, typeof count>,
  ),
});
export type EngineTotals = z.infer<typeof totalsSchema>;

export const durableSchema = z.object({
  v: z.literal(1),
  /** Ids made so far (envelope ids, acceptIds, tradeIds): the input of the next one. */
  counter: count,
  /** Ascending slot. Only the newest can be open. */
  offers: z.array(ownOfferSchema),
  deals: z.array(dealSchema),
  answers: z.record(z.string(), storedAnswerSchema),
  /** Ascending slot, the last few only. */
  meter: z.array(meterReadingSchema),
  measured: z.array(measuredSchema),
  totals: totalsSchema,
});
export type Durable = z.infer<typeof durableSchema>;

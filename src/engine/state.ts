import { z } from 'zod';
import {
  type AcceptBody,
  acceptBodySchema,
  REJECT_REASONS,
  type RejectBody,
  type RejectReason,
  rejectBodySchema,
  type TradeBody,
  tradeBodySchema,
} from '../protocol/trading.js';
import type {
  DealRole,
  DealStatus,
  EngineConfig,
  EngineState,
  EngineTotals,
  OfferStatus,
  VolatileState,
} from './types.js';

/**
 * The engine's state shapes. `Durable` is what the host persists as JSON (so: plain data, null rather than
 * undefined, no Infinity); `Volatile` is rebuilt after a restart. Both are replaced, never mutated.
 */

/** One of this home's offers (seller). `availableWh = energyWh − soldWh` while open. */
export type OwnOffer = {
  slot: number;
  version: number;
  energyWh: number;
  soldWh: number;
  availableWh: number;
  priceCentsPerKwh: number;
  reserveWh: number;
  status: OfferStatus;
  /** When the version last changed (revisions are rate-limited from it). */
  revisedAt: number;
  ts: number;
  maxEnergyWh: number;
};

export type SettlementBasis = 'meter' | 'integrated' | 'none';

/** A request (buyer) or a trade (either side). Kept sorted by slot, then creation. */
export type Deal = {
  role: DealRole;
  acceptId: string;
  tradeId: string | null;
  counterparty: string;
  slot: number;
  version: number;
  /** Requested energy while requested/rejected/expired; traded energy once confirmed. */
  energyWh: number;
  priceCentsPerKwh: number;
  status: DealStatus;
  rejectReason: RejectReason | null;
  confirmedAt: number | null;
  /** Seller: the buyer acknowledged the trade. Buyer: true once confirmed (it always acks). */
  acked: boolean;
  /** Buyer: the accept as sent (re-sent unchanged). */
  accept: AcceptBody | null;
  /** The trade as committed by the seller. */
  trade: TradeBody | null;
  /** Next re-send: of the accept (buyer, requested) or of the trade (seller, unacknowledged). */
  nextAt: number | null;
  /** Current re-send backoff of the trade. */
  delayMs: number;
  ownAllocWh: number | null;
  basis: SettlementBasis | null;
  peerAllocWh: number | null;
  settledWh: number | null;
  settlementAcked: boolean;
  settleNextAt: number | null;
  settleDelayMs: number;
  ts: number;
};

/**
 * The latest offer message of a neighbour. Kept in memory only: a restarted home relearns its neighbours'
 * offers from the retained messages the broker delivers when it subscribes again.
 */
export type MarketOffer = {
  slot: number;
  version: number;
  energyWh: number;
  availableWh: number;
  priceCentsPerKwh: number;
  exp: number;
  /** Envelope id of the message it came from. */
  id: string;
};

/** A seller's stored answer to an accept, keyed by `buyer/acceptId`, replayed on a repeated accept. */
export type StoredAnswer =
  | { slot: number; type: 'trade'; tradeId: string }
  | { slot: number; type: 'reject'; body: RejectBody };

/** The first good meter counters seen at (or just after) a slot start. */
export type MeterReading = { slot: number; importWh: number | null; exportWh: number | null };

/** The energy a slot's allocation used, fixed once computed so late trades share the same total. */
export type Measured = { slot: number; role: DealRole; totalWh: number; basis: SettlementBasis };

export type Durable = {
  v: 1;
  /** Ids made so far (envelope ids, acceptIds, tradeIds): the input of the next one. */
  counter: number;
  /** Ascending slot. Only the newest can be open. */
  offers: OwnOffer[];
  deals: Deal[];
  answers: Record<string, StoredAnswer>;
  /** Ascending slot, the last few only. */
  meter: MeterReading[];
  measured: Measured[];
  totals: EngineTotals;
};

/** Power integrated per slot from good gridPowerW samples: the settlement fallback when counters are missing. */
export type SlotIntegral = { slot: number; importWh: number; exportWh: number; coveredMs: number };

export type LoadState = { on: boolean; since: number | null };

export type Volatile = {
  /** The neighbours' latest offers, by seller. */
  market: Record<string, MarketOffer>;
  /** Smoothed gridPowerW (+ import), null before the first good sample. */
  ema: number | null;
  /** Time and value of the last good gridPowerW sample. */
  lastGoodAt: number | null;
  lastGoodW: number;
  integrals: SlotIntegral[];
  /** Commanded relay states, in config order. */
  loads: LoadState[];
  /** The last export limit commanded; undefined: none commanded since the start. */
  exportLimitPct: number | null | undefined;
  /** No timer (re-send, expiry, settlement, pruning) is due before this. */
  wakeAt: number;
  /** A buyer's scan that found nothing stays empty while the market, the deals and the slot are the same. */
  emptyScan: { market: unknown; deals: unknown; slot: number } | null;
  /** For the views: the time of the last step, its grid estimate, the slot length and the load ids. */
  now: number;
  grid: number | null;
  slotMs: number;
  loadIds: string[];
};

export class EngineStateError extends Error {
  override name = 'EngineStateError';
}

/** How many slots of meter readings are kept (a slot needs its own start and the next one's). */
export const METER_SLOTS = 4;
/** How many slots of power integrals are kept. */
export const INTEGRAL_SLOTS = 4;

export function emptyTotals(): EngineTotals {
  return {
    offers: 0,
    trades: { seller: 0, buyer: 0 },
    energyWh: { seller: 0, buyer: 0 },
    rejects: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
  };
}

export function initialDurable(): Durable {
  return {
    v: 1,
    counter: 0,
    offers: [],
    deals: [],
    answers: {},
    meter: [],
    measured: [],
    totals: emptyTotals(),
  };
}

export function initialVolatile(config: EngineConfig, now: number): Volatile {
  return {
    market: {},
    ema: null,
    lastGoodAt: null,
    lastGoodW: 0,
    integrals: [],
    loads: config.flexLoads.map(() => ({ on: false, since: null })),
    exportLimitPct: undefined,
    wakeAt: 0,
    emptyScan: null,
    now,
    grid: null,
    slotMs: config.slotMs,
    loadIds: config.flexLoads.map((l) => l.id),
  };
}

/** Typed access to a state made by this engine (the public type keeps it opaque). */
export function durableOf(state: EngineState): Durable {
  return state.durable as unknown as Durable;
}
export function volatileOf(state: EngineState): Volatile {
  return state.volatile as unknown as Volatile;
}
export function toState(durable: Durable, volatile: Volatile): EngineState {
  return { durable: durable as unknown as EngineState['durable'], volatile: volatile as VolatileState };
}

/** Own-property lookup: keys are home ids, and a home may be called "constructor". */
export function own<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

// ---- restore validation ----

const int = z.int();
const count = z.int().min(0);
const time = z.number().finite();
const nullableTime = time.nullable();
const role = z.enum(['seller', 'buyer']);
const basis = z.enum(['meter', 'integrated', 'none']);

const ownOfferSchema = z.object({
  slot: int,
  version: count,
  energyWh: count,
  soldWh: count,
  availableWh: count,
  priceCentsPerKwh: z.number().finite(),
  reserveWh: count,
  status: z.enum(['open', 'filled', 'expired', 'withdrawn']),
  revisedAt: time,
  ts: time,
  maxEnergyWh: count,
});

const dealSchema = z.object({
  role,
  acceptId: z.string(),
  tradeId: z.string().nullable(),
  counterparty: z.string(),
  slot: int,
  version: count,
  energyWh: count,
  priceCentsPerKwh: z.number().finite(),
  status: z.enum(['requested', 'rejected', 'expired', 'confirmed', 'settled']),
  rejectReason: z.enum(REJECT_REASONS).nullable(),
  confirmedAt: nullableTime,
  acked: z.boolean(),
  accept: acceptBodySchema.nullable(),
  trade: tradeBodySchema.nullable(),
  nextAt: nullableTime,
  delayMs: z.number().finite().min(0),
  ownAllocWh: count.nullable(),
  basis: basis.nullable(),
  peerAllocWh: count.nullable(),
  settledWh: count.nullable(),
  settlementAcked: z.boolean(),
  settleNextAt: nullableTime,
  settleDelayMs: z.number().finite().min(0),
  ts: time,
});

/**
 * Keys it does not list are dropped (z.object strips them): a state stored by an older version still has
 * the neighbours' offers under `market`, which now live in memory only.
 */
const durableSchema = z.object({
  v: z.literal(1),
  counter: count,
  offers: z.array(ownOfferSchema),
  deals: z.array(dealSchema),
  answers: z.record(
    z.string(),
    z.discriminatedUnion('type', [
      z.object({ slot: int, type: z.literal('trade'), tradeId: z.string() }),
      z.object({ slot: int, type: z.literal('reject'), body: rejectBodySchema }),
    ]),
  ),
  meter: z.array(
    z.object({
      slot: int,
      importWh: z.number().finite().nullable(),
      exportWh: z.number().finite().nullable(),
    }),
  ),
  measured: z.array(z.object({ slot: int, role, totalWh: count, basis })),
  totals: z.object({
    offers: count,
    trades: z.object({ seller: count, buyer: count }),
    energyWh: z.object({ seller: count, buyer: count }),
    rejects: z.object(
      Object.fromEntries(REJECT_REASONS.map((r) => [r, count])) as Record<RejectReason, typeof count>,
    ),
  }),
});

/** Checks persisted durable JSON; throws EngineStateError naming the first problem. */
export function parseDurable(input: unknown): Durable {
  const parsed = durableSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new EngineStateError(`engine state is not usable: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  const d = parsed.data as Durable;
  if (!isAscending(d.offers) || !isAscending(d.deals) || !isAscending(d.meter)) {
    throw new EngineStateError('engine state is not usable: offers, deals and meter must be in slot order');
  }
  return d;
}

function isAscending(items: ReadonlyArray<{ slot: number }>): boolean {
  for (let i = 1; i < items.length; i++) if (items[i]!.slot < items[i - 1]!.slot) return false;
  return true;
}

import { REJECT_REASONS, type RejectReason } from '../protocol/trading.js';
import { type Durable, durableSchema } from './durable.js';
import type { EngineConfig, EngineState, EngineTotals, VolatileState } from './types.js';

/**
 * The engine's state shapes. `Durable` (durable.ts, inferred from its schema) is what the host persists
 * as JSON; `Volatile` is rebuilt after a restart. Both are replaced, never mutated.
 */

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

function emptyTotals(): EngineTotals {
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

/** Checks persisted durable JSON; throws EngineStateError naming the first problem. */
export function parseDurable(input: unknown): Durable {
  const parsed = durableSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new EngineStateError(`engine state is not usable: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  const d = parsed.data;
  if (!isAscending(d.offers) || !isAscending(d.deals) || !isAscending(d.meter)) {
    throw new EngineStateError('engine state is not usable: offers, deals and meter must be in slot order');
  }
  return d;
}

function isAscending(items: ReadonlyArray<{ slot: number }>): boolean {
  for (let i = 1; i < items.length; i++) if (items[i]!.slot < items[i - 1]!.slot) return false;
  return true;
}

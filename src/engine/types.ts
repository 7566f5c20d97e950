import type { Snapshot } from '../core/quantities.js';
import type {
  AcceptBody,
  AckBody,
  OfferBody,
  OfferRequestBody,
  RejectBody,
  RejectReason,
  SettlementBody,
  TradeBody,
} from '../protocol/trading.js';
import type { OutboxClass } from '../store/outbox-types.js';
import type { DealRole, DealStatus, EngineTotals, OfferStatus } from './durable.js';

/** The durable state's enums and counters, inferred from its schema (durable.ts). */
export type { DealRole, DealStatus, EngineTotals, OfferStatus };

/**
 * The contract of the pure trading engine (docs/protocol.md): `step(state, event, now) → { state, commands }`.
 * No clock, timers, randomness or I/O inside: everything it needs arrives in the event and `now`, and
 * everything it wants done leaves as commands, which the host (src/trading) carries out after committing
 * the new state and the outgoing messages in one SQLite transaction.
 */

/** A flexible load behind a relay (a device with `load:` in the config). */
export interface FlexLoad {
  /** The relay device id. */
  id: string;
  powerW: number;
  minOnMs: number;
  minOffMs: number;
}

export interface EngineConfig {
  homeId: string;
  /** Slot length (15 min by default). Slots are aligned to the epoch. */
  slotMs: number;
  /** Smallest surplus power (after the reserve) worth offering; below it no offer is made. */
  minOfferW: number;
  /** Power the home keeps back for itself; offered energy = (smoothed surplus − reserve) × slot. */
  reserveW: number;
  /** The price of this home's offers. */
  priceCentsPerKwh: number;
  /** The most this home pays as a buyer; offers above it are never accepted. */
  maxBuyPriceCentsPerKwh: number;
  /** Smallest trade: a buyer never asks for less, a seller never offers less. */
  minTradeWh: number;
  /** Time constant of the surplus/deficit smoothing (exponential, time-based so any cycle length works). */
  smoothingTauMs: number;
  /** Without a good grid reading for this long the surplus is unknown: no new offers or accepts. */
  maxReadingAgeMs: number;
  /** An open offer is revised at most this often, and only when the estimate moved by ≥ 20 %. */
  reviseMinIntervalMs: number;
  /** A buyer re-sends an unanswered accept (same acceptId, new envelope) after this. */
  answerTimeoutMs: number;
  /** Re-sends of unacknowledged trades and settlements back off from base to max. */
  resendBaseMs: number;
  resendMaxMs: number;
  /** Wait after a slot ends before allocating it, so the meter counters of the boundary are in. */
  settleDelayMs: number;
  /** Settled (or abandoned) history older than this is dropped from the state (the trades table keeps it). */
  keepMs: number;
  flexLoads: readonly FlexLoad[];
  /** Where the home must not export more than it sold: the inverter (SunSpec model 123) is limited. */
  noExport: { device: string; inverterWMax: number } | null;
}

/** What happens to a home. The host turns every input into exactly one event. */
export type EngineEvent =
  /** The service (re)started from the stored state: relays are at their safe state (off). */
  | { kind: 'start' }
  /** One cycle's frozen snapshot. Only `good` values may be used as truth. */
  | { kind: 'tick'; snapshot: Snapshot }
  /**
   * A verified trading message from a neighbour (offer, accept, trade, reject, ack, settlement); deduplicated
   * except offers, which may come again (the engine ignores what is not newer).
   */
  | { kind: 'message'; message: InboundMessage }
  /** A neighbour's retained offer topic became empty: it has no offer now. */
  | { kind: 'offer-withdrawn'; home: string }
  /** The link (re)connected to a broker: ask the zone for its open offers (offer-sync.ts). */
  | { kind: 'connected' };

export type InboundMessage =
  | InboundOf<'offer', OfferBody>
  | InboundOf<'offer-request', OfferRequestBody>
  | InboundOf<'accept', AcceptBody>
  | InboundOf<'trade', TradeBody>
  | InboundOf<'reject', RejectBody>
  | InboundOf<'ack', AckBody>
  | InboundOf<'settlement', SettlementBody>;

interface InboundOf<T extends string, B> {
  type: T;
  /** Envelope id. */
  id: string;
  from: string;
  ts: number;
  exp?: number;
  corr?: string;
  body: B;
}

/** Where a message goes: this home's own topic, or a neighbour's inbox. */
export type Destination = { own: 'offer' | 'requests' | 'trades' } | { inbox: string };

export type OutgoingMessage =
  | OutgoingOf<'offer', OfferBody>
  | OutgoingOf<'offer-request', OfferRequestBody>
  | OutgoingOf<'accept', AcceptBody>
  | OutgoingOf<'trade', TradeBody>
  | OutgoingOf<'reject', RejectBody>
  | OutgoingOf<'ack', AckBody>
  | OutgoingOf<'settlement', SettlementBody>;

interface OutgoingOf<T extends string, B> {
  type: T;
  /** Envelope id (UUIDv7), made by the engine from `now` and its message counter: deterministic. */
  id: string;
  to: Destination;
  /** How the outbox keeps and sends it (policy, priority, retained or not): see OUTBOX_CLASSES. */
  class: OutboxClass;
  body: B;
  /** Epoch ms after which the message must not be sent or used (offers and accepts: gate closure). */
  exp?: number;
  /** The envelope id this one answers. */
  corr?: string;
}

export type Command =
  /** Enqueue in the outbox (the host adds seq, ts, signature and the topic). */
  | { kind: 'send'; message: OutgoingMessage }
  /** Clear this home's retained offer (an empty retained payload, class `offer`, expiring at `exp`). */
  | { kind: 'clear-offer'; exp: number }
  | { kind: 'relay'; id: string; on: boolean }
  /** Limit the inverter's output to `pct` of its rating (SunSpec WMaxLimPct); null removes the limit. */
  | { kind: 'export-limit'; device: string; pct: number | null };

/**
 * The state. `durable` is what the host persists (as JSON, in the transaction of the step's messages);
 * `volatile` is rebuilt after a restart (smoothing, integrals). step() returns the same `durable` object
 * when it did not change, so the host writes only when `next.durable !== prev.durable`. Every step that
 * emits a `send` changes `durable` (the message counter at least).
 */
export interface EngineState {
  durable: DurableState;
  volatile: VolatileState;
}

/** Opaque to the host and the simulation: read it only through the selectors in views.ts. */
export type DurableState = { readonly v: 1 } & Record<string, unknown>;
export type VolatileState = Record<string, unknown>;

export interface StepResult {
  state: EngineState;
  commands: Command[];
  /**
   * Set when the engine threw on this input: an engine bug, not a bad input (those change nothing and
   * are not faults). The state is then the input state and there are no commands; the host counts it,
   * logs it and keeps running on the old state.
   */
  fault?: EngineFault;
}

export interface EngineFault {
  /** The kind of event the step was given. */
  event: EngineEvent['kind'];
  /** What was thrown, as text (errorText). */
  text: string;
  /** What was thrown, for the log's stack. */
  error: unknown;
}

/** The engine (src/engine/index.ts `createEngine`). */
export interface Engine {
  readonly config: EngineConfig;
  initial(now: number): EngineState;
  /** Rebuilds a state from persisted durable JSON (validated; throws EngineStateError if unusable). */
  restore(durable: unknown, now: number): EngineState;
  step(state: EngineState, event: EngineEvent, now: number): StepResult;
}

// ---- Read-only views (src/engine/views.ts): the page, the CLI, the simulation's invariants ----

/** One of this home's offers as seller. */
export interface OwnOfferView {
  slot: number;
  version: number;
  energyWh: number;
  availableWh: number;
  priceCentsPerKwh: number;
  status: OfferStatus;
  /** Gate closure. */
  exp: number;
  /** Last change. */
  ts: number;
  /** The highest energyWh any version of this slot's offer had (what can never be oversold). */
  maxEnergyWh: number;
}

/** A trade or a request, as one side sees it. */
export interface DealView {
  /** tradeId when confirmed, else acceptId. */
  id: string;
  acceptId: string;
  tradeId: string | null;
  role: DealRole;
  counterparty: string;
  slot: number;
  energyWh: number;
  priceCentsPerKwh: number;
  status: DealStatus;
  rejectReason: RejectReason | null;
  /** Seller only: when the trade was committed. */
  confirmedAt: number | null;
  /** The counterparty acknowledged the trade (seller) / this home acknowledged it (buyer, always true once confirmed). */
  acknowledged: boolean;
  ownAllocationWh: number | null;
  peerAllocationWh: number | null;
  /** min(own, peer) once both are known. */
  settledWh: number | null;
  /** Last change. */
  ts: number;
}

export interface EngineSummary {
  /** Smoothed surplus (+) or deficit (−) power, W; null when unknown (no good reading). */
  netW: number | null;
  role: 'seller' | 'buyer' | 'idle';
  loadsOn: string[];
  exportLimitPct: number | null;
}

import { createHash } from 'node:crypto';
import type { DealView, EngineTotals, OwnOfferView } from '../engine/types.js';
import { canonicalJson } from '../protocol/canonical.js';
import type { RejectReason, TradeBody } from '../protocol/trading.js';
import type { FaultCounts, FaultProfile } from './faults.js';
import type { CrashPoint, StoreWrites } from './home.js';
import type { HomeTraffic, TrafficCounts, WireOffer } from './wire.js';

/** One home at the end of a run (after the heal period), as its own engine sees it. */
export interface HomeReport {
  id: string;
  pvKwp: number;
  flexLoads: string[];
  cycleMs: number;
  /** Up at the end (every home should be: the heal period restarts the dead ones). */
  up: boolean;
  offers: OwnOfferView[];
  deals: DealView[];
  totals: EngineTotals | null;
  crashes: Record<CrashPoint, number>;
  /** Restarts from the store after a crash (as many as crashes, by the end). */
  restarts: number;
  /** Host steps whose transaction failed (the step was lost, as a crash loses it). */
  failedSteps: number;
  /** Dead letters ever recorded by this home's store, by reason. */
  deadLetters: Record<string, number>;
  traffic: HomeTraffic;
  /** What the home's store was asked to write, counted like the traffic. */
  writes: StoreWrites;
  /** Outbox rows still unsent at the end, by class. */
  outbox: Record<string, number>;
}

export interface NeighbourhoodReport {
  seed: number;
  zone: string;
  hours: number;
  slotMs: number;
  signatures: boolean;
  faults: FaultProfile;
  /** Simulated epoch ms: start, end of the faults (heal start), end of the run. */
  start: number;
  healStart: number;
  end: number;
  /** Deals of slots ending by then must be settled on both sides. */
  settleBy: number;
  /** Trades confirmed by then must be known to both sides. */
  knownBy: number;
  homes: HomeReport[];
  wire: {
    /** Publishes that reached the broker, by type (re-sends counted each time). */
    published: TrafficCounts;
    /** Messages handed to the homes' inboxes, by type (`rogue`: the rogue client's). */
    delivered: TrafficCounts;
    offers: WireOffer[];
    trades: TradeBody[];
    /** tradeIds published with two different bodies. */
    tradeConflicts: string[];
  };
  injected: FaultCounts;
  /** What the rogue client got into the homes' inboxes, by the reason they must refuse it with. */
  rogue: Record<string, number>;
  /** Every home's dead letters, by reason. */
  deadLetters: Record<string, number>;
  /** Confirmed trades (seller side) and their energy. */
  trades: number;
  energyWh: number;
  /** Accepts refused by sellers, by reason. */
  rejects: Record<RejectReason, number>;
  /** Scheduler events run. */
  events: number;
  /** Everything the run decided and counted: equal for equal seeds. */
  digest: string;
  /** The homes' offers, deals and totals only: a rogue client must not change it. */
  tradingDigest: string;
}

export function sha256(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** The trading state of every home, in a stable form. */
export function tradingState(homes: readonly HomeReport[]): unknown {
  return homes.map((h) => ({ id: h.id, offers: h.offers, deals: h.deals, totals: h.totals }));
}

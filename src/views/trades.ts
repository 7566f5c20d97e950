import type { DealRole, DealStatus, OfferStatus } from '../engine/types.js';

/**
 * The trade book: what the page, the API and the metrics show of trading (the home's offers and its
 * trades; docs/protocol.md for what they mean). The trading host provides one (src/trading/trade-book.ts);
 * while trading is off the book is EMPTY_TRADE_BOOK and the API and metrics keep their shape.
 */

export type TradeRole = DealRole;

export type TradeState = DealStatus;

export interface TradeView {
  /** The id of the binding `trade` message (or of the `accept` while only requested). */
  id: string;
  /** Start of the slot, epoch ms. */
  slot: number;
  role: TradeRole;
  /** The other home's id. */
  counterparty: string;
  energyWh: number;
  priceCentsPerKwh: number;
  state: TradeState;
  /** Energy settled from both meters after the slot (the smaller allocation); null until settled. */
  settledWh: number | null;
  /** Last change, epoch ms. */
  ts: number;
}

export type OfferState = OfferStatus;

export interface OfferView {
  id: string;
  slot: number;
  energyWh: number;
  remainingWh: number;
  priceCentsPerKwh: number;
  state: OfferState;
  /** After this the offer is stale and never sent, epoch ms. */
  exp: number;
  ts: number;
}

/** Running totals since the database was created (the metrics' counters). */
export interface TradeTotals {
  trades: Record<TradeRole, number>;
  energyWh: Record<TradeRole, number>;
  /** Energy settled from the meters (the smaller of the two sides' allocations), per role. */
  settledWh: Record<TradeRole, number>;
  /** Accepts this home refused as seller, by reason (filled, insufficient, version, expired, price). */
  rejects: Record<string, number>;
  offers: number;
}

export interface TradeBook {
  /** Trades with ts >= since, newest first. */
  trades(since: number): TradeView[];
  /** Offers with ts >= since, newest first. */
  offers(since: number): OfferView[];
  totals(): TradeTotals;
}

export const EMPTY_TRADE_BOOK: TradeBook = {
  trades: () => [],
  offers: () => [],
  totals: () => ({
    trades: { buyer: 0, seller: 0 },
    energyWh: { buyer: 0, seller: 0 },
    settledWh: { buyer: 0, seller: 0 },
    rejects: { filled: 0, insufficient: 0, version: 0, expired: 0, price: 0 },
    offers: 0,
  }),
};

import type { OwnOfferView } from '../engine/types.js';
import { ownOffers, totals } from '../engine/views.js';
import type { OfferView, TradeBook, TradeTotals, TradeView } from '../service/web-trades.js';
import { EMPTY_TRADE_BOOK } from '../service/web-trades.js';
import type { Store } from '../store/index.js';
import type { TradingHost } from './host.js';
import { type TradeRecord, tradingTables } from './persist.js';

/** The most trades one page request returns (the newest changes first). */
export const MAX_TRADES = 1000;

/**
 * What the page and the API show of trading: trades from the `trades` table (the long history, written
 * in each step's transaction), offers and totals from the engine's current state.
 */
export function createTradeBook(host: TradingHost, store: Store): TradeBook {
  const tables = tradingTables(store.db);
  return {
    trades: (since) => tables.tradesSince(since, MAX_TRADES).map(tradeView),
    offers: (since) =>
      host.started
        ? ownOffers(host.state)
            .filter((o) => o.ts >= since)
            .map(offerView)
        : [],
    totals: () => (host.started ? tradeTotals(host) : EMPTY_TRADE_BOOK.totals()),
  };
}

function tradeView(r: TradeRecord): TradeView {
  return {
    id: r.id,
    slot: r.slot_start,
    role: r.role,
    counterparty: r.counterparty,
    energyWh: r.energy_wh,
    priceCentsPerKwh: r.price_cents_per_kwh,
    state: r.state,
    ts: r.updated_at,
  };
}

/** An offer is one slot's, at its current version. */
function offerView(o: OwnOfferView): OfferView {
  return {
    id: `offer-${o.slot}-v${o.version}`,
    slot: o.slot,
    energyWh: o.energyWh,
    remainingWh: o.availableWh,
    priceCentsPerKwh: o.priceCentsPerKwh,
    state: o.status,
    exp: o.exp,
    ts: o.ts,
  };
}

function tradeTotals(host: TradingHost): TradeTotals {
  const t = totals(host.state);
  return {
    trades: { ...t.trades },
    energyWh: { ...t.energyWh },
    rejects: { ...t.rejects },
    offers: t.offers,
  };
}

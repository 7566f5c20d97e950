import type { OwnOfferView } from '../engine/types.js';
import { ownOffers, totals } from '../engine/views.js';
import type { Store } from '../store/index.js';
import {
  EMPTY_TRADE_BOOK,
  type OfferView,
  type TradeBook,
  type TradeTotals,
  type TradeView,
} from '../views/trades.js';
import type { TradingHost } from './host.js';
import { type Trade, tradesRepository } from './trades-repository.js';

/** The most trades one page request returns (the newest changes first). */
const MAX_TRADES = 1000;

/**
 * What the page and the API show of trading: trades from the `trades` table (the long history, written
 * in each step's transaction), offers and totals from the engine's current state.
 */
export function createTradeBook(host: TradingHost, store: Store): TradeBook {
  const trades = tradesRepository(store.db);
  return {
    trades: (since) => trades.changedSince(since, MAX_TRADES).map(tradeView),
    offers: (since) =>
      host.started
        ? ownOffers(host.state)
            .filter((o) => o.ts >= since)
            .map(offerView)
        : [],
    totals: () => ({
      ...(host.started ? tradeTotals(host) : EMPTY_TRADE_BOOK.totals()),
      settledWh: trades.settledWh(),
    }),
  };
}

function tradeView(t: Trade): TradeView {
  return {
    id: t.id,
    slot: t.slot,
    role: t.role,
    counterparty: t.counterparty,
    energyWh: t.energyWh,
    priceCentsPerKwh: t.priceCentsPerKwh,
    state: t.state,
    settledWh: t.settledWh,
    ts: t.updatedAt,
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

function tradeTotals(host: TradingHost): Omit<TradeTotals, 'settledWh'> {
  const t = totals(host.state);
  return {
    trades: { ...t.trades },
    energyWh: { ...t.energyWh },
    rejects: { ...t.rejects },
    offers: t.offers,
  };
}

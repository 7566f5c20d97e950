/**
 * The trade book's view contract lives in src/views/trades.ts (the trading host and the web read it
 * from there); these names stay here for the service's web files that still import them from this path.
 */
export type { OfferView, TradeBook, TradeTotals, TradeView } from '../views/trades.js';
export { EMPTY_TRADE_BOOK } from '../views/trades.js';

import { listTrades, type TradeRow } from '../trades.js';
import type { OpsContext } from './context.js';

/** The trades table, newest first (`trades`). */
export function listTradeRows(ctx: OpsContext, p: { limit?: number | undefined }): TradeRow[] {
  return listTrades(ctx.store.db, p.limit);
}

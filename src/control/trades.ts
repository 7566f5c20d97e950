import type Database from 'better-sqlite3';
import { type Trade, tradesRepository } from '../trading/trades-repository.js';

/**
 * A trade as the technician sees it (`powerdeal trades`; docs/protocol.md for the model): the trades
 * repository's shape without the accept id and the time of the last change.
 */
export type TradeRow = Omit<Trade, 'acceptId' | 'updatedAt'>;

/** The newest trades first; empty when trading has not written any (or has no table yet). */
export function listTrades(db: Database.Database, limit = 100): TradeRow[] {
  return tradesRepository(db)
    .newest(limit)
    .map(({ acceptId: _a, updatedAt: _u, ...row }) => row);
}

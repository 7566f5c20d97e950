import type Database from 'better-sqlite3';

/**
 * A trade as the technician sees it (DESIGN §4: one-sided pay-as-offer, 15-minute slots), the same
 * fields and states as the page's trade view. Trading writes these rows in a `trades` table (columns id,
 * slot_start, role, counterparty, energy_wh, price_cents_per_kwh, state); until it exists there is
 * nothing to list.
 */
export interface TradeRow {
  /** The trade's envelope id. */
  id: string;
  /** Start of the 15-minute slot, epoch ms. */
  slot: number;
  role: 'seller' | 'buyer';
  /** The other home's id. */
  counterparty: string;
  energyWh: number;
  priceCentsPerKwh: number;
  state: 'requested' | 'confirmed' | 'rejected' | 'settled' | 'expired';
}

interface TradeRecord {
  id: string;
  slot_start: number;
  role: TradeRow['role'];
  counterparty: string;
  energy_wh: number;
  price_cents_per_kwh: number;
  state: TradeRow['state'];
}

/** The newest trades first; empty when trading has not written any (or has no table yet). */
export function listTrades(db: Database.Database, limit = 100): TradeRow[] {
  const table = db
    .prepare("SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = 'trades'")
    .get();
  if (table === undefined) return [];
  const rows = db
    .prepare<[number], TradeRecord>(
      `SELECT id, slot_start, role, counterparty, energy_wh, price_cents_per_kwh, state
       FROM trades ORDER BY slot_start DESC, id LIMIT ?`,
    )
    .all(limit);
  return rows.map((r) => ({
    id: r.id,
    slot: r.slot_start,
    role: r.role,
    counterparty: r.counterparty,
    energyWh: r.energy_wh,
    priceCentsPerKwh: r.price_cents_per_kwh,
    state: r.state,
  }));
}

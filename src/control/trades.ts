import type Database from 'better-sqlite3';

/**
 * A trade as the technician sees it (DESIGN §4: one-sided pay-as-offer, 15-minute slots), the same
 * fields and states as the page's trade view, plus why a request was refused and how it settled. The
 * trading host keeps these rows in the `trades` table (store migration 2).
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
  /** Why the seller refused (filled, insufficient, version, expired, price), for a rejected request. */
  rejectReason: string | null;
  /** This home's and the counterparty's metered allocation, and the settled energy = min of the two. */
  ownAllocationWh: number | null;
  peerAllocationWh: number | null;
  settledWh: number | null;
}

interface TradeRecord {
  id: string;
  slot_start: number;
  role: TradeRow['role'];
  counterparty: string;
  energy_wh: number;
  price_cents_per_kwh: number;
  state: TradeRow['state'];
  reject_reason: string | null;
  own_alloc_wh: number | null;
  peer_alloc_wh: number | null;
  settled_wh: number | null;
}

/** The newest trades first; empty when trading has not written any (or has no table yet). */
export function listTrades(db: Database.Database, limit = 100): TradeRow[] {
  const table = db
    .prepare("SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = 'trades'")
    .get();
  if (table === undefined) return [];
  const rows = db
    .prepare<[number], TradeRecord>(
      `SELECT id, slot_start, role, counterparty, energy_wh, price_cents_per_kwh, state, reject_reason,
         own_alloc_wh, peer_alloc_wh, settled_wh
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
    rejectReason: r.reject_reason,
    ownAllocationWh: r.own_alloc_wh,
    peerAllocationWh: r.peer_alloc_wh,
    settledWh: r.settled_wh,
  }));
}

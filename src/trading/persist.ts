import type Database from 'better-sqlite3';
import type { DealStatus, DealView } from '../engine/types.js';

/**
 * The trading tables (store migration 2): `engine_state`, the engine's durable state as one JSON row, and
 * `trades`, every trade and request this home took part in, kept after the engine state has forgotten them.
 */

/** A `trades` row; `state` uses the names of the page and the CLI, which are the engine's DealStatus. */
export interface TradeRecord {
  id: string;
  accept_id: string;
  slot_start: number;
  role: DealView['role'];
  counterparty: string;
  energy_wh: number;
  price_cents_per_kwh: number;
  state: DealStatus;
  reject_reason: string | null;
  own_alloc_wh: number | null;
  peer_alloc_wh: number | null;
  settled_wh: number | null;
  updated_at: number;
}

const COLUMNS = [
  'id',
  'accept_id',
  'slot_start',
  'role',
  'counterparty',
  'energy_wh',
  'price_cents_per_kwh',
  'state',
  'reject_reason',
  'own_alloc_wh',
  'peer_alloc_wh',
  'settled_wh',
  'updated_at',
] as const;

/** The row of a deal: id = tradeId once confirmed, else acceptId; updated_at = the deal's last change. */
export function tradeRecord(v: DealView): TradeRecord {
  return {
    id: v.tradeId ?? v.acceptId,
    accept_id: v.acceptId,
    slot_start: v.slot,
    role: v.role,
    counterparty: v.counterparty,
    energy_wh: v.energyWh,
    price_cents_per_kwh: v.priceCentsPerKwh,
    state: v.status,
    reject_reason: v.rejectReason,
    own_alloc_wh: v.ownAllocationWh,
    peer_alloc_wh: v.peerAllocationWh,
    settled_wh: v.settledWh,
    updated_at: v.ts,
  };
}

export interface TradingTables {
  /** The stored engine state, or undefined before the first write. */
  loadState(): { json: string | null; updatedAt: number | null } | undefined;
  saveState(json: string, now: number): void;
  /** Inserts or updates a deal's row; a request that became a trade replaces its accept-id row. */
  upsertTrade(r: TradeRecord): void;
  /** Rows changed at or after `since`, newest change first. */
  tradesSince(since: number, limit: number): TradeRecord[];
}

export function tradingTables(db: Database.Database): TradingTables {
  const load = db.prepare<[], { json: string | null; updated_at: number | null }>(
    'SELECT json, updated_at FROM engine_state WHERE id = 1',
  );
  const save = db.prepare<[string, number]>(
    `INSERT INTO engine_state (id, json, updated_at) VALUES (1, ?, ?)
     ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at`,
  );
  const dropRequest = db.prepare<[string, string]>('DELETE FROM trades WHERE id = ? AND id <> ?');
  const upsert = db.prepare<TradeRecord>(
    `INSERT INTO trades (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})
     ON CONFLICT (id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'id')
       .map((c) => `${c} = excluded.${c}`)
       .join(', ')}`,
  );
  const since = db.prepare<[number, number], TradeRecord>(
    `SELECT ${COLUMNS.join(', ')} FROM trades WHERE updated_at >= ? ORDER BY updated_at DESC, id LIMIT ?`,
  );
  return {
    loadState() {
      const row = load.get();
      return row === undefined ? undefined : { json: row.json, updatedAt: row.updated_at };
    },
    saveState(json, now) {
      save.run(json, now);
    },
    upsertTrade(r) {
      dropRequest.run(r.accept_id, r.id);
      upsert.run(r);
    },
    tradesSince(t, limit) {
      return since.all(t, limit);
    },
  };
}

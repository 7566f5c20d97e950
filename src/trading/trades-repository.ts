import type Database from 'better-sqlite3';
import type { DealStatus, DealView } from '../engine/types.js';

/**
 * The `trades` table (store migration 2): every trade and request this home took part in, kept after the
 * engine state has forgotten them. The trading host writes it in each step's transaction; the page, the
 * API and the CLI read it here, in one shape (`Trade`), and project their views from that.
 */

/** A `trades` row as stored; `state` uses the names of the page and the CLI, which are the engine's DealStatus. */
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

/** A trade or a request as read back. */
export interface Trade {
  /** The trade id once confirmed, else the accept id. */
  id: string;
  acceptId: string;
  /** Start of the slot, epoch ms. */
  slot: number;
  role: DealView['role'];
  /** The other home's id. */
  counterparty: string;
  energyWh: number;
  priceCentsPerKwh: number;
  state: DealStatus;
  /** Why the seller refused (filled, insufficient, version, expired, price), for a rejected request. */
  rejectReason: string | null;
  /** This home's and the counterparty's metered allocation, and the settled energy = min of the two. */
  ownAllocationWh: number | null;
  peerAllocationWh: number | null;
  settledWh: number | null;
  /** The deal's last change, epoch ms. */
  updatedAt: number;
}

export interface TradesRepository {
  /** Inserts or updates a deal's row; a request that became a trade replaces its accept-id row. */
  upsert(r: TradeRecord): void;
  /** Rows changed at or after `since`, newest change first. */
  changedSince(since: number, limit: number): Trade[];
  /** The newest slots first. */
  newest(limit: number): Trade[];
  /** Settled energy of every trade in the table, per role of this home, Wh. */
  settledWh(): Record<'buyer' | 'seller', number>;
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
const SELECT = `SELECT ${COLUMNS.join(', ')} FROM trades`;

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

export function sameRecord(a: TradeRecord, b: TradeRecord): boolean {
  for (const k of COLUMNS) if (a[k] !== b[k]) return false;
  return true;
}

function trade(r: TradeRecord): Trade {
  return {
    id: r.id,
    acceptId: r.accept_id,
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
    updatedAt: r.updated_at,
  };
}

/**
 * The repository over `db`. A database without the table (one trading never ran on, opened read-only
 * before its migrations) reads as empty; writing to it throws.
 */
export function tradesRepository(db: Database.Database): TradesRepository {
  const present = db
    .prepare("SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = 'trades'")
    .get();
  if (present === undefined) {
    return {
      upsert() {
        throw new Error('trading: the database has no trades table (its migrations did not run)');
      },
      changedSince: () => [],
      newest: () => [],
      settledWh: () => ({ buyer: 0, seller: 0 }),
    };
  }
  const dropRequest = db.prepare<[string, string]>('DELETE FROM trades WHERE id = ? AND id <> ?');
  const upsert = db.prepare<TradeRecord>(
    `INSERT INTO trades (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})
     ON CONFLICT (id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'id')
       .map((c) => `${c} = excluded.${c}`)
       .join(', ')}`,
  );
  const since = db.prepare<[number, number], TradeRecord>(
    `${SELECT} WHERE updated_at >= ? ORDER BY updated_at DESC, id LIMIT ?`,
  );
  const newest = db.prepare<[number], TradeRecord>(`${SELECT} ORDER BY slot_start DESC, id LIMIT ?`);
  const settled = db.prepare<[], { role: string; wh: number }>(
    'SELECT role, SUM(settled_wh) AS wh FROM trades WHERE settled_wh IS NOT NULL GROUP BY role',
  );
  return {
    upsert(r) {
      dropRequest.run(r.accept_id, r.id);
      upsert.run(r);
    },
    changedSince: (t, limit) => since.all(t, limit).map(trade),
    newest: (limit) => newest.all(limit).map(trade),
    settledWh() {
      const out = { buyer: 0, seller: 0 };
      for (const r of settled.all()) if (r.role === 'buyer' || r.role === 'seller') out[r.role] = r.wh;
      return out;
    },
  };
}

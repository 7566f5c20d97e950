import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { listTrades } from '../../src/control/trades.js';
import { silentLogger } from '../../src/log/logger.js';
import { openStore, type Store } from '../../src/store/index.js';
import { type TradeRecord, tradesRepository } from '../../src/trading/trades-repository.js';

const record = (over: Partial<TradeRecord>): TradeRecord => ({
  id: 'accept-1',
  accept_id: 'accept-1',
  slot_start: 900_000,
  role: 'buyer',
  counterparty: 'seller',
  energy_wh: 100,
  price_cents_per_kwh: 12,
  state: 'requested',
  reject_reason: null,
  own_alloc_wh: null,
  peer_alloc_wh: null,
  settled_wh: null,
  updated_at: 1000,
  ...over,
});

describe('the trades repository', () => {
  let store: Store | undefined;
  afterEach(() => store?.close());

  it('replaces a request by its trade, and reads one shape for the page and the CLI', () => {
    store = openStore({ path: ':memory:', log: silentLogger() });
    const trades = tradesRepository(store.db);
    trades.upsert(record({}));
    trades.upsert(record({ id: 'trade-1', state: 'confirmed', updated_at: 2000 }));
    trades.upsert(record({ id: 'accept-2', accept_id: 'accept-2', slot_start: 1_800_000, updated_at: 1500 }));
    expect(trades.changedSince(0, 10).map((t) => [t.id, t.state, t.updatedAt])).toEqual([
      ['trade-1', 'confirmed', 2000],
      ['accept-2', 'requested', 1500],
    ]);
    expect(trades.changedSince(1600, 10).map((t) => t.id)).toEqual(['trade-1']);
    expect(trades.newest(10).map((t) => t.id)).toEqual(['accept-2', 'trade-1']);
    expect(listTrades(store.db, 1)).toEqual([
      {
        id: 'accept-2',
        slot: 1_800_000,
        role: 'buyer',
        counterparty: 'seller',
        energyWh: 100,
        priceCentsPerKwh: 12,
        state: 'requested',
        rejectReason: null,
        ownAllocationWh: null,
        peerAllocationWh: null,
        settledWh: null,
      },
    ]);
  });

  it('reads a database without the table as empty and refuses to write to it', () => {
    const db = new Database(':memory:');
    try {
      const trades = tradesRepository(db);
      expect(trades.newest(10)).toEqual([]);
      expect(listTrades(db)).toEqual([]);
      expect(() => trades.upsert(record({}))).toThrow(/no trades table/);
    } finally {
      db.close();
    }
  });
});

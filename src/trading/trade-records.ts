import type { DurableState, EngineState } from '../engine/types.js';
import { deals } from '../engine/views.js';
import { sameRecord, type TradeRecord, tradeRecord } from './trades-repository.js';

/**
 * The `trades` rows of engine states, cached per durable state so consecutive steps diff without
 * recomputing the older side.
 */
export class TradeRecords {
  private readonly cache = new WeakMap<DurableState, Map<string, TradeRecord>>();

  /** Every row of the state. */
  all(state: EngineState): TradeRecord[] {
    return [...this.of(state).values()];
  }

  /** The rows that are new or different in `next`. */
  changed(prev: EngineState, next: EngineState): TradeRecord[] {
    const before = this.of(prev);
    const out: TradeRecord[] = [];
    for (const r of this.of(next).values()) {
      const b = before.get(r.id);
      if (b === undefined || !sameRecord(b, r)) out.push(r);
    }
    return out;
  }

  private of(state: EngineState): Map<string, TradeRecord> {
    let m = this.cache.get(state.durable);
    if (m === undefined) {
      m = new Map();
      for (const v of deals(state)) {
        const r = tradeRecord(v);
        m.set(r.id, r);
      }
      this.cache.set(state.durable, m);
    }
    return m;
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { type OutboxRow, openStore, type Store } from '../../src/store/index.js';
import { msg, tempDir } from './helpers.js';

/**
 * The broker is gone for 48 hours while the home keeps running at 1 Hz: telemetry every cycle, a new
 * offer revision every minute (expiring at the end of its 15-minute slot), an accept now and then, and
 * a few trades and settlements. The outbox must stay inside its caps, keep every promise, and drain in
 * the right order when the broker comes back.
 */
const HOURS = 48;
const CYCLES = HOURS * 3600;
const CAPS = { maxRows: 20_000, maxBytes: 6 * 1024 * 1024 };
const T0 = Date.UTC(2025, 5, 1);
const SLOT_MS = 15 * 60_000;

describe('a 48 h broker outage at 1 Hz', () => {
  const tmp = tempDir();
  const path = tmp.path('outage.db');
  let store: Store;
  const promises: string[] = [];
  const telemetryIds: string[] = [];
  const offerIds: string[] = [];
  let maxRowsSeen = 0;
  let maxBytesSeen = 0;
  let end = 0;

  beforeAll(() => {
    store = openStore({ path, log: silentLogger(), outboxCaps: CAPS });
    const payload = Buffer.alloc(300, 'x');
    // One transaction per minute of cycles keeps the test quick; the policies run per enqueue anyway.
    for (let minute = 0; minute < CYCLES / 60; minute++) {
      store.transaction(() => {
        for (let s = 0; s < 60; s++) {
          const now = T0 + (minute * 60 + s) * 1000;
          const t = msg('telemetry', { payload });
          store.outbox.enqueue(t, now);
          telemetryIds.push(t.id);
          if (s === 0) {
            const gate = Math.floor(now / SLOT_MS) * SLOT_MS + SLOT_MS;
            const o = msg('offer', { expiresAt: gate, coalesceKey: 'offer:home-42' });
            store.outbox.enqueue(o, now);
            offerIds.push(o.id);
          }
          if (s === 30 && minute % 97 === 0)
            store.outbox.enqueue(msg('accept', { expiresAt: now + 60_000 }), now);
          if (s === 45 && minute % 240 === 0) {
            const trade = msg(minute % 480 === 0 ? 'trade' : 'settlement');
            store.outbox.enqueue(trade, now);
            promises.push(trade.id);
          }
          end = now;
        }
      });
      const st = store.outbox.stats(end);
      maxRowsSeen = Math.max(maxRowsSeen, st.rows);
      maxBytesSeen = Math.max(maxBytesSeen, st.bytes);
    }
  }, 120_000);

  afterAll(() => {
    store?.close();
    tmp.cleanup();
  });

  it('stays inside the caps all along', () => {
    expect(telemetryIds).toHaveLength(CYCLES);
    expect(maxRowsSeen).toBeLessThanOrEqual(CAPS.maxRows);
    expect(maxBytesSeen).toBeLessThanOrEqual(CAPS.maxBytes);
    // The caps were really reached, so shedding was exercised.
    expect(store.outbox.stats(end).drops['shed-cap']).toBeGreaterThan(CYCLES / 2);
  });

  it('keeps every trade and settlement, and the stats add up', () => {
    const st = store.outbox.stats(end);
    expect(promises.length).toBe(12);
    expect(st.depth.trade + st.depth.settlement).toBe(promises.length);
    expect(st.depth.offer).toBe(1);
    expect(st.drops.coalesced).toBe(offerIds.length - 1);
    expect(st.drops['shed-cap']).toBe(CYCLES - st.depth.telemetry);
    expect(st.overCap).toBe(0);
    expect(st.oldestAgeMs).toBe(end - (T0 + 45_000));
  });

  it('drains promises first, in order, then the live offer, then the newest telemetry in order', () => {
    const drained: OutboxRow[] = [];
    const now = end; // the last offer is still before its gate closure
    for (;;) {
      const batch = store.outbox.nextBatch(500, now, new Set());
      if (batch.length === 0) break;
      drained.push(...batch);
      store.outbox.ackMany(
        batch.map((r) => r.rowId),
        now,
      );
    }
    const classes = drained.map((r) => r.class);
    const promiseRows = drained.filter((r) => r.class === 'trade' || r.class === 'settlement');
    expect(new Set(promiseRows.map((r) => r.id))).toEqual(new Set(promises));
    expect(classes.slice(0, promises.length).every((c) => c === 'trade' || c === 'settlement')).toBe(true);
    expect(drained[promises.length]?.id).toBe(offerIds.at(-1));
    const telemetry = drained.filter((r) => r.class === 'telemetry').map((r) => r.id);
    expect(telemetry).toEqual(telemetryIds.slice(telemetryIds.length - telemetry.length));
    const st = store.outbox.stats(now);
    expect(st).toMatchObject({
      rows: 0,
      bytes: 0,
      sent: drained.length,
      lastSuccessTs: now,
      oldestAgeMs: null,
    });
  });

  it('keeps its counters across a restart', () => {
    const before = store.outbox.stats(end);
    store.close();
    store = openStore({ path, log: silentLogger(), outboxCaps: CAPS });
    expect(store.outbox.stats(end)).toEqual(before);
  });
});

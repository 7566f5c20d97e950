import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { openStore } from '../../src/store/index.js';
import { MIGRATIONS, migrate } from '../../src/store/migrations.js';
import { msg, tempDir } from './helpers.js';

/**
 * Migration 3 rebuilds the outbox table to admit the offer-sync class: a store written before it keeps
 * every row, its per-class tallies and the drain order, and takes the new class afterwards.
 */
describe('migration 3: the offer-sync class', () => {
  const tmp = tempDir();
  afterEach(() => tmp.cleanup());

  it('keeps the rows and tallies of a version-2 store and then takes offer-sync rows', () => {
    const path = tmp.path('v2.db');
    const before = new Database(path);
    migrate(before, MIGRATIONS.slice(0, 2));
    // Rows as the previous version wrote them (rowId = (class slot + 1) × 10^12 + sequence).
    const insert = before.prepare(
      `INSERT INTO outbox (row_id, class, msg_id, topic, payload, retain, enqueued_at, bytes)
       VALUES (?, ?, ?, 'powerdeal/v1/z/h/x', x'7b7d', 0, 1000, 40)`,
    );
    const ids = [1e12 + 1, 7e12 + 2];
    insert.run(ids[0], 'trade', 'trade-1');
    insert.run(ids[1], 'telemetry', 'telemetry-2');
    expect(() => insert.run(8e12 + 3, 'offer-sync', 'sync-3')).toThrow(/CHECK/);
    before.close();

    const s = openStore({ path, log: silentLogger() });
    try {
      expect(s.db.pragma('user_version', { simple: true })).toBe(3);
      expect(s.outbox.nextBatch(10, 1000, new Set()).map((r) => r.rowId)).toEqual(ids);
      const synced = s.outbox.enqueue(msg('offer-sync'), 1000);
      expect(s.outbox.stats(1000).depth).toMatchObject({ trade: 1, telemetry: 1, 'offer-sync': 1 });
      expect(s.outbox.nextBatch(10, 1000, new Set()).map((r) => r.rowId)).toEqual([ids[0], synced, ids[1]]);
      s.outbox.ack(synced, 1000);
      expect(s.outbox.stats(1000).depth['offer-sync']).toBe(0);
      expect(s.quickCheck()).toBe('ok');
    } finally {
      s.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { OUTBOX_PRIORITY } from '../../src/store/index.js';
import { captureLog, msg, storePerTest } from './helpers.js';

const { open } = storePerTest('outbox.db');

const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
const none = new Set<number>();

describe('drain order', () => {
  it('keeps enqueue order within a class under interleaved enqueues', () => {
    const s = open();
    const expected: Record<string, string[]> = { trade: [], telemetry: [], settlement: [] };
    for (let i = 0; i < 60; i++) {
      const cls = (['telemetry', 'trade', 'telemetry', 'settlement', 'trade'] as const)[i % 5]!;
      const m = msg(cls);
      s.outbox.enqueue(m, 1000 + i);
      expected[cls]!.push(m.id);
    }
    const batch = s.outbox.nextBatch(1000, 2000, none);
    expect(ids(batch)).toEqual([...expected.trade!, ...expected.settlement!, ...expected.telemetry!]);
    const rowIds = batch.map((r) => r.rowId);
    for (const cls of ['trade', 'settlement', 'telemetry']) {
      const own = batch.filter((r) => r.class === cls).map((r) => r.rowId);
      expect(own).toEqual([...own].sort((a, b) => a - b));
    }
    expect(new Set(rowIds).size).toBe(60);
  });

  it('drains classes in OUTBOX_PRIORITY order whatever the enqueue order', () => {
    const s = open();
    for (const cls of [...OUTBOX_PRIORITY].reverse()) s.outbox.enqueue(msg(cls), 1000);
    expect(s.outbox.nextBatch(10, 1000, none).map((r) => r.class)).toEqual([...OUTBOX_PRIORITY]);
    expect(s.outbox.list().map((r) => r.class)).toEqual([...OUTBOX_PRIORITY]);
    expect(s.outbox.list({ class: 'offer' }).map((r) => r.class)).toEqual(['offer']);
  });

  it('honours the limit, skips rows in flight and fills the batch past them', () => {
    const s = open();
    const rowIds = Array.from({ length: 1200 }, () => s.outbox.enqueue(msg('telemetry'), 1000));
    const first = s.outbox.nextBatch(32, 1000, none);
    expect(first.map((r) => r.rowId)).toEqual(rowIds.slice(0, 32));
    // More rows in flight than one page holds: the batch must still come back full and in order.
    const inFlight = new Set(rowIds.slice(0, 700));
    const next = s.outbox.nextBatch(32, 1000, inFlight);
    expect(next.map((r) => r.rowId)).toEqual(rowIds.slice(700, 732));
    expect(s.outbox.nextBatch(0, 1000, none)).toEqual([]);
  });

  it('returns the row as enqueued, with its class retain and its attempts', () => {
    const s = open();
    const m = msg('offer', { expiresAt: 9000, coalesceKey: 'offer:h', payload: Buffer.from([0, 1, 255]) });
    const rowId = s.outbox.enqueue(m, 1234);
    s.outbox.retry(rowId, 'timeout', 1300);
    const [row] = s.outbox.nextBatch(1, 1400, none);
    expect(row).toEqual({ ...m, retain: true, rowId, enqueuedAt: 1234, attempts: 1, lastError: 'timeout' });
  });
});

describe('coalescing', () => {
  it('a newer offer revision replaces the unsent older one with the same key', () => {
    const s = open();
    s.outbox.enqueue(msg('offer', { coalesceKey: 'a' }), 1000);
    s.outbox.enqueue(msg('offer', { coalesceKey: 'b' }), 1000);
    const newest = msg('offer', { coalesceKey: 'a' });
    s.outbox.enqueue(newest, 1001);
    const rows = s.outbox.nextBatch(10, 1002, none);
    expect(rows.map((r) => r.coalesceKey)).toEqual(['b', 'a']);
    expect(rows[1]?.id).toBe(newest.id);
    expect(s.outbox.stats(1002).drops.coalesced).toBe(1);
  });

  it('coalesces on the topic when no key is given', () => {
    const s = open();
    s.outbox.enqueue(msg('offer', { topic: 'offer/t' }), 1000);
    s.outbox.enqueue(msg('offer', { topic: 'offer/t' }), 1000);
    s.outbox.enqueue(msg('offer', { topic: 'offer/u' }), 1000);
    expect(s.outbox.stats(1000).depth.offer).toBe(2);
  });

  it('does not coalesce other classes', () => {
    const s = open();
    s.outbox.enqueue(msg('trade', { coalesceKey: 'k' }), 1000);
    s.outbox.enqueue(msg('trade', { coalesceKey: 'k' }), 1000);
    expect(s.outbox.stats(1000).depth.trade).toBe(2);
  });

  it('an in-flight row replaced under the link: its late ack, retry and dead letter are no-ops', () => {
    const s = open();
    const old = s.outbox.enqueue(msg('offer', { coalesceKey: 'k' }), 1000);
    const [inFlight] = s.outbox.nextBatch(1, 1000, none);
    expect(inFlight?.rowId).toBe(old);
    const newer = s.outbox.enqueue(msg('offer', { coalesceKey: 'k' }), 1001);
    expect(newer).toBeGreaterThan(old);
    s.outbox.ack(old, 1002);
    s.outbox.retry(old, 'x', 1002);
    s.outbox.deadLetter(old, 'refused', 1002);
    const st = s.outbox.stats(1002);
    expect(st).toMatchObject({ sent: 0, retries: 0, deadLetters: 0, lastSuccessTs: null });
    expect(st.depth.offer).toBe(1);
    expect(s.deadLetters.count()).toBe(0);
    expect(s.outbox.nextBatch(5, 1003, new Set([old])).map((r) => r.rowId)).toEqual([newer]);
  });
});

describe('expiry', () => {
  it('deletes expired offers and accepts at dequeue, counts them and never returns them', () => {
    const s = open();
    s.outbox.enqueue(msg('accept', { expiresAt: 1500 }), 1000);
    const keep = s.outbox.enqueue(msg('accept', { expiresAt: 5000 }), 1000);
    s.outbox.enqueue(msg('offer', { expiresAt: 2000, coalesceKey: 'x' }), 1000);
    expect(s.outbox.nextBatch(10, 1400, none)).toHaveLength(3);
    const rows = s.outbox.nextBatch(10, 2000, none);
    expect(rows.map((r) => r.rowId)).toEqual([keep]);
    const st = s.outbox.stats(2000);
    expect(st.drops.expired).toBe(2);
    expect(st.depth.accept + st.depth.offer).toBe(1);
  });

  it('leaves an expired row alone while it is in flight, and drops it once it is not', () => {
    const s = open();
    const rowId = s.outbox.enqueue(msg('accept', { expiresAt: 1500 }), 1000);
    expect(s.outbox.nextBatch(10, 2000, new Set([rowId]))).toEqual([]);
    expect(s.outbox.stats(2000).depth.accept).toBe(1);
    s.outbox.retry(rowId, 'timeout', 2000);
    expect(s.outbox.nextBatch(10, 2001, none)).toEqual([]);
    expect(s.outbox.stats(2001)).toMatchObject({ drops: { expired: 1 }, rows: 0 });
  });

  it('never expires never-shed rows, whatever their expiresAt', () => {
    const s = open();
    s.outbox.enqueue(msg('trade', { expiresAt: 1 }), 1000);
    expect(s.outbox.nextBatch(10, 10_000, none)).toHaveLength(1);
  });

  it('refuses an expiring class without expiresAt and an unknown class', () => {
    const s = open();
    expect(() => s.outbox.enqueue(msg('offer', { expiresAt: undefined }), 1)).toThrow(/expiresAt/);
    expect(() => s.outbox.enqueue(msg('accept', { expiresAt: Number.NaN }), 1)).toThrow(/expiresAt/);
    // biome-ignore lint/suspicious/noExplicitAny: an invalid class on purpose
    expect(() => s.outbox.enqueue(msg('trade', { class: 'chat' as any }), 1)).toThrow(/unknown class/);
    expect(s.outbox.stats(1).rows).toBe(0);
  });
});

describe('caps', () => {
  it('sheds telemetry oldest-first to stay under the row cap', () => {
    const s = open({ outboxCaps: { maxRows: 100, maxBytes: 1e9 } });
    const all = Array.from({ length: 250 }, () => s.outbox.enqueue(msg('telemetry'), 1000));
    const st = s.outbox.stats(1000);
    expect(st.rows).toBeLessThanOrEqual(100);
    const left = s.outbox.nextBatch(1000, 1000, none).map((r) => r.rowId);
    expect(left).toEqual(all.slice(all.length - left.length));
    expect(st.drops['shed-cap']).toBe(250 - left.length);
  });

  it('sheds telemetry to stay under the byte cap', () => {
    const s = open({ outboxCaps: { maxRows: 1e6, maxBytes: 20_000 } });
    for (let i = 0; i < 200; i++) s.outbox.enqueue(msg('telemetry', { payload: Buffer.alloc(500) }), 1000);
    const st = s.outbox.stats(1000);
    expect(st.bytes).toBeLessThanOrEqual(20_000);
    expect(st.bytes).toBeGreaterThan(15_000);
    expect(st.drops['shed-cap']).toBe(200 - st.rows);
  });

  it('never sheds never-shed rows: above the cap they are kept, counted and logged once', () => {
    const { log, lines } = captureLog();
    const s = open({ log, outboxCaps: { maxRows: 10, maxBytes: 1e9 } });
    for (let i = 0; i < 5; i++) s.outbox.enqueue(msg('telemetry'), 1000);
    const trades = Array.from({ length: 30 }, () => s.outbox.enqueue(msg('trade'), 1000));
    const settlement = s.outbox.enqueue(msg('settlement'), 1000);
    // A telemetry row now has nothing to make room for it but itself.
    s.outbox.enqueue(msg('telemetry'), 1000);
    const st = s.outbox.stats(1000);
    expect(st.depth).toMatchObject({ trade: 30, settlement: 1, telemetry: 0 });
    expect(st.drops['shed-cap']).toBe(6);
    // Trades 11..30 and the settlement were kept with no telemetry left to shed; the last telemetry
    // row made room by shedding itself.
    expect(st.overCap).toBe(21);
    const rows = s.outbox.nextBatch(100, 1000, none).map((r) => r.rowId);
    expect(rows).toEqual([...trades, settlement]);
    expect(lines.filter((l) => l.level === 'warn' && String(l.msg).includes('above its cap'))).toHaveLength(
      1,
    );
  });

  it('drops expired offers and accepts before shedding telemetry', () => {
    const s = open({ outboxCaps: { maxRows: 10, maxBytes: 1e9 } });
    for (let i = 0; i < 4; i++) s.outbox.enqueue(msg('accept', { expiresAt: 1500 }), 1000);
    for (let i = 0; i < 6; i++) s.outbox.enqueue(msg('telemetry'), 1000);
    s.outbox.enqueue(msg('telemetry'), 2000);
    const st = s.outbox.stats(2000);
    expect(st.drops).toMatchObject({ expired: 4, 'shed-cap': 0 });
    expect(st.depth).toMatchObject({ accept: 0, telemetry: 7 });
  });
});

describe('ack, retry, dead letters, purge', () => {
  it('ack deletes and counts; retry counts attempts; both persist across reopen', () => {
    let s = open();
    const a = s.outbox.enqueue(msg('trade'), 1000);
    const b = s.outbox.enqueue(msg('telemetry'), 1000);
    const c = s.outbox.enqueue(msg('telemetry'), 1000);
    s.outbox.retry(a, 'timeout', 1100);
    s.outbox.retry(a, 'timeout', 1200);
    s.outbox.ack(a, 1300);
    expect(s.outbox.ackMany([b, c, 999_999], 1400)).toBe(2);
    s.outbox.enqueue(msg('telemetry'), 1500);
    const before = s.outbox.stats(2000);
    expect(before).toMatchObject({ sent: 3, retries: 2, lastSuccessTs: 1400, rows: 1, oldestAgeMs: 500 });
    s = open();
    expect(s.outbox.stats(2000)).toEqual(before);
  });

  it('never reuses a rowId, also after the newest row was deleted and the store reopened', () => {
    let s = open();
    const a = s.outbox.enqueue(msg('telemetry'), 1);
    s.outbox.ack(a, 2);
    const b = s.outbox.enqueue(msg('telemetry'), 3);
    expect(b).toBeGreaterThan(a);
    s.outbox.ack(b, 4);
    s = open();
    expect(s.outbox.enqueue(msg('telemetry'), 5)).toBeGreaterThan(b);
  });

  it('deadLetter moves the row to the dead-letter table with its reason and class', () => {
    const s = open();
    const m = msg('trade');
    const rowId = s.outbox.enqueue(m, 1000);
    s.outbox.deadLetter(rowId, 'topic-refused (0x87)', 1100);
    expect(s.outbox.stats(1100)).toMatchObject({ rows: 0, deadLetters: 1 });
    const [d] = s.deadLetters.list();
    expect(d).toMatchObject({
      direction: 'out',
      reason: 'topic-refused (0x87)',
      topic: m.topic,
      messageId: m.id,
      class: 'trade',
      retain: false,
      ts: 1100,
    });
    expect(d?.payload.equals(m.payload)).toBe(true);
  });

  it('purge skips never-shed rows unless forced', () => {
    const s = open();
    for (const cls of OUTBOX_PRIORITY) s.outbox.enqueue(msg(cls), 1000);
    expect(() => s.outbox.purge({ class: 'settlement' }, 1000)).toThrow(/force/);
    expect(s.outbox.purge({}, 1000)).toBe(4);
    expect(s.outbox.stats(1000).rows).toBe(4);
    expect(s.outbox.purge({ class: 'trade', force: true }, 1000)).toBe(1);
    expect(s.outbox.purge({ force: true }, 1000)).toBe(3);
    expect(s.outbox.stats(1000)).toMatchObject({ rows: 0, bytes: 0, drops: { purged: 8 } });
  });
});

describe('transactions', () => {
  it('an enqueue inside a transaction that throws leaves no row and no count behind', () => {
    const s = open({ outboxCaps: { maxRows: 5, maxBytes: 1e9 } });
    for (let i = 0; i < 5; i++) s.outbox.enqueue(msg('telemetry'), 1000);
    const before = s.outbox.stats(1000);
    expect(() =>
      s.transaction(() => {
        s.outbox.enqueue(msg('trade'), 1000);
        s.outbox.enqueue(msg('offer', { coalesceKey: 'k' }), 1000);
        s.outbox.enqueue(msg('telemetry'), 1000);
        throw new Error('decision failed');
      }),
    ).toThrow('decision failed');
    expect(s.outbox.stats(1000)).toEqual(before);
    expect(s.db.prepare('SELECT count(*) AS n FROM outbox').get()).toEqual({ n: 5 });
  });

  it('runs a durable transaction at synchronous=FULL and the rest at NORMAL', () => {
    const s = open();
    const level = () => s.db.pragma('synchronous', { simple: true });
    expect(level()).toBe(1);
    expect(s.transaction(() => level(), { durable: true })).toBe(2);
    expect(level()).toBe(1);
    expect(s.transaction(() => level())).toBe(1);
    // A never-shed enqueue inside a NORMAL transaction is owed a sync after the commit, not an error.
    const rowId = s.transaction(() =>
      s.transaction(() => s.outbox.enqueue(msg('trade'), 1), { durable: true }),
    );
    expect(s.outbox.list().map((r) => r.rowId)).toEqual([rowId]);
    expect(() =>
      s.transaction(
        () => {
          throw new Error('x');
        },
        { durable: true },
      ),
    ).toThrow('x');
    expect(level()).toBe(1);
  });

  it('stats keep running totals equal to the table contents', () => {
    const s = open({ outboxCaps: { maxRows: 300, maxBytes: 40_000 } });
    for (let i = 0; i < 1000; i++) {
      const cls = OUTBOX_PRIORITY[i % OUTBOX_PRIORITY.length]!;
      const rowId = s.outbox.enqueue(msg(cls, { payload: Buffer.alloc(i % 97) }), 1000 + i);
      if (i % 5 === 0) s.outbox.ack(rowId - 2, 1000 + i);
    }
    const actual = s.db
      .prepare('SELECT class, count(*) AS n, sum(bytes) AS b FROM outbox GROUP BY class')
      .all() as { class: string; n: number; b: number }[];
    const st = s.outbox.stats(5000);
    for (const r of actual) {
      expect(st.depth[r.class as keyof typeof st.depth]).toBe(r.n);
      expect(st.bytesByClass[r.class as keyof typeof st.depth]).toBe(r.b);
    }
    expect(st.rows).toBe(actual.reduce((a, r) => a + r.n, 0));
  });
});

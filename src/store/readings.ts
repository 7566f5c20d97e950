import type Database from 'better-sqlite3';
import { QUANTITY_NAMES, type QuantityName, type Snapshot } from '../core/quantities.js';
import type { StoreMeta } from './meta.js';
import { decodeSnapshot, encodeSnapshot } from './readings-codec.js';
import type { Transactions } from './transactions.js';

const HOUR_MS = 3_600_000;
const ROLLED_UP_KEY = 'readings.rolledUpTo';
/** Readings kept in memory when the database refuses writes (disk full): the oldest go first. */
const MAX_PENDING = 3600;

/** Mean, min and max of the good values of one quantity over one hour. */
export interface HourlyAggregate {
  /** Epoch ms of the start of the hour (UTC). */
  hour: number;
  quantity: QuantityName;
  /** Good samples in the hour. */
  count: number;
  mean: number;
  min: number;
  max: number;
  /** The hour is still running (its figures will change). */
  partial: boolean;
}

/** The per-cycle history of the home's quantities. */
export interface Readings {
  /** Records one cycle's snapshot (one row, one transaction). */
  append(snapshot: Snapshot, now: number): void;
  /** The newest snapshot appended (also after a restart), or undefined. */
  latest(): Snapshot | undefined;
  /** Snapshots with ts >= `ts`, oldest first, at most `limit` (default 1000). */
  since(ts: number, limit?: number): Snapshot[];
  /** Hourly aggregates for the hours from the one holding `sinceTs` on, oldest first. */
  hourly(sinceTs: number): HourlyAggregate[];
  /** Deletes raw readings older than `olderThanTs` (their hours are aggregated first); returns how many. */
  prune(olderThanTs: number): number;
  /** Writes the buffered snapshots now. */
  flush(): void;
}

interface Acc {
  n: number;
  sum: number;
  min: number;
  max: number;
}

const floorHour = (ts: number) => Math.floor(ts / HOUR_MS) * HOUR_MS;

function accumulate(into: Map<string, Acc>, s: Snapshot): void {
  const hour = floorHour(s.ts);
  for (const name of QUANTITY_NAMES) {
    const q = s.quantities[name];
    if (q === undefined || q.quality !== 'good' || q.value === null || !Number.isFinite(q.value)) continue;
    const key = `${hour}|${name}`;
    const a = into.get(key);
    if (a === undefined) into.set(key, { n: 1, sum: q.value, min: q.value, max: q.value });
    else {
      a.n += 1;
      a.sum += q.value;
      if (q.value < a.min) a.min = q.value;
      if (q.value > a.max) a.max = q.value;
    }
  }
}

/**
 * Readings on SQLite: one packed row per cycle (about 150 bytes), hourly aggregates of the good values.
 *
 * Invariant: readings_hourly holds every raw row with ts below `rolledUpTo` (an hour boundary kept in
 * meta); hours from `rolledUpTo` on are aggregated from the raw rows when asked. Complete hours are
 * rolled up as appends move past them; a late row (the clock stepped back) is merged into its hour.
 */
export class SqliteReadings implements Readings {
  private readonly s: ReturnType<typeof prepare>;
  private pending: Snapshot[] = [];
  private pendingSince = 0;
  private newest: Snapshot | undefined;

  constructor(
    db: Database.Database,
    private readonly tx: Transactions,
    private readonly meta: StoreMeta,
    private readonly opts: { flushMs: number },
  ) {
    this.s = prepare(db);
    const last = this.s.latest.get();
    this.newest = last === undefined ? undefined : decodeSnapshot(last.ts, last.cycle, last.data);
  }

  append(snapshot: Snapshot, now: number): void {
    if (this.newest === undefined || snapshot.ts >= this.newest.ts) this.newest = snapshot;
    if (this.pending.length === 0) this.pendingSince = now;
    this.pending.push(snapshot);
    if (this.pending.length > MAX_PENDING) this.pending.shift();
    if (this.opts.flushMs <= 0 || now - this.pendingSince >= this.opts.flushMs) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.tx.run(() => {
      // Rolled back (here or by the caller's transaction): the snapshots go back in the buffer.
      this.tx.onRollback(() => {
        this.pending = [...batch, ...this.pending].slice(-MAX_PENDING);
      });
      const rolledUpTo = this.rolledUpTo();
      const late = new Map<string, Acc>();
      let top = Number.NEGATIVE_INFINITY;
      for (const s of batch) {
        const inserted = this.s.insert.run(s.ts, s.cycle, encodeSnapshot(s)).changes > 0;
        if (inserted && rolledUpTo !== null && s.ts < rolledUpTo) accumulate(late, s);
        if (s.ts > top) top = s.ts;
      }
      this.merge(late);
      if (rolledUpTo === null || floorHour(top) > rolledUpTo) this.rollUp(rolledUpTo, floorHour(top));
    });
  }

  latest(): Snapshot | undefined {
    return this.newest;
  }

  since(ts: number, limit = 1000): Snapshot[] {
    this.flush();
    return this.s.since.all(ts, limit).map((r) => decodeSnapshot(r.ts, r.cycle, r.data));
  }

  hourly(sinceTs: number): HourlyAggregate[] {
    this.flush();
    const from = floorHour(sinceTs);
    const current = this.newest === undefined ? null : floorHour(this.newest.ts);
    const out: HourlyAggregate[] = this.s.hourly.all(from).map((r) => ({
      hour: r.hour,
      quantity: r.quantity,
      count: r.n,
      mean: r.mean,
      min: r.min_value,
      max: r.max_value,
      partial: r.hour === current,
    }));
    const live = new Map<string, Acc>();
    for (const r of this.s.raw.iterate(Math.max(from, this.rolledUpTo() ?? from), Number.MAX_SAFE_INTEGER)) {
      accumulate(live, decodeSnapshot(r.ts, r.cycle, r.data));
    }
    for (const [key, a] of live) {
      const [hour, quantity] = key.split('|') as [string, QuantityName];
      out.push({
        hour: Number(hour),
        quantity,
        count: a.n,
        mean: a.sum / a.n,
        min: a.min,
        max: a.max,
        partial: Number(hour) === current,
      });
    }
    const order = (q: QuantityName) => QUANTITY_NAMES.indexOf(q);
    return out.sort((a, b) => a.hour - b.hour || order(a.quantity) - order(b.quantity));
  }

  prune(olderThanTs: number): number {
    this.flush();
    return this.tx.run(() => {
      const cut = Math.ceil(olderThanTs / HOUR_MS) * HOUR_MS;
      const rolledUpTo = this.rolledUpTo();
      if (rolledUpTo === null || cut > rolledUpTo) this.rollUp(rolledUpTo, cut);
      return this.s.prune.run(olderThanTs).changes;
    });
  }

  /** Read each time, not cached: a caller's transaction that rolls back takes a move of the mark with it. */
  private rolledUpTo(): number | null {
    const v = this.meta.get(ROLLED_UP_KEY);
    return v === undefined ? null : Number(v);
  }

  /** Aggregates the raw rows in [from, until) into readings_hourly and moves the mark to `until`. */
  private rollUp(from: number | null, until: number): void {
    const acc = new Map<string, Acc>();
    for (const r of this.s.raw.iterate(from ?? Number.MIN_SAFE_INTEGER, until)) {
      accumulate(acc, decodeSnapshot(r.ts, r.cycle, r.data));
    }
    this.merge(acc);
    this.meta.set(ROLLED_UP_KEY, String(until));
  }

  private merge(acc: Map<string, Acc>): void {
    for (const [key, a] of acc) {
      const [hour, quantity] = key.split('|') as [string, string];
      this.s.merge.run({ hour: Number(hour), quantity, n: a.n, mean: a.sum / a.n, min: a.min, max: a.max });
    }
  }
}

function prepare(db: Database.Database) {
  return {
    insert: db.prepare<[number, number, Buffer]>(
      'INSERT OR IGNORE INTO readings (ts, cycle, data) VALUES (?, ?, ?)',
    ),
    latest: db.prepare<[], { ts: number; cycle: number; data: Buffer }>(
      'SELECT ts, cycle, data FROM readings ORDER BY ts DESC LIMIT 1',
    ),
    since: db.prepare<[number, number], { ts: number; cycle: number; data: Buffer }>(
      'SELECT ts, cycle, data FROM readings WHERE ts >= ? ORDER BY ts LIMIT ?',
    ),
    raw: db.prepare<[number, number], { ts: number; cycle: number; data: Buffer }>(
      'SELECT ts, cycle, data FROM readings WHERE ts >= ? AND ts < ? ORDER BY ts',
    ),
    hourly: db.prepare<
      [number],
      { hour: number; quantity: QuantityName; n: number; mean: number; min_value: number; max_value: number }
    >(
      'SELECT hour, quantity, n, mean, min_value, max_value FROM readings_hourly WHERE hour >= ? ORDER BY hour',
    ),
    merge: db.prepare<{ hour: number; quantity: string; n: number; mean: number; min: number; max: number }>(
      `INSERT INTO readings_hourly (hour, quantity, n, mean, min_value, max_value)
       VALUES (@hour, @quantity, @n, @mean, @min, @max)
       ON CONFLICT (hour, quantity) DO UPDATE SET
         n = n + excluded.n,
         mean = (mean * n + excluded.mean * excluded.n) / (n + excluded.n),
         min_value = min(min_value, excluded.min_value),
         max_value = max(max_value, excluded.max_value)`,
    ),
    prune: db.prepare<[number]>('DELETE FROM readings WHERE ts < ?'),
  };
}

import type Database from 'better-sqlite3';
import { QUANTITY_NAMES, type QuantityName, type Snapshot } from '../core/quantities.js';
import type { StoreMeta } from './meta.js';
import { decodeSnapshot, encodeSnapshot } from './readings-codec.js';
import { floorHour, floorMinute, MINUTE_MS, MinuteAccumulator } from './readings-minute.js';
import type { Transactions } from './transactions.js';

/** Where databases written before minute rows keep how far their per-cycle rows are aggregated. */
const ROLLED_UP_KEY = 'readings.rolledUpTo';
/** Per-cycle snapshots kept in memory: the page's and the CLI's last minutes at full resolution. */
const RECENT_MS = 15 * MINUTE_MS;
/** Minute rows kept in memory when the database refuses writes (disk full): the oldest go first. */
const MAX_PENDING_MINUTES = 1440;

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

/**
 * The history of the home's quantities: every cycle for the last 15 minutes (in memory), one row per
 * minute on disk (the mean of each quantity's good values), and hourly aggregates of every cycle.
 */
export interface Readings {
  /** Records one cycle's snapshot (written with its minute, every `flushMs`). */
  append(snapshot: Snapshot, now: number): void;
  /** The newest snapshot appended (after a restart: the newest minute row), or undefined. */
  latest(): Snapshot | undefined;
  /**
   * Snapshots with ts >= `ts`, oldest first, at most `limit` (default 1000): minute rows, then the
   * cycles of the last 15 minutes; nothing waiting for a write is left out.
   */
  since(ts: number, limit?: number): Snapshot[];
  /** Hourly aggregates of every cycle, for the hours from the one holding `sinceTs` on, oldest first. */
  hourly(sinceTs: number): HourlyAggregate[];
  /** Deletes minute rows older than `olderThanTs` (the hourly aggregates stay); returns how many. */
  prune(olderThanTs: number): number;
  /** Writes everything buffered now, the running minute included. */
  flush(): void;
}

interface Acc {
  n: number;
  sum: number;
  min: number;
  max: number;
}

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

function mergeAcc(into: Map<string, Acc>, from: Map<string, Acc>): void {
  for (const [key, a] of from) {
    const b = into.get(key);
    if (b === undefined) into.set(key, { ...a });
    else {
      b.n += a.n;
      b.sum += a.sum;
      b.min = Math.min(a.min, b.min);
      b.max = Math.max(a.max, b.max);
    }
  }
}

/**
 * Readings on SQLite, written for an SD card: a commit every `flushMs` (5 minutes by default) holds a few
 * packed minute rows (about 150 bytes each) and the hourly aggregates of the cycles since the last one,
 * so the history costs a few WAL frames per flush instead of a row per second. The last 15 minutes of
 * cycles stay in memory (packed) for the page's short windows. A power cut loses what was not flushed:
 * at most `flushMs` of history, never anything the link or trading keeps.
 */
export class SqliteReadings implements Readings {
  private readonly s: ReturnType<typeof prepare>;
  /** Packed cycles of the last RECENT_MS, oldest first. */
  private recent: { ts: number; cycle: number; data: Buffer }[] = [];
  private minute: MinuteAccumulator | null = null;
  /** Complete minutes not written yet. */
  private pendingMinutes: Snapshot[] = [];
  /** Hourly aggregates of the cycles since the last write. */
  private pendingHours = new Map<string, Acc>();
  private lastFlush: number | null = null;
  /** Cycles appended since the last write. */
  private dirty = false;
  private newest: Snapshot | undefined;

  constructor(
    db: Database.Database,
    private readonly tx: Transactions,
    private readonly meta: StoreMeta,
    private readonly opts: { flushMs: number },
  ) {
    this.s = prepare(db);
    this.finishPerCycleRows();
    const last = this.s.latest.get();
    this.newest = last === undefined ? undefined : decodeSnapshot(last.ts, last.cycle, last.data);
  }

  append(snapshot: Snapshot, now: number): void {
    if (this.newest === undefined || snapshot.ts >= this.newest.ts) this.newest = snapshot;
    this.recent.push({ ts: snapshot.ts, cycle: snapshot.cycle, data: encodeSnapshot(snapshot) });
    const keepFrom = (this.newest?.ts ?? snapshot.ts) - RECENT_MS;
    while ((this.recent[0]?.ts ?? keepFrom) < keepFrom) this.recent.shift();
    const minute = floorMinute(snapshot.ts);
    if (this.minute !== null && this.minute.minute !== minute) {
      this.pendingMinutes.push(this.minute.snapshot());
      if (this.pendingMinutes.length > MAX_PENDING_MINUTES) this.pendingMinutes.shift();
      this.minute = null;
    }
    this.minute ??= new MinuteAccumulator(minute);
    this.minute.add(snapshot);
    accumulate(this.pendingHours, snapshot);
    this.dirty = true;
    this.lastFlush ??= now;
    if (this.opts.flushMs <= 0 || now - this.lastFlush >= this.opts.flushMs) this.flush(now);
  }

  flush(now?: number): void {
    if (now !== undefined) this.lastFlush = now;
    if (!this.dirty) return;
    this.dirty = false;
    const running = this.minute?.snapshot();
    const minutes = this.pendingMinutes;
    const hours = this.pendingHours;
    this.pendingMinutes = [];
    this.pendingHours = new Map();
    this.tx.run(() => {
      // Rolled back (here or by the caller's transaction): all of it goes back in the buffer.
      this.tx.onRollback(() => {
        this.dirty = true;
        this.pendingMinutes = [...minutes, ...this.pendingMinutes].slice(-MAX_PENDING_MINUTES);
        mergeAcc(this.pendingHours, hours);
      });
      for (const m of minutes) this.s.insert.run(m.ts, m.cycle, encodeSnapshot(m));
      // The running minute as far as it goes; its next write replaces it.
      if (running !== undefined) this.s.insert.run(running.ts, running.cycle, encodeSnapshot(running));
      this.merge(hours);
    });
  }

  latest(): Snapshot | undefined {
    return this.newest;
  }

  since(ts: number, limit = 1000): Snapshot[] {
    // Cycles are served from memory from the first whole minute they cover (from their first one when
    // it starts a minute or its minute is still running); before it, minute rows (written or not) serve.
    let rowsUntil = Number.MAX_SAFE_INTEGER;
    let cyclesFrom = Number.MAX_SAFE_INTEGER;
    const first = this.recent[0];
    if (first !== undefined) {
      const m = floorMinute(first.ts);
      const whole = m === first.ts || m === this.minute?.minute;
      rowsUntil = whole ? m : m + MINUTE_MS;
      cyclesFrom = whole ? first.ts : m + MINUTE_MS;
    }
    const rows = this.s.since.all(ts, rowsUntil, limit).map((r) => decodeSnapshot(r.ts, r.cycle, r.data));
    const onDisk = new Set(rows.map((r) => r.ts));
    for (const m of this.pendingMinutes) {
      if (m.ts >= ts && m.ts < rowsUntil && !onDisk.has(m.ts)) rows.push(m);
    }
    rows.sort((a, b) => a.ts - b.ts);
    for (const r of this.recent) {
      if (rows.length >= limit) break;
      if (r.ts >= ts && r.ts >= cyclesFrom) rows.push(decodeSnapshot(r.ts, r.cycle, r.data));
    }
    return rows.slice(0, limit);
  }

  hourly(sinceTs: number): HourlyAggregate[] {
    const from = floorHour(sinceTs);
    const current = this.newest === undefined ? null : floorHour(this.newest.ts);
    const acc = new Map<string, Acc>();
    for (const r of this.s.hourly.all(from)) {
      acc.set(`${r.hour}|${r.quantity}`, { n: r.n, sum: r.mean * r.n, min: r.min_value, max: r.max_value });
    }
    mergeAcc(
      acc,
      new Map([...this.pendingHours].filter(([key]) => Number(key.slice(0, key.indexOf('|'))) >= from)),
    );
    const order = (q: QuantityName) => QUANTITY_NAMES.indexOf(q);
    return [...acc]
      .map(([key, a]) => {
        const [hour, quantity] = key.split('|') as [string, QuantityName];
        return {
          hour: Number(hour),
          quantity,
          count: a.n,
          mean: a.sum / a.n,
          min: a.min,
          max: a.max,
          partial: Number(hour) === current,
        };
      })
      .sort((a, b) => a.hour - b.hour || order(a.quantity) - order(b.quantity));
  }

  prune(olderThanTs: number): number {
    return this.tx.run(() => this.s.prune.run(olderThanTs).changes);
  }

  /**
   * A database from before minute rows holds one row per cycle, aggregated hourly up to a mark: the
   * rows past the mark are aggregated once, then the mark goes (aggregates are kept current from here).
   */
  private finishPerCycleRows(): void {
    const mark = this.meta.get(ROLLED_UP_KEY);
    if (mark === undefined) return;
    this.tx.run(() => {
      const acc = new Map<string, Acc>();
      for (const r of this.s.raw.iterate(Number(mark)))
        accumulate(acc, decodeSnapshot(r.ts, r.cycle, r.data));
      this.merge(acc);
      this.meta.delete(ROLLED_UP_KEY);
    });
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
      'INSERT OR REPLACE INTO readings (ts, cycle, data) VALUES (?, ?, ?)',
    ),
    latest: db.prepare<[], { ts: number; cycle: number; data: Buffer }>(
      'SELECT ts, cycle, data FROM readings ORDER BY ts DESC LIMIT 1',
    ),
    since: db.prepare<[number, number, number], { ts: number; cycle: number; data: Buffer }>(
      'SELECT ts, cycle, data FROM readings WHERE ts >= ? AND ts < ? ORDER BY ts LIMIT ?',
    ),
    raw: db.prepare<[number], { ts: number; cycle: number; data: Buffer }>(
      'SELECT ts, cycle, data FROM readings WHERE ts >= ? ORDER BY ts',
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

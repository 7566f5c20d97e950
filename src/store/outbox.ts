import type Database from 'better-sqlite3';
import type { Logger } from '../log/logger.js';
import type { DeadLetters } from './dead-letters.js';
import {
  type DropReason,
  OUTBOX_POLICIES,
  OUTBOX_PRIORITY,
  type OutboxClass,
  type OutboxMessage,
  type OutboxQueue,
  type OutboxRow,
  type OutboxStats,
} from './outbox-types.js';
import type { Transactions } from './transactions.js';

export interface OutboxCaps {
  maxRows: number;
  /** Counted per row as payload + topic + id + coalesce key bytes. */
  maxBytes: number;
}

export interface OutboxListRow extends OutboxRow {
  lastError: string | null;
}

export interface OutboxStatsDetail extends OutboxStats {
  rows: number;
  bytesByClass: Record<OutboxClass, number>;
  /** Enqueues kept above a cap because nothing could be shed for them (never-shed, unexpired offers). */
  overCap: number;
  caps: OutboxCaps;
}

/** The persistent outbox (DESIGN §5): what the link drains, plus what the engine and the CLI need. */
export interface Outbox extends OutboxQueue {
  readonly caps: OutboxCaps;
  /**
   * Adds a row and returns its rowId (never reused). Call it inside `store.transaction()` to make it
   * atomic with the decision that caused it; a never-shed row makes that transaction durable. Never
   * fails because of the caps: telemetry is shed to make room, and other rows are kept above the caps
   * (counted in `overCap`, logged) because losing a promise is worse than exceeding a cap.
   */
  enqueue(msg: OutboxMessage, now: number): number;
  /** `ack` for many rows in one transaction (one commit for a whole batch of PUBACKs). */
  ackMany(rowIds: Iterable<number>, now: number): number;
  /** Rows in drain order (priority, then rowId), at most `limit` (default 100). */
  list(opts?: { class?: OutboxClass; limit?: number }): OutboxListRow[];
  /**
   * Deletes the rows of one class or of every class, counted as `purged`. Never-shed rows go only with
   * `force` (a class of them without `force` throws; all classes without `force` skips them).
   */
  purge(opts: { class?: OutboxClass; force?: boolean }, now: number): number;
  stats(now: number): OutboxStatsDetail;
}

/** Shedding goes this far below a cap, so a full outbox sheds in batches rather than on every enqueue. */
const SHED_HEADROOM = 0.01;
const SHED_PAGE = 512;
const MAX_ERROR_CHARS = 500;

const EXPIRING_CLASSES = OUTBOX_PRIORITY.filter((c) => OUTBOX_POLICIES[c].includes('expire'));
const SHEDDABLE_CLASSES = OUTBOX_PRIORITY.filter((c) => OUTBOX_POLICIES[c] === 'shed-oldest');
const sqlList = (classes: readonly string[]) => classes.map((c) => `'${c}'`).join(', ');
const CLASS_PREFIX = 'class:';

/**
 * A rowId carries its class: (slot + 1) × 10^12 + a sequence number shared by every class and never
 * reused. The table's own rowid B-tree is then in drain order (class, then enqueue order), so a class
 * drains by a range scan and no secondary index has to be written on every enqueue and ack. The slots
 * are stored in the data: never renumber them (the drain priority is OUTBOX_PRIORITY, not the slot).
 */
const ROW_ID_STRIDE = 1e12;
const CLASS_SLOT: Record<OutboxClass, number> = {
  trade: 0,
  'trade-ack': 1,
  reject: 2,
  settlement: 3,
  accept: 4,
  offer: 5,
  telemetry: 6,
};
const classBase = (cls: OutboxClass) => (CLASS_SLOT[cls] + 1) * ROW_ID_STRIDE;
const classEnd = (cls: OutboxClass) => classBase(cls) + ROW_ID_STRIDE;

type Counter =
  | 'sent'
  | 'retries'
  | 'dead_letters'
  | 'expired'
  | 'coalesced'
  | 'shed_cap'
  | 'purged'
  | 'over_cap'
  | 'last_success_ts';
const DROP_COUNTER: Record<DropReason, Counter> = {
  expired: 'expired',
  coalesced: 'coalesced',
  'shed-cap': 'shed_cap',
  purged: 'purged',
};

interface Row {
  row_id: number;
  class: OutboxClass;
  msg_id: string;
  topic: string;
  payload: Buffer;
  retain: number;
  expires_at: number | null;
  coalesce_key: string | null;
  enqueued_at: number;
  attempts: number;
  last_error: string | null;
}

const ROW_COLUMNS =
  'row_id, class, msg_id, topic, payload, retain, expires_at, coalesce_key, enqueued_at, attempts, last_error';

function toRow(r: Row): OutboxListRow {
  const row: OutboxListRow = {
    rowId: r.row_id,
    id: r.msg_id,
    class: r.class,
    topic: r.topic,
    payload: r.payload,
    retain: r.retain !== 0,
    enqueuedAt: r.enqueued_at,
    attempts: r.attempts,
    lastError: r.last_error,
  };
  if (r.expires_at !== null) row.expiresAt = r.expires_at;
  if (r.coalesce_key !== null) row.coalesceKey = r.coalesce_key;
  return row;
}

function zeroByClass(): Record<OutboxClass, number> {
  return Object.fromEntries(OUTBOX_PRIORITY.map((c) => [c, 0])) as Record<OutboxClass, number>;
}

function rowBytes(msg: OutboxMessage, key: string | null): number {
  return (
    msg.payload.length +
    Buffer.byteLength(msg.topic) +
    Buffer.byteLength(msg.id) +
    (key === null ? 0 : Buffer.byteLength(key))
  );
}

function validate(msg: OutboxMessage): void {
  const policy = OUTBOX_POLICIES[msg.class];
  if (policy === undefined) throw new Error(`outbox: unknown class ${JSON.stringify(msg.class)}`);
  if (typeof msg.id !== 'string' || msg.id === '') throw new Error('outbox: a message needs an id');
  if (typeof msg.topic !== 'string' || msg.topic === '') throw new Error('outbox: a message needs a topic');
  if (!(msg.payload instanceof Uint8Array)) throw new Error('outbox: payload must be a Buffer');
  if (policy.includes('expire') && !Number.isFinite(msg.expiresAt)) {
    throw new Error(`outbox: a ${msg.class} message needs expiresAt (policy ${policy})`);
  }
}

/**
 * The outbox on SQLite. Every path is index-driven: rowId ranges for the drain order and shedding, a
 * partial index on (class, expires_at) for expiry, a partial index on coalesce_key for offer revisions;
 * depth and bytes per class are running totals kept by triggers in the one-page tally table, next to
 * the persisted counters.
 *
 * ack, retry and deadLetter for a rowId that no longer exists do nothing: a row may be deleted while
 * the link has it in flight (a newer offer revision, shedding, a purge), and its late PUBACK must
 * neither fail nor touch another row (rowIds are never reused).
 */
export class SqliteOutbox implements Outbox {
  private readonly s: ReturnType<typeof prepare>;
  private overCapLogged = false;

  constructor(
    db: Database.Database,
    private readonly tx: Transactions,
    private readonly deadLetters: DeadLetters,
    private readonly log: Logger,
    readonly caps: OutboxCaps,
  ) {
    if (!(caps.maxRows > 0 && caps.maxBytes > 0)) throw new Error('outbox: caps must be positive');
    this.s = prepare(db);
  }

  enqueue(msg: OutboxMessage, now: number): number {
    validate(msg);
    return this.tx.run(() => this.insert(msg, now), OUTBOX_POLICIES[msg.class] === 'never-shed');
  }

  nextBatch(limit: number, now: number, inFlight: ReadonlySet<number>): OutboxRow[] {
    if (limit <= 0) return [];
    const depth = this.depths();
    if (EXPIRING_CLASSES.some((c) => depth[c] > 0)) this.expireDue(now, inFlight);
    const out: OutboxRow[] = [];
    for (const cls of OUTBOX_PRIORITY) {
      if (depth[cls] === 0) continue;
      let after = classBase(cls);
      while (out.length < limit) {
        const want = limit - out.length + Math.min(inFlight.size, SHED_PAGE);
        const page = this.s.page.all(after, classEnd(cls), want);
        for (const r of page) {
          after = r.row_id;
          if (inFlight.has(r.row_id)) continue;
          out.push(toRow(r));
          if (out.length >= limit) break;
        }
        if (page.length < want) break;
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  ack(rowId: number, now: number): void {
    this.ackMany([rowId], now);
  }

  ackMany(rowIds: Iterable<number>, now: number): number {
    return this.tx.run(() => {
      let n = 0;
      for (const id of rowIds) n += this.s.delete.run(id).changes;
      if (n > 0) this.s.sent.run(n, now);
      return n;
    });
  }

  retry(rowId: number, error: string, _now: number): void {
    this.tx.run(() => {
      if (this.s.retry.run(error.slice(0, MAX_ERROR_CHARS), rowId).changes > 0) this.bump('retries', 1);
    });
  }

  deadLetter(rowId: number, reason: string, now: number): void {
    this.tx.run(() => {
      const r = this.s.get.get(rowId);
      if (r === undefined) return;
      this.deadLetters.add(
        {
          direction: 'out',
          reason,
          topic: r.topic,
          payload: r.payload,
          messageId: r.msg_id,
          class: r.class,
          retain: r.retain !== 0,
        },
        now,
      );
      this.s.delete.run(rowId);
      this.bump('dead_letters', 1);
    });
  }

  list(opts: { class?: OutboxClass; limit?: number } = {}): OutboxListRow[] {
    const limit = opts.limit ?? 100;
    const out: OutboxListRow[] = [];
    for (const cls of opts.class === undefined ? OUTBOX_PRIORITY : [opts.class]) {
      if (out.length >= limit) break;
      for (const r of this.s.page.all(classBase(cls), classEnd(cls), limit - out.length)) out.push(toRow(r));
    }
    return out;
  }

  purge(opts: { class?: OutboxClass; force?: boolean }, _now: number): number {
    const force = opts.force === true;
    if (opts.class !== undefined && OUTBOX_POLICIES[opts.class] === 'never-shed' && !force) {
      throw new Error(`outbox: ${opts.class} rows are promises to neighbours; purge them only with force`);
    }
    const classes =
      opts.class !== undefined
        ? [opts.class]
        : OUTBOX_PRIORITY.filter((c) => force || OUTBOX_POLICIES[c] !== 'never-shed');
    return this.tx.run(() => {
      let n = 0;
      for (const cls of classes) n += this.s.deleteRange.run(classBase(cls), classEnd(cls)).changes;
      if (n > 0) this.drop('purged', n);
      return n;
    });
  }

  stats(now: number): OutboxStatsDetail {
    const depth = zeroByClass();
    const bytesByClass = zeroByClass();
    const c = {} as Record<Counter, number>;
    let rows = 0;
    let bytes = 0;
    for (const r of this.s.tally.all()) {
      if (r.name.startsWith(CLASS_PREFIX)) {
        const cls = r.name.slice(CLASS_PREFIX.length) as OutboxClass;
        depth[cls] = r.n;
        bytesByClass[cls] = r.bytes;
        rows += r.n;
        bytes += r.bytes;
      } else c[r.name as Counter] = r.n;
    }
    // Rows are in enqueue order within a class: the oldest row is the first of one of the classes.
    let oldest: number | undefined;
    for (const cls of OUTBOX_PRIORITY) {
      if (depth[cls] === 0) continue;
      const first = this.s.first.get(classBase(cls), classEnd(cls))?.enqueued_at;
      if (first !== undefined && (oldest === undefined || first < oldest)) oldest = first;
    }
    return {
      depth,
      bytes,
      rows,
      bytesByClass,
      oldestAgeMs: oldest === undefined ? null : Math.max(0, now - oldest),
      drops: { expired: c.expired, coalesced: c.coalesced, 'shed-cap': c.shed_cap, purged: c.purged },
      retries: c.retries,
      deadLetters: c.dead_letters,
      sent: c.sent,
      lastSuccessTs: c.last_success_ts > 0 ? c.last_success_ts : null,
      overCap: c.over_cap,
      caps: { ...this.caps },
    };
  }

  private insert(msg: OutboxMessage, now: number): number {
    const policy = OUTBOX_POLICIES[msg.class];
    // An offer without an explicit key coalesces on its topic: the retained offer topic holds one offer.
    const key = msg.coalesceKey ?? (policy === 'coalesce-expire' ? msg.topic : null);
    const rowId = Number(
      this.s.insert.run({
        base: classBase(msg.class),
        class: msg.class,
        id: msg.id,
        topic: msg.topic,
        payload: msg.payload,
        retain: msg.retain ? 1 : 0,
        expiresAt: msg.expiresAt ?? null,
        key,
        now,
        bytes: rowBytes(msg, key),
      }).lastInsertRowid,
    );
    if (policy === 'coalesce-expire' && key !== null) {
      const n = this.s.coalesce.run(key, msg.class, rowId).changes;
      if (n > 0) this.drop('coalesced', n);
    }
    this.enforceCaps(msg.class, now);
    return rowId;
  }

  private depths(): Record<OutboxClass, number> {
    const depth = zeroByClass();
    for (const r of this.s.classTally.all()) depth[r.name.slice(CLASS_PREFIX.length) as OutboxClass] = r.n;
    return depth;
  }

  private totals(): { rows: number; bytes: number } {
    const t = this.s.totals.get();
    return { rows: t?.rows ?? 0, bytes: t?.bytes ?? 0 };
  }

  private over(t: { rows: number; bytes: number }): boolean {
    return t.rows > this.caps.maxRows || t.bytes > this.caps.maxBytes;
  }

  /** Expired offers/accepts go first, then telemetry oldest-first; never-shed rows are never touched. */
  private enforceCaps(cls: OutboxClass, now: number): void {
    let t = this.totals();
    if (!this.over(t)) {
      this.overCapLogged = false;
      return;
    }
    const expired = this.s.deleteExpired.run(now).changes;
    if (expired > 0) {
      this.drop('expired', expired);
      t = this.totals();
    }
    if (this.over(t)) t = this.shed(t);
    // A sheddable row still over the cap was shed itself: only rows kept above it are counted.
    if (!this.over(t) || SHEDDABLE_CLASSES.includes(cls)) return;
    this.bump('over_cap', 1);
    if (!this.overCapLogged) {
      this.overCapLogged = true;
      this.log.warn(
        { class: cls, rows: t.rows, bytes: t.bytes, caps: this.caps },
        'outbox: above its cap with nothing left to shed; keeping the rows (promises are not dropped)',
      );
    }
  }

  private shed(t: { rows: number; bytes: number }): { rows: number; bytes: number } {
    let needRows = t.rows - Math.floor(this.caps.maxRows * (1 - SHED_HEADROOM));
    let needBytes = t.bytes - Math.floor(this.caps.maxBytes * (1 - SHED_HEADROOM));
    for (const cls of SHEDDABLE_CLASSES) {
      let last: number | null = null;
      let after = classBase(cls);
      while (needRows > 0 || needBytes > 0) {
        const page = this.s.sizes.all(after, classEnd(cls), SHED_PAGE);
        for (const r of page) {
          last = after = r.row_id;
          needRows -= 1;
          needBytes -= r.bytes;
          if (needRows <= 0 && needBytes <= 0) break;
        }
        if (page.length < SHED_PAGE) break;
      }
      if (last !== null) this.drop('shed-cap', this.s.deleteRange.run(classBase(cls), last + 1).changes);
      if (needRows <= 0 && needBytes <= 0) break;
    }
    return this.totals();
  }

  /** Deletes the expired offers/accepts that the link does not hold in flight. */
  private expireDue(now: number, inFlight: ReadonlySet<number>): void {
    const due = this.s.expiredIds.all(now);
    if (due.length === 0) return;
    this.tx.run(() => {
      let n = 0;
      for (const { row_id } of due) if (!inFlight.has(row_id)) n += this.s.delete.run(row_id).changes;
      if (n > 0) this.drop('expired', n);
    });
  }

  private drop(reason: DropReason, n: number): void {
    this.bump(DROP_COUNTER[reason], n);
  }

  private bump(counter: Counter, n: number): void {
    this.s.bump[counter].run(n);
  }
}

function prepare(db: Database.Database) {
  const counters: Counter[] = [
    'sent',
    'retries',
    'dead_letters',
    'expired',
    'coalesced',
    'shed_cap',
    'purged',
    'over_cap',
  ];
  // The class rows of the tally sort between 'class:' and 'class;' (';' follows ':').
  const classRange = "name > 'class:' AND name < 'class;'";
  return {
    insert: db.prepare<{
      base: number;
      class: string;
      id: string;
      topic: string;
      payload: Buffer;
      retain: number;
      expiresAt: number | null;
      key: string | null;
      now: number;
      bytes: number;
    }>(
      `INSERT INTO outbox (row_id, class, msg_id, topic, payload, retain, expires_at, coalesce_key, enqueued_at, bytes)
       VALUES (@base + (SELECT n + 1 FROM outbox_tally WHERE name = 'row_seq'),
               @class, @id, @topic, @payload, @retain, @expiresAt, @key, @now, @bytes)`,
    ),
    coalesce: db.prepare<[string, string, number]>(
      'DELETE FROM outbox WHERE coalesce_key = ? AND class = ? AND row_id < ?',
    ),
    /** Rows with after < row_id < end, in order. */
    page: db.prepare<[number, number, number], Row>(
      `SELECT ${ROW_COLUMNS} FROM outbox WHERE row_id > ? AND row_id < ? ORDER BY row_id LIMIT ?`,
    ),
    first: db.prepare<[number, number], { enqueued_at: number }>(
      'SELECT enqueued_at FROM outbox WHERE row_id > ? AND row_id < ? ORDER BY row_id LIMIT 1',
    ),
    get: db.prepare<[number], Row>(`SELECT ${ROW_COLUMNS} FROM outbox WHERE row_id = ?`),
    delete: db.prepare<[number]>('DELETE FROM outbox WHERE row_id = ?'),
    /** Deletes the rows with after < row_id < end. */
    deleteRange: db.prepare<[number, number]>('DELETE FROM outbox WHERE row_id > ? AND row_id < ?'),
    sizes: db.prepare<[number, number, number], { row_id: number; bytes: number }>(
      'SELECT row_id, bytes FROM outbox WHERE row_id > ? AND row_id < ? ORDER BY row_id LIMIT ?',
    ),
    expiredIds: db.prepare<[number], { row_id: number }>(
      `SELECT row_id FROM outbox WHERE expires_at <= ? AND class IN (${sqlList(EXPIRING_CLASSES)})`,
    ),
    deleteExpired: db.prepare<[number]>(
      `DELETE FROM outbox WHERE expires_at <= ? AND class IN (${sqlList(EXPIRING_CLASSES)})`,
    ),
    retry: db.prepare<[string, number]>(
      'UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE row_id = ?',
    ),
    totals: db.prepare<[], { rows: number | null; bytes: number | null }>(
      `SELECT sum(n) AS rows, sum(bytes) AS bytes FROM outbox_tally WHERE ${classRange}`,
    ),
    classTally: db.prepare<[], { name: string; n: number }>(
      `SELECT name, n FROM outbox_tally WHERE ${classRange}`,
    ),
    tally: db.prepare<[], { name: string; n: number; bytes: number }>(
      'SELECT name, n, bytes FROM outbox_tally',
    ),
    sent: db.prepare<[number, number]>(
      `UPDATE outbox_tally SET n = CASE name WHEN 'sent' THEN n + ? ELSE max(n, ?) END
       WHERE name IN ('sent', 'last_success_ts')`,
    ),
    bump: Object.fromEntries(
      counters.map((c) => [c, db.prepare<[number]>(`UPDATE outbox_tally SET n = n + ? WHERE name = '${c}'`)]),
    ) as Record<Counter, Database.Statement<[number]>>,
  };
}

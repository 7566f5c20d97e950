import type Database from 'better-sqlite3';
import type { Logger } from '../log/logger.js';
import type { DeadLetters } from './dead-letters.js';
import { OutboxCapGuard, type OutboxCaps, SHED_PAGE } from './outbox-caps.js';
import {
  CLASS_PREFIX,
  type Counter,
  classBase,
  classEnd,
  DROP_COUNTER,
  EXPIRING_CLASSES,
  type OutboxStatements,
  prepareOutbox,
  rowBytes,
  toRow,
  zeroByClass,
} from './outbox-sql.js';
import {
  coalesces,
  type DropReason,
  expires,
  isPromise,
  OUTBOX_CLASSES,
  OUTBOX_PRIORITY,
  type OutboxClass,
  type OutboxMessage,
  type OutboxQueue,
  type OutboxRow,
  type OutboxStats,
} from './outbox-types.js';
import type { Transactions } from './transactions.js';

export type { OutboxCaps } from './outbox-caps.js';

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

/**
 * The persistent outbox (docs/messages.md, "The outbox classes"): what the link drains, plus what the
 * trading host, telemetry and the CLI need.
 */
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

const MAX_ERROR_CHARS = 500;

function validate(msg: OutboxMessage): void {
  const rule = OUTBOX_CLASSES[msg.class];
  if (rule === undefined) throw new Error(`outbox: unknown class ${JSON.stringify(msg.class)}`);
  if (typeof msg.id !== 'string' || msg.id === '') throw new Error('outbox: a message needs an id');
  if (typeof msg.topic !== 'string' || msg.topic === '') throw new Error('outbox: a message needs a topic');
  if (!(msg.payload instanceof Uint8Array)) throw new Error('outbox: payload must be a Buffer');
  if (expires(msg.class) && !Number.isFinite(msg.expiresAt)) {
    throw new Error(`outbox: a ${msg.class} message needs expiresAt (policy ${rule.policy})`);
  }
  if (msg.retain !== undefined && msg.retain !== rule.retain) {
    throw new Error(
      `outbox: ${msg.class} messages are ${rule.retain ? '' : 'not '}retained (OUTBOX_CLASSES)`,
    );
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
  private readonly s: OutboxStatements;
  private readonly guard: OutboxCapGuard;

  constructor(
    db: Database.Database,
    private readonly tx: Transactions,
    private readonly deadLetters: DeadLetters,
    log: Logger,
    caps: OutboxCaps,
  ) {
    this.s = prepareOutbox(db);
    this.guard = new OutboxCapGuard(this.s, caps, log);
  }

  get caps(): OutboxCaps {
    return this.guard.caps;
  }

  enqueue(msg: OutboxMessage, now: number): number {
    validate(msg);
    return this.tx.run(() => this.insert(msg, now), isPromise(msg.class));
  }

  nextBatch(
    limit: number,
    now: number,
    inFlight: ReadonlySet<number>,
    skip?: ReadonlySet<OutboxClass>,
  ): OutboxRow[] {
    if (limit <= 0) return [];
    const depth = this.depths();
    if (EXPIRING_CLASSES.some((c) => depth[c] > 0)) this.expireDue(now, inFlight);
    const out: OutboxRow[] = [];
    for (const cls of OUTBOX_PRIORITY) {
      if (depth[cls] === 0 || skip?.has(cls)) continue;
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

  /** Counts PUBACKs of rows that never reached the table (staged telemetry). */
  addSent(n: number, now: number): void {
    if (n > 0) this.s.sent.run(n, now);
  }

  /** Counts rows dropped before they reached the table (staged telemetry purged). */
  addDropped(reason: DropReason, n: number): void {
    if (n > 0) this.drop(reason, n);
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
          retain: OUTBOX_CLASSES[r.class].retain,
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
    if (opts.class !== undefined && isPromise(opts.class) && !force) {
      throw new Error(`outbox: ${opts.class} rows are promises to neighbours; purge them only with force`);
    }
    const classes =
      opts.class !== undefined ? [opts.class] : OUTBOX_PRIORITY.filter((c) => force || !isPromise(c));
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
    const coalescing = coalesces(msg.class);
    // Without an explicit key a coalescing row replaces on its topic: a retained topic holds one message.
    const key = msg.coalesceKey ?? (coalescing ? msg.topic : null);
    const rowId = Number(
      this.s.insert.run({
        base: classBase(msg.class),
        class: msg.class,
        id: msg.id,
        topic: msg.topic,
        payload: msg.payload,
        retain: OUTBOX_CLASSES[msg.class].retain ? 1 : 0,
        expiresAt: msg.expiresAt ?? null,
        key,
        now,
        bytes: rowBytes(msg, key),
      }).lastInsertRowid,
    );
    if (coalescing && key !== null) {
      const n = this.s.coalesce.run(key, msg.class, rowId).changes;
      if (n > 0) this.drop('coalesced', n);
    }
    this.guard.enforce(msg.class, now);
    return rowId;
  }

  private depths(): Record<OutboxClass, number> {
    const depth = zeroByClass();
    for (const r of this.s.classTally.all()) depth[r.name.slice(CLASS_PREFIX.length) as OutboxClass] = r.n;
    return depth;
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

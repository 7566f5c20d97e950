import type { Outbox, OutboxListRow, OutboxStatsDetail } from './outbox.js';
import type { DropReason, OutboxClass, OutboxMessage, OutboxRow } from './outbox-types.js';
import type { Transactions } from './transactions.js';

/** How telemetry waits in memory before it is written to the outbox table. */
export interface TelemetryStaging {
  /** A staged row not acknowledged for this long is written to the table (0: staging off). */
  stageMs: number;
  /** Staged rows at most; beyond it telemetry goes to the table at once. */
  maxRows: number;
}

interface Staged {
  row: OutboxRow;
  lastError: string | null;
}

/**
 * Telemetry first in memory, the rest of the outbox unchanged. Every SQLite commit writes whole 4 KiB
 * WAL frames, so a telemetry row inserted and deleted again a moment later costs two commits of SD card
 * wear for a message the broker had taken at once. A staged row gets a negative rowId, drains after every
 * row of the table (telemetry is the last class, and older telemetry in the table goes first), and on its
 * PUBACK simply disappears. A row still unacknowledged after `stageMs` (no broker, a slow one) is
 * written to the table in one transaction and from then on is an ordinary row; so is everything staged
 * when the store closes. A power cut or SIGKILL therefore loses at most `stageMs` of telemetry that no
 * broker acknowledged, never a trading message (only class telemetry is staged) and never an
 * acknowledged row; seq numbers are reserved in the table as before, so they never go back.
 */
export class StagingOutbox implements Outbox {
  private readonly staged = new Map<number, Staged>();
  private nextId = -1;
  /** PUBACKs of staged rows not yet added to the persisted `sent` counter. */
  private unsavedSent = 0;
  private lastSuccess = 0;
  /** The link's live set of rowIds in flight, as its last nextBatch gave it. */
  private lastInFlight: ReadonlySet<number> = new Set();

  constructor(
    private readonly inner: Outbox & {
      addSent(n: number, now: number): void;
      addDropped(reason: DropReason, n: number): void;
    },
    private readonly tx: Transactions,
    private readonly o: TelemetryStaging,
  ) {}

  get caps() {
    return this.inner.caps;
  }

  enqueue(msg: OutboxMessage, now: number): number {
    if (!this.stages(msg.class)) return this.inner.enqueue(msg, now);
    this.spillDue(now);
    // Telemetry waiting in the table goes first: what is staged joins it, then the new row; staging
    // resumes once the table has drained.
    if (this.staged.size >= this.o.maxRows || this.inner.stats(now).depth.telemetry > 0) {
      this.spill(this.notInFlight(), now);
      return this.inner.enqueue(msg, now);
    }
    const rowId = this.nextId--;
    this.staged.set(rowId, {
      row: { ...msg, retain: false, rowId, enqueuedAt: now, attempts: 0 },
      lastError: null,
    });
    // Staged inside a transaction that rolls back: it was never enqueued.
    this.tx.onRollback(() => this.staged.delete(rowId));
    return rowId;
  }

  nextBatch(
    limit: number,
    now: number,
    inFlight: ReadonlySet<number>,
    skip?: ReadonlySet<OutboxClass>,
  ): OutboxRow[] {
    this.spillDue(now, inFlight);
    const rows = this.inner.nextBatch(limit, now, inFlight, skip);
    if (skip?.has('telemetry')) return rows;
    for (const s of this.staged.values()) {
      if (rows.length >= limit) break;
      if (!inFlight.has(s.row.rowId)) rows.push(s.row);
    }
    return rows;
  }

  ack(rowId: number, now: number): void {
    this.ackMany([rowId], now);
  }

  ackMany(rowIds: Iterable<number>, now: number): number {
    const durable: number[] = [];
    let n = 0;
    for (const id of rowIds) {
      if (id >= 0) durable.push(id);
      else if (this.staged.delete(id)) n++;
    }
    this.unsavedSent += n;
    if (n > 0) this.lastSuccess = now;
    if (durable.length === 0) return n;
    // A commit happens anyway: the staged PUBACKs join the persisted counter in it.
    return this.tx.run(() => {
      this.saveSent(now);
      return n + this.inner.ackMany(durable, now);
    });
  }

  retry(rowId: number, error: string, now: number): void {
    const s = this.staged.get(rowId);
    if (!s) {
      this.inner.retry(rowId, error, now);
      return;
    }
    s.row = { ...s.row, attempts: s.row.attempts + 1 };
    s.lastError = error;
  }

  deadLetter(rowId: number, reason: string, now: number): void {
    const s = this.staged.get(rowId);
    if (!s) {
      this.inner.deadLetter(rowId, reason, now);
      return;
    }
    this.tx.run(() => this.inner.deadLetter(this.inner.enqueue(messageOf(s.row), now), reason, now));
    this.staged.delete(rowId);
  }

  list(opts: { class?: OutboxClass; limit?: number } = {}): OutboxListRow[] {
    const limit = opts.limit ?? 100;
    const rows = this.inner.list(opts);
    if (opts.class !== undefined && !this.stages(opts.class)) return rows;
    for (const s of this.staged.values()) {
      if (rows.length >= limit) break;
      rows.push({ ...s.row, lastError: s.lastError });
    }
    return rows;
  }

  purge(opts: { class?: OutboxClass; force?: boolean }, now: number): number {
    if (opts.class !== undefined && !this.stages(opts.class)) return this.inner.purge(opts, now);
    const staged = this.staged.size;
    // Staged rows are dropped telemetry like the table's: counted as purged in the same transaction.
    const n = this.tx.run(() => {
      const purged = this.inner.purge(opts, now);
      this.inner.addDropped('purged', staged);
      return purged;
    });
    this.staged.clear();
    return n + staged;
  }

  stats(now: number): OutboxStatsDetail {
    const st = this.inner.stats(now);
    let bytes = 0;
    let oldest: number | undefined;
    for (const s of this.staged.values()) {
      bytes += s.row.payload.length + s.row.topic.length;
      if (oldest === undefined) oldest = s.row.enqueuedAt;
    }
    const staged = this.staged.size;
    const age = oldest === undefined ? null : Math.max(0, now - oldest);
    return {
      ...st,
      depth: { ...st.depth, telemetry: st.depth.telemetry + staged },
      bytesByClass: { ...st.bytesByClass, telemetry: st.bytesByClass.telemetry + bytes },
      rows: st.rows + staged,
      bytes: st.bytes + bytes,
      oldestAgeMs:
        st.oldestAgeMs === null ? age : age === null ? st.oldestAgeMs : Math.max(st.oldestAgeMs, age),
      sent: st.sent + this.unsavedSent,
      lastSuccessTs: Math.max(st.lastSuccessTs ?? 0, this.lastSuccess) || null,
    };
  }

  /** Rows staged right now (not yet in the table). */
  get stagedRows(): number {
    return this.staged.size;
  }

  /** Writes every staged row and the unsaved counter to the table (before the store closes). */
  spillAll(now: number): void {
    this.spill([...this.staged.keys()], now);
    if (this.unsavedSent > 0) this.tx.run(() => this.saveSent(now));
  }

  private stages(cls: OutboxClass): boolean {
    return cls === 'telemetry' && this.o.stageMs > 0;
  }

  /**
   * Once the oldest staged row is past its time, every staged row not on the wire right now goes to the
   * table (the newer ones with it, so the table keeps their order; a row on the wire follows if its
   * PUBACK does not come).
   */
  private spillDue(now: number, inFlight: ReadonlySet<number> = this.lastInFlight): void {
    this.lastInFlight = inFlight;
    for (const [id, s] of this.staged) {
      if (inFlight.has(id)) continue;
      if (now - s.row.enqueuedAt >= this.o.stageMs) this.spill(this.notInFlight(), now);
      return;
    }
  }

  private notInFlight(): number[] {
    return [...this.staged.keys()].filter((id) => !this.lastInFlight.has(id));
  }

  private spill(ids: number[], now: number): void {
    const moved = ids.flatMap((id) => {
      const s = this.staged.get(id);
      return s ? [[id, s] as const] : [];
    });
    if (moved.length === 0) return;
    this.tx.run(() => {
      for (const [, s] of moved) this.inner.enqueue(messageOf(s.row), s.row.enqueuedAt);
      this.saveSent(now);
    });
    for (const [id] of moved) this.staged.delete(id);
    // Spilled inside a caller's transaction that then rolls back: the rows are staged again.
    this.tx.onRollback(() => {
      for (const [id, s] of moved) this.staged.set(id, s);
    });
  }

  private saveSent(now: number): void {
    if (this.unsavedSent === 0) return;
    this.inner.addSent(this.unsavedSent, now);
    this.unsavedSent = 0;
  }
}

/** The message a staged row was made from (retain is its class's). */
function messageOf(row: OutboxRow): OutboxMessage {
  const msg: OutboxMessage = { id: row.id, class: row.class, topic: row.topic, payload: row.payload };
  if (row.expiresAt !== undefined) msg.expiresAt = row.expiresAt;
  if (row.coalesceKey !== undefined) msg.coalesceKey = row.coalesceKey;
  return msg;
}

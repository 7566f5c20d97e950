import type Database from 'better-sqlite3';
import type { OutboxClass } from './outbox-types.js';

export interface DeadLetterInput {
  direction: 'in' | 'out';
  reason: string;
  topic: string;
  payload: Buffer;
  /** Sender home id (inbound). */
  from?: string;
  messageId?: string;
  /** Outbound: the outbox class and retain flag, so the row can be sent again. */
  class?: OutboxClass;
  retain?: boolean;
}

export interface DeadLetter {
  id: number;
  ts: number;
  direction: 'in' | 'out';
  reason: string;
  topic: string;
  /** Inbound payloads above the stored limit keep their first bytes only (see `truncated`). */
  payload: Buffer;
  payloadBytes: number;
  truncated: boolean;
  from: string | null;
  messageId: string | null;
  class: OutboxClass | null;
  retain: boolean | null;
}

export interface DeadLetters {
  add(d: DeadLetterInput, now: number): number;
  /** Newest first. */
  list(opts?: { limit?: number; direction?: 'in' | 'out' }): DeadLetter[];
  /** Dead letters held now. */
  count(): number;
  /** Dead letters held now, per reason. */
  countsByReason(): Record<string, number>;
  /** Every dead letter ever added, per reason (for metrics: survives purges, drops and restarts). */
  totalsByReason(): Record<string, number>;
  /** Deletes the given ids, or all of them; returns how many went. */
  purge(ids?: number[]): number;
  /** One dead letter, left in place. */
  get(id: number): DeadLetter | undefined;
  /** Removes and returns one dead letter (to send it again or inspect it). */
  take(id: number): DeadLetter | undefined;
}

interface DeadLetterRow {
  id: number;
  ts: number;
  direction: 'in' | 'out';
  reason: string;
  topic: string;
  payload: Buffer;
  payload_bytes: number;
  from_home: string | null;
  message_id: string | null;
  class: OutboxClass | null;
  retain: number | null;
}

const COLUMNS =
  'id, ts, direction, reason, topic, payload, payload_bytes, from_home, message_id, class, retain';

function toDeadLetter(r: DeadLetterRow): DeadLetter {
  return {
    id: r.id,
    ts: r.ts,
    direction: r.direction,
    reason: r.reason,
    topic: r.topic,
    payload: r.payload,
    payloadBytes: r.payload_bytes,
    truncated: r.payload.length < r.payload_bytes,
    from: r.from_home,
    messageId: r.message_id,
    class: r.class,
    retain: r.retain === null ? null : r.retain !== 0,
  };
}

export interface DeadLetterOptions {
  /** Oldest rows are deleted beyond this many. */
  maxRows: number;
  /** Inbound payloads are stored up to this size: a flood of oversized garbage must not fill the card. */
  maxInboundPayloadBytes?: number;
}

/** Messages refused for good, inbound (malformed, unsigned, replayed...) and outbound (broker refusal). */
export class SqliteDeadLetters implements DeadLetters {
  private readonly maxRows: number;
  private readonly maxInboundPayload: number;
  private readonly insertStmt: Database.Statement;
  private readonly totalStmt: Database.Statement<[string]>;
  private readonly rowsStmt: Database.Statement<[], { n: number }>;
  private readonly trimStmt: Database.Statement<[number]>;
  private readonly listStmt: Database.Statement<[number], DeadLetterRow>;
  private readonly listDirStmt: Database.Statement<[string, number], DeadLetterRow>;
  private readonly byReasonStmt: Database.Statement<[], { reason: string; n: number }>;
  private readonly totalsStmt: Database.Statement<[], { reason: string; count: number }>;
  private readonly getStmt: Database.Statement<[number], DeadLetterRow>;
  private readonly deleteStmt: Database.Statement<[number]>;
  private readonly deleteAllStmt: Database.Statement<[]>;
  private readonly takeTx: (id: number) => DeadLetter | undefined;
  private readonly addTx: (d: DeadLetterInput, now: number) => number;
  private readonly purgeTx: (ids?: number[]) => number;

  constructor(db: Database.Database, opts: DeadLetterOptions) {
    this.maxRows = opts.maxRows;
    this.maxInboundPayload = opts.maxInboundPayloadBytes ?? 64 * 1024;
    this.insertStmt = db.prepare(
      `INSERT INTO dead_letters (ts, direction, reason, topic, payload, payload_bytes, from_home, message_id, class, retain)
       VALUES (@ts, @direction, @reason, @topic, @payload, @payloadBytes, @from, @messageId, @class, @retain)`,
    );
    this.totalStmt = db.prepare(
      'INSERT INTO dead_letter_totals (reason, count) VALUES (?, 1) ON CONFLICT (reason) DO UPDATE SET count = count + 1',
    );
    this.rowsStmt = db.prepare('SELECT n FROM dead_letter_rows WHERE id = 1');
    this.trimStmt = db.prepare(
      'DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?)',
    );
    this.listStmt = db.prepare(`SELECT ${COLUMNS} FROM dead_letters ORDER BY id DESC LIMIT ?`);
    this.listDirStmt = db.prepare(
      `SELECT ${COLUMNS} FROM dead_letters WHERE direction = ? ORDER BY id DESC LIMIT ?`,
    );
    this.byReasonStmt = db.prepare('SELECT reason, count(*) AS n FROM dead_letters GROUP BY reason');
    this.totalsStmt = db.prepare('SELECT reason, count FROM dead_letter_totals');
    this.getStmt = db.prepare(`SELECT ${COLUMNS} FROM dead_letters WHERE id = ?`);
    this.deleteStmt = db.prepare('DELETE FROM dead_letters WHERE id = ?');
    this.deleteAllStmt = db.prepare('DELETE FROM dead_letters');

    this.addTx = db.transaction((d: DeadLetterInput, now: number) => {
      const payload =
        d.direction === 'in' && d.payload.length > this.maxInboundPayload
          ? d.payload.subarray(0, this.maxInboundPayload)
          : d.payload;
      const id = Number(
        this.insertStmt.run({
          ts: now,
          direction: d.direction,
          reason: d.reason,
          topic: d.topic,
          payload,
          payloadBytes: d.payload.length,
          from: d.from ?? null,
          messageId: d.messageId ?? null,
          class: d.class ?? null,
          retain: d.retain === undefined ? null : d.retain ? 1 : 0,
        }).lastInsertRowid,
      );
      this.totalStmt.run(d.reason);
      const excess = this.count() - this.maxRows;
      if (excess > 0) this.trimStmt.run(excess);
      return id;
    });
    this.takeTx = db.transaction((id: number) => {
      const row = this.getStmt.get(id);
      if (row === undefined) return undefined;
      this.deleteStmt.run(id);
      return toDeadLetter(row);
    });
    this.purgeTx = db.transaction((ids?: number[]) => {
      if (ids === undefined) return this.deleteAllStmt.run().changes;
      let n = 0;
      for (const id of ids) n += this.deleteStmt.run(id).changes;
      return n;
    });
  }

  add(d: DeadLetterInput, now: number): number {
    return this.addTx(d, now);
  }

  list(opts: { limit?: number; direction?: 'in' | 'out' } = {}): DeadLetter[] {
    const limit = opts.limit ?? 100;
    const rows =
      opts.direction === undefined ? this.listStmt.all(limit) : this.listDirStmt.all(opts.direction, limit);
    return rows.map(toDeadLetter);
  }

  count(): number {
    return this.rowsStmt.get()?.n ?? 0;
  }

  countsByReason(): Record<string, number> {
    return Object.fromEntries(this.byReasonStmt.all().map((r) => [r.reason, r.n]));
  }

  totalsByReason(): Record<string, number> {
    return Object.fromEntries(this.totalsStmt.all().map((r) => [r.reason, r.count]));
  }

  purge(ids?: number[]): number {
    return this.purgeTx(ids);
  }

  get(id: number): DeadLetter | undefined {
    const row = this.getStmt.get(id);
    return row === undefined ? undefined : toDeadLetter(row);
  }

  take(id: number): DeadLetter | undefined {
    return this.takeTx(id);
  }
}

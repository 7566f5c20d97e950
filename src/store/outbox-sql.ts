import type Database from 'better-sqlite3';
import {
  type DropReason,
  expires,
  OUTBOX_CLASSES,
  OUTBOX_PRIORITY,
  type OutboxClass,
  type OutboxMessage,
  type OutboxRow,
} from './outbox-types.js';

/**
 * The outbox table's layout and statements. A rowId carries its class: (slot + 1) × 10^12 + a sequence
 * number shared by every class and never reused. The table's own rowid B-tree is then in drain order
 * (class, then enqueue order), so a class drains by a range scan and no secondary index has to be written
 * on every enqueue and ack. The slots (OUTBOX_CLASSES) are stored in the data: never renumber them.
 */
const ROW_ID_STRIDE = 1e12;
export const classBase = (cls: OutboxClass) => (OUTBOX_CLASSES[cls].slot + 1) * ROW_ID_STRIDE;
export const classEnd = (cls: OutboxClass) => classBase(cls) + ROW_ID_STRIDE;

export const EXPIRING_CLASSES = OUTBOX_PRIORITY.filter(expires);
export const SHEDDABLE_CLASSES = OUTBOX_PRIORITY.filter((c) => OUTBOX_CLASSES[c].policy === 'shed-oldest');
export const CLASS_PREFIX = 'class:';

export type Counter =
  | 'sent'
  | 'retries'
  | 'dead_letters'
  | 'expired'
  | 'coalesced'
  | 'shed_cap'
  | 'purged'
  | 'over_cap'
  | 'last_success_ts';
const BUMPED: readonly Counter[] = [
  'sent',
  'retries',
  'dead_letters',
  'expired',
  'coalesced',
  'shed_cap',
  'purged',
  'over_cap',
];
export const DROP_COUNTER: Record<DropReason, Counter> = {
  expired: 'expired',
  coalesced: 'coalesced',
  'shed-cap': 'shed_cap',
  purged: 'purged',
};

export interface Row {
  row_id: number;
  class: OutboxClass;
  msg_id: string;
  topic: string;
  payload: Buffer;
  expires_at: number | null;
  coalesce_key: string | null;
  enqueued_at: number;
  attempts: number;
  last_error: string | null;
}

// `retain` is not read back: a row's retain is its class's (the column keeps what was written).
const ROW_COLUMNS =
  'row_id, class, msg_id, topic, payload, expires_at, coalesce_key, enqueued_at, attempts, last_error';

/** A stored row as the link and the CLI see it; `retain` is its class's, whatever an old row stored. */
export function toRow(r: Row): OutboxRow & { lastError: string | null } {
  const row: OutboxRow & { lastError: string | null } = {
    rowId: r.row_id,
    id: r.msg_id,
    class: r.class,
    topic: r.topic,
    payload: r.payload,
    retain: OUTBOX_CLASSES[r.class].retain,
    enqueuedAt: r.enqueued_at,
    attempts: r.attempts,
    lastError: r.last_error,
  };
  if (r.expires_at !== null) row.expiresAt = r.expires_at;
  if (r.coalesce_key !== null) row.coalesceKey = r.coalesce_key;
  return row;
}

export function zeroByClass(): Record<OutboxClass, number> {
  return Object.fromEntries(OUTBOX_PRIORITY.map((c) => [c, 0])) as Record<OutboxClass, number>;
}

/** Counted against the byte cap: payload + topic + id + coalesce key bytes. */
export function rowBytes(msg: OutboxMessage, key: string | null): number {
  return (
    msg.payload.length +
    Buffer.byteLength(msg.topic) +
    Buffer.byteLength(msg.id) +
    (key === null ? 0 : Buffer.byteLength(key))
  );
}

const sqlList = (classes: readonly string[]) => classes.map((c) => `'${c}'`).join(', ');

export type OutboxStatements = ReturnType<typeof prepareOutbox>;

export function prepareOutbox(db: Database.Database) {
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
      BUMPED.map((c) => [c, db.prepare<[number]>(`UPDATE outbox_tally SET n = n + ? WHERE name = '${c}'`)]),
    ) as Record<Counter, Database.Statement<[number]>>,
  };
}

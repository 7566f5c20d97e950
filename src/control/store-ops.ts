import type Database from 'better-sqlite3';
import { requeueDeadLetter, retryRefusal } from '../store/dead-letter-ops.js';
import type { DeadLetter, DeadLetters } from '../store/dead-letters.js';
import type { Outbox, OutboxListRow, OutboxStatsDetail } from '../store/outbox.js';
import { OUTBOX_POLICIES, OUTBOX_PRIORITY, type OutboxClass } from '../store/outbox-types.js';
import { ControlError } from './protocol.js';
import { listTrades, type TradeRow } from './trades.js';

/**
 * What `outbox`, `dlq` and `trades` do to the store. The running service runs them on its own store
 * (it owns the writes); with the service stopped the CLI runs them on the file itself.
 */
export interface StoreView {
  readonly db: Database.Database;
  readonly outbox: Outbox;
  readonly deadLetters: DeadLetters;
  transaction<T>(fn: () => T): T;
}

/** Longest payload excerpt shown in a listing. */
const PREVIEW_CHARS = 160;

/** An outbox row as listed, without its payload. */
export interface OutboxSummary {
  rowId: number;
  id: string;
  class: OutboxClass;
  topic: string;
  bytes: number;
  retain: boolean;
  enqueuedAt: number;
  expiresAt: number | null;
  attempts: number;
  lastError: string | null;
}

export interface OutboxEntry extends OutboxSummary {
  preview: string;
}

export interface DeadLetterEntry {
  id: number;
  ts: number;
  direction: 'in' | 'out';
  reason: string;
  topic: string;
  bytes: number;
  from: string | null;
  messageId: string | null;
  class: OutboxClass | null;
  /** Whether `dlq retry` can send it again (outbound, a class that does not expire). */
  retryable: boolean;
  preview: string;
}

export interface DlqRetryResult {
  requeued: { id: number; rowId: number }[];
  refused: { id: number; reason: string }[];
}

export function parseClass(value: unknown): OutboxClass | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && (OUTBOX_PRIORITY as readonly string[]).includes(value)) {
    return value as OutboxClass;
  }
  throw new ControlError(
    `unknown outbox class "${String(value)}": one of ${OUTBOX_PRIORITY.join(', ')}`,
    'usage',
  );
}

function preview(payload: Buffer): string {
  const text = payload.toString('utf8');
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

export function outboxSummary(r: OutboxListRow): OutboxSummary {
  return {
    rowId: r.rowId,
    id: r.id,
    class: r.class,
    topic: r.topic,
    bytes: r.payload.length,
    retain: r.retain,
    enqueuedAt: r.enqueuedAt,
    expiresAt: r.expiresAt ?? null,
    attempts: r.attempts,
    lastError: r.lastError,
  };
}

function outboxEntry(r: OutboxListRow): OutboxEntry {
  return { ...outboxSummary(r), preview: preview(r.payload) };
}

function deadLetterEntry(d: DeadLetter): DeadLetterEntry {
  return {
    id: d.id,
    ts: d.ts,
    direction: d.direction,
    reason: d.reason,
    topic: d.topic,
    bytes: d.payloadBytes,
    from: d.from,
    messageId: d.messageId,
    class: d.class,
    retryable: retryRefusal(d) === null,
    preview: preview(d.payload),
  };
}

export function listOutbox(store: StoreView, opts: { class?: OutboxClass; limit?: number }): OutboxEntry[] {
  return store.outbox.list(opts).map(outboxEntry);
}

export function outboxStats(store: StoreView, now: number): OutboxStatsDetail {
  return store.outbox.stats(now);
}

/**
 * Clears the attempt counts and last errors of waiting rows (of one class, or all), so the next drain
 * starts them afresh; returns how many rows were reset.
 */
export function resetOutboxAttempts(store: StoreView, cls?: OutboxClass): number {
  const sql = `UPDATE outbox SET attempts = 0, last_error = NULL WHERE attempts > 0${cls ? ' AND class = ?' : ''}`;
  const stmt = store.db.prepare(sql);
  return store.transaction(() => (cls ? stmt.run(cls) : stmt.run()).changes);
}

/** Deletes rows; never-shed classes only with `force` (the outbox enforces it too). */
export function purgeOutbox(
  store: StoreView,
  opts: { class?: OutboxClass; force: boolean },
  now: number,
): number {
  if (opts.class !== undefined && OUTBOX_POLICIES[opts.class] === 'never-shed' && !opts.force) {
    throw new ControlError(
      `${opts.class} rows are promises to neighbours (never shed): purge them only with --force`,
      'usage',
    );
  }
  return store.outbox.purge(opts, now);
}

export function listDeadLetters(
  store: StoreView,
  opts: { limit?: number; direction?: 'in' | 'out' },
): DeadLetterEntry[] {
  return store.deadLetters.list(opts).map(deadLetterEntry);
}

/**
 * Sends dead letters again: each one that is outbound and of a class that does not expire moves back
 * to the outbox with its original message id (receivers dedupe on it), in one transaction each.
 */
export function retryDeadLetters(store: StoreView, ids: number[], now: number): DlqRetryResult {
  const result: DlqRetryResult = { requeued: [], refused: [] };
  for (const id of ids) {
    const r = requeueDeadLetter(store, id, now);
    if ('rowId' in r) result.requeued.push({ id, rowId: r.rowId });
    else result.refused.push({ id, reason: r.refused });
  }
  return result;
}

export function purgeDeadLetters(store: StoreView, ids?: number[]): number {
  return store.deadLetters.purge(ids);
}

export function trades(store: StoreView, limit?: number): TradeRow[] {
  return listTrades(store.db, limit);
}

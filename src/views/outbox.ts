import { retryRefusal } from '../store/dead-letter-ops.js';
import type { DeadLetter } from '../store/dead-letters.js';
import type { OutboxListRow } from '../store/outbox.js';
import type { OutboxClass } from '../store/outbox-types.js';

/** Longest payload excerpt shown in a listing. */
const PREVIEW_CHARS = 160;

/** An outbox row as listed (`GET /api/outbox`, `outbox list`): its size and an excerpt, not the payload. */
export interface OutboxEntry {
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
  preview: string;
}

/** A dead letter as listed (`GET /api/dlq`, `dlq list`). */
export interface DeadLetterView {
  id: number;
  ts: number;
  direction: 'in' | 'out';
  reason: string;
  topic: string;
  from: string | null;
  messageId: string | null;
  class: OutboxClass | null;
  payloadBytes: number;
  /** Whether it can be sent again (outbound, a class that does not expire). */
  retryable: boolean;
  preview: string;
}

export interface DeadLetterRetryResult {
  requeued: { id: number; rowId: number }[];
  refused: { id: number; reason: string }[];
}

function preview(payload: Buffer): string {
  const text = payload.toString('utf8');
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

export function outboxEntry(r: OutboxListRow): OutboxEntry {
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
    preview: preview(r.payload),
  };
}

export function deadLetterView(d: DeadLetter): DeadLetterView {
  return {
    id: d.id,
    ts: d.ts,
    direction: d.direction,
    reason: d.reason,
    topic: d.topic,
    from: d.from,
    messageId: d.messageId,
    class: d.class,
    payloadBytes: d.payloadBytes,
    retryable: retryRefusal(d) === null,
    preview: preview(d.payload),
  };
}

import type { OutboxStatsDetail } from '../../store/outbox.js';
import { OUTBOX_POLICIES, OUTBOX_PRIORITY, type OutboxClass } from '../../store/outbox-types.js';
import { type OutboxEntry, outboxEntry } from '../../views/outbox.js';
import { OpError, type OpsContext } from './context.js';

export interface OutboxListParams {
  class?: OutboxClass | undefined;
  limit?: number | undefined;
}

/** `GET /api/outbox`: what waits, its totals, and the dead letters' counts beside it. */
export interface OutboxOverview {
  stats: OutboxStatsDetail;
  rows: OutboxEntry[];
  deadLetters: { held: number; byReason: Record<string, number>; totals: Record<string, number> };
}

export interface OutboxRetryResult {
  reset: number;
  /** The link's state after it was woken; null without a broker (or with the service stopped). */
  link: 'connected' | 'disconnected' | null;
}

/** A class name from a request, or a usage error listing the classes. */
export function parseClass(value: unknown): OutboxClass | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && (OUTBOX_PRIORITY as readonly string[]).includes(value)) {
    return value as OutboxClass;
  }
  throw new OpError(`unknown outbox class "${String(value)}": one of ${OUTBOX_PRIORITY.join(', ')}`, 'usage');
}

export function listOutbox(ctx: OpsContext, p: OutboxListParams): OutboxEntry[] {
  return ctx.store.outbox
    .list({ ...(p.class ? { class: p.class } : {}), ...(p.limit ? { limit: p.limit } : {}) })
    .map(outboxEntry);
}

export function outboxStats(ctx: OpsContext): OutboxStatsDetail {
  return ctx.store.outbox.stats(ctx.now());
}

export function outboxOverview(ctx: OpsContext, p: OutboxListParams): OutboxOverview {
  const dl = ctx.store.deadLetters;
  return {
    stats: outboxStats(ctx),
    rows: listOutbox(ctx, p),
    deadLetters: { held: dl.count(), byReason: dl.countsByReason(), totals: dl.totalsByReason() },
  };
}

/**
 * Clears the attempt counts and last errors of waiting rows (of one class, or all), so the next drain
 * starts them afresh, and wakes the link.
 */
export function retryOutbox(ctx: OpsContext, p: { class?: OutboxClass | undefined }): OutboxRetryResult {
  const cls = p.class;
  const sql = `UPDATE outbox SET attempts = 0, last_error = NULL WHERE attempts > 0${cls ? ' AND class = ?' : ''}`;
  const stmt = ctx.store.db.prepare(sql);
  const reset = ctx.store.transaction(() => (cls ? stmt.run(cls) : stmt.run()).changes);
  ctx.link?.notify();
  return {
    reset,
    link: ctx.link ? (ctx.link.status().connected ? 'connected' : 'disconnected') : null,
  };
}

/** Deletes rows; never-shed classes only with `force` (the outbox enforces it too). */
export function purgeOutbox(
  ctx: OpsContext,
  p: { class?: OutboxClass | undefined; force: boolean },
): { purged: number } {
  if (p.class !== undefined && OUTBOX_POLICIES[p.class] === 'never-shed' && !p.force) {
    throw new OpError(
      `${p.class} rows are promises to neighbours (never shed): purge them only with --force`,
      'usage',
    );
  }
  return {
    purged: ctx.store.outbox.purge({ ...(p.class ? { class: p.class } : {}), force: p.force }, ctx.now()),
  };
}

import { requeueDeadLetter } from '../../store/dead-letter-ops.js';
import { type DeadLetterRetryResult, type DeadLetterView, deadLetterView } from '../../views/outbox.js';
import { OpError, type OpsContext } from './context.js';

export function listDeadLetters(
  ctx: OpsContext,
  p: { limit?: number | undefined; direction?: 'in' | 'out' | undefined },
): DeadLetterView[] {
  return ctx.store.deadLetters
    .list({ ...(p.limit ? { limit: p.limit } : {}), ...(p.direction ? { direction: p.direction } : {}) })
    .map(deadLetterView);
}

/**
 * Sends dead letters again: each one that is outbound and of a class that does not expire moves back
 * to the outbox with its original message id (receivers dedupe on it), in one transaction each; the
 * link is woken when any moved.
 */
export function retryDeadLetters(ctx: OpsContext, p: { ids: readonly number[] }): DeadLetterRetryResult {
  const result: DeadLetterRetryResult = { requeued: [], refused: [] };
  const now = ctx.now();
  for (const id of p.ids) {
    const r = requeueDeadLetter(ctx.store, id, now);
    if ('rowId' in r) result.requeued.push({ id, rowId: r.rowId });
    else result.refused.push({ id, reason: r.refused });
  }
  if (result.requeued.length > 0) ctx.link?.notify();
  return result;
}

/** Sends one dead letter again (`POST /api/dlq/{id}/retry`); refused: not found, or not retryable. */
export function retryDeadLetter(
  ctx: OpsContext,
  p: { id: number },
): { requeued: number; outboxRowId: number } {
  const r = requeueDeadLetter(ctx.store, p.id, ctx.now());
  if ('refused' in r)
    throw new OpError(r.missing ? `no dead letter ${p.id}` : r.refused, r.missing ? 'not-found' : 'conflict');
  ctx.link?.notify();
  return { requeued: p.id, outboxRowId: r.rowId };
}

/** Deletes the dead letters named, or all of them without `ids`. */
export function purgeDeadLetters(ctx: OpsContext, p: { ids?: number[] | undefined }): { purged: number } {
  return { purged: ctx.store.deadLetters.purge(p.ids) };
}

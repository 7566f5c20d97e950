import { resendTrade } from './authority.js';
import { sendAccept } from './buyer.js';
import type { StepContext } from './context.js';
import type { Deal, Durable } from './durable.js';
import { nextSettleAt, sendSettlement } from './settlement.js';
import { slotStart } from './slots.js';
import type { EngineConfig } from './types.js';

/**
 * Everything that happens because time passed rather than because a message arrived: accepts expire at gate
 * closure or are re-sent, unacknowledged trades and settlements are re-sent with backoff. Run only when the
 * earliest of these is due (see wakeAt), so an idle tick costs nothing here.
 */
export function fireTimers(d: Durable, ctx: StepContext): Durable {
  const { cfg, now } = ctx;
  let deals: Deal[] | null = null;
  d.deals.forEach((x, i) => {
    let y = x;
    if (y.role === 'buyer' && y.status === 'requested') {
      if (now >= y.slot) y = { ...y, status: 'expired', nextAt: null, ts: now };
      else if (y.nextAt !== null && y.nextAt <= now && y.accept) {
        sendAccept(ctx, y.accept);
        y = { ...y, nextAt: now + cfg.answerTimeoutMs };
      }
    }
    if (y.role === 'seller' && !y.acked && y.nextAt !== null && y.nextAt <= now) {
      resendTrade(ctx, y);
      const delayMs = Math.min(y.delayMs * 2, cfg.resendMaxMs);
      y = { ...y, delayMs, nextAt: now + delayMs };
    }
    if (y.ownAllocWh !== null && !y.settlementAcked && y.settleNextAt !== null && y.settleNextAt <= now) {
      sendSettlement(ctx, y, false);
      const settleDelayMs = Math.min(y.settleDelayMs * 2, cfg.resendMaxMs);
      y = { ...y, settleDelayMs, settleNextAt: now + settleDelayMs };
    }
    if (y !== x) {
      deals ??= d.deals.slice();
      deals[i] = y;
    }
  });
  return deals ? { ...d, deals } : d;
}

/** The earliest time a timer, a settlement or the slot boundary (pruning, expiry) needs a pass. */
export function wakeAt(d: Durable, cfg: EngineConfig, now: number): number {
  let at = slotStart(now, cfg.slotMs) + cfg.slotMs;
  for (const x of d.deals) {
    if (x.role === 'buyer' && x.status === 'requested') at = Math.min(at, x.slot);
    if (x.nextAt !== null && (x.status === 'requested' || !x.acked)) at = Math.min(at, x.nextAt);
    if (x.settleNextAt !== null && !x.settlementAcked) at = Math.min(at, x.settleNextAt);
    const settle = nextSettleAt(x, cfg.slotMs, cfg.settleDelayMs);
    if (settle !== null) at = Math.min(at, settle);
  }
  return at;
}

import { createHash } from 'node:crypto';
import type { Command, Engine } from '../../src/engine/types.js';
import type { WireMessage } from '../../src/neighbourhood/index.js';

/**
 * Deliberately broken parts, to prove the invariant checks catch what they are meant to catch.
 */

/** A UUIDv7 made from `ms` and a hash of `key` (deterministic, like the engine's ids). */
function uuidFrom(ms: number, key: string): string {
  const h = createHash('sha256').update(key).digest();
  const b = Buffer.alloc(16);
  b.writeUIntBE(ms, 0, 6);
  h.copy(b, 6, 0, 10);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * A seller that never refuses: every reject the real engine decides becomes a trade for all the energy
 * asked, without the sale being recorded or the offer decremented.
 */
export function oversellingEngine(inner: Engine): Engine {
  return {
    config: inner.config,
    initial: (now) => inner.initial(now),
    restore: (durable, now) => inner.restore(durable, now),
    step(state, event, now) {
      const result = inner.step(state, event, now);
      if (event.kind !== 'message' || event.message.type !== 'accept') return result;
      const accept = event.message.body;
      const buyer = event.message.from;
      const commands = result.commands.map((c): Command => {
        if (c.kind !== 'send' || c.message.type !== 'reject') return c;
        return {
          kind: 'send',
          message: {
            type: 'trade',
            id: c.message.id,
            to: { inbox: buyer },
            class: 'trade',
            ...(c.message.corr !== undefined ? { corr: c.message.corr } : {}),
            body: {
              tradeId: uuidFrom(now, `oversold/${accept.acceptId}`),
              acceptId: accept.acceptId,
              seller: inner.config.homeId,
              buyer,
              slot: accept.slot,
              slotMs: inner.config.slotMs,
              version: accept.version,
              energyWh: accept.energyWh,
              priceCentsPerKwh: inner.config.priceCentsPerKwh,
              confirmedAt: now,
            },
          },
        };
      });
      return { state: result.state, commands };
    },
  };
}

/** A network that changes one figure of every message of `type` sent to an inbox, keeping the rest. */
export function rewriting(type: 'trade' | 'settlement'): (msg: WireMessage) => Buffer {
  return (msg) => {
    if (msg.type !== type || !msg.topic.endsWith('/inbox')) return msg.payload;
    const env = JSON.parse(msg.payload.toString('utf8')) as { body: Record<string, number> };
    if (type === 'trade') env.body.energyWh = (env.body.energyWh ?? 0) + 1;
    else env.body.allocatedWh = (env.body.allocatedWh ?? 0) + 7;
    return Buffer.from(JSON.stringify(env));
  };
}

/**
 * An engine with memory outside its state: the first accept it sees in this process is ignored. Two runs
 * of the same seed in one process then differ, which the determinism check must notice.
 */
export function forgetfulOnce(): (inner: Engine) => Engine {
  let forgot = false;
  return (inner) => ({
    config: inner.config,
    initial: (now) => inner.initial(now),
    restore: (durable, now) => inner.restore(durable, now),
    step(state, event, now) {
      if (!forgot && event.kind === 'message' && event.message.type === 'accept') {
        forgot = true;
        return { state, commands: [] };
      }
      return inner.step(state, event, now);
    },
  });
}

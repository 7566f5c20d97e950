import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/types.js';
import { checkInvariants, NO_FAULTS, runNeighbourhood } from '../../src/neighbourhood/index.js';

/**
 * Neighbours' offers live in memory only: a home that restarts relearns them from the retained offers the
 * broker delivers when it subscribes again, which its inbox takes although it saw their ids before.
 */
describe('a restarted home relearns the market from the retained offers', () => {
  it('the retained offers reach its engine again after each restart, and offers never touch the durable state', async () => {
    const stats = { restores: 0, offers: 0, relearned: 0, durableChanged: 0, newAcceptsAfterRestart: 0 };
    const homes = new Map<
      string,
      { restores: number; restoredAt: number | null; offers: Map<string, number>; accepts: Set<string> }
    >();
    const home = (id: string) => {
      let h = homes.get(id);
      if (!h) {
        h = { restores: 0, restoredAt: null, offers: new Map(), accepts: new Set() };
        homes.set(id, h);
      }
      return h;
    };
    const watch = (inner: Engine, homeId: string): Engine => ({
      config: inner.config,
      initial: (now) => inner.initial(now),
      restore: (durable, now) => {
        const h = home(homeId);
        stats.restores++;
        h.restores++;
        h.restoredAt = now;
        return inner.restore(durable, now);
      },
      step(state, event, now) {
        const h = home(homeId);
        const result = inner.step(state, event, now);
        if (event.kind === 'message' && event.message.type === 'offer') {
          stats.offers++;
          // Seen before the last restart: the broker delivered the retained offer again.
          const at = h.offers.get(event.message.id);
          if (at !== undefined && at < h.restores) stats.relearned++;
          h.offers.set(event.message.id, h.restores);
          if (result.state.durable !== state.durable) stats.durableChanged++;
        }
        for (const c of result.commands) {
          if (c.kind !== 'send' || c.message.type !== 'accept') continue;
          const fresh = !h.accepts.has(c.message.body.acceptId);
          h.accepts.add(c.message.body.acceptId);
          // A new request soon after a restart: made from offers learned since (the market starts empty).
          if (fresh && h.restoredAt !== null && now - h.restoredAt < 10 * 60_000)
            stats.newAcceptsAfterRestart++;
        }
        return result;
      },
    });
    // Only crashes: no lost, duplicated or replayed deliveries.
    const report = await runNeighbourhood({
      seed: 5,
      homes: 6,
      hours: 2,
      faults: { ...NO_FAULTS, crashesPerHomeHour: 1.5, downMs: [5_000, 60_000] },
      clearSky: true,
      startHour: 11,
      wrapEngine: watch,
    });
    expect(checkInvariants(report).violations).toEqual([]);
    expect(stats.restores).toBeGreaterThan(3);
    expect(stats.offers).toBeGreaterThan(100);
    expect(stats.relearned).toBeGreaterThan(0);
    expect(stats.durableChanged).toBe(0);
    expect(stats.newAcceptsAfterRestart).toBeGreaterThan(0);
    expect(report.deadLetters.duplicate ?? 0).toBe(0);
  });
});

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

/**
 * On a broker that never replays retained messages to a wildcard subscription (RabbitMQ 3.10), a home
 * that restarts learns the open offers of the slot it trades only from the copies its offer request
 * brings into its inbox. Without the request (an engine that never sees `connected`) it learns none of
 * them until the sellers revise or the next slot opens.
 */
describe('offer requests stand in for retained delivery to a wildcard', () => {
  async function relearned(withRequests: boolean) {
    const seen = { restores: 0, earlierOffersLearned: 0, requests: 0, answers: 0 };
    /** Per home: the last step before its latest restart (when it died, to the cycle). */
    const diedAt = new Map<string, number>();
    const lastStep = new Map<string, number>();
    const restoredAt = new Map<string, number>();
    /** When each offer revision (seller/slot/version) was last sent (a restarted seller sends it again). */
    const publishedAt = new Map<string, number>();
    const wrap = (inner: Engine, homeId: string): Engine => ({
      config: inner.config,
      initial: (now) => inner.initial(now),
      restore: (durable, now) => {
        seen.restores++;
        restoredAt.set(homeId, now);
        diedAt.set(homeId, lastStep.get(homeId) ?? now);
        return inner.restore(durable, now);
      },
      step(state, event, now) {
        lastStep.set(homeId, now);
        if (event.kind === 'connected' && !withRequests) return { state, commands: [] };
        const result = inner.step(state, event, now);
        for (const c of result.commands) {
          if (c.kind !== 'send') continue;
          if (c.message.type === 'offer-request') seen.requests++;
          if (c.message.type !== 'offer') continue;
          if ('inbox' in c.message.to) {
            seen.answers++;
            continue;
          }
          const key = `${homeId}/${c.message.body.slot}/${c.message.body.version}`;
          publishedAt.set(key, now);
        }
        const at = restoredAt.get(homeId);
        const died = diedAt.get(homeId);
        if (
          at !== undefined &&
          died !== undefined &&
          event.kind === 'message' &&
          event.message.type === 'offer'
        ) {
          // Published (and delivered) well before this home died, so its session holds no copy: learned again
          // within a minute of the restart.
          const m = event.message;
          const published = publishedAt.get(`${m.from}/${m.body.slot}/${m.body.version}`);
          if (published !== undefined && published < died - 30_000 && now - at < 60_000)
            seen.earlierOffersLearned++;
        }
        return result;
      },
    });
    const report = await runNeighbourhood({
      seed: 5,
      homes: 6,
      hours: 2,
      faults: {
        ...NO_FAULTS,
        legacyBroker: true,
        noRetainedToWildcard: true,
        crashesPerHomeHour: 1.5,
        downMs: [5_000, 60_000],
      },
      clearSky: true,
      startHour: 11,
      wrapEngine: wrap,
    });
    expect(checkInvariants(report).violations).toEqual([]);
    return { seen, trades: report.trades };
  }

  it('a restarted home gets the open offers through its request, and gets none without it', async () => {
    const withRequests = await relearned(true);
    const without = await relearned(false);
    expect(withRequests.seen.restores).toBeGreaterThan(3);
    expect(withRequests.seen.requests).toBeGreaterThan(0);
    expect(withRequests.seen.answers).toBeGreaterThan(0);
    expect(withRequests.seen.earlierOffersLearned).toBeGreaterThan(0);
    expect(without.seen.requests).toBe(0);
    expect(without.seen.earlierOffersLearned).toBe(0);
  });
});
